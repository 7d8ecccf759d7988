import type { KubeObject } from "../kube/informer.ts";
import type { Operation, ProxyKind } from "../resources/kinds.ts";
import type { LabelSelectorObject } from "../selectors/labels.ts";

export const TENANCY_GROUP = "tenancy.kubegate.dev";
export const TENANCY_VERSION = "v1beta1";

export interface ProxySettingEntry {
  kind: ProxyKind;
  operations?: Operation[];
}

export interface Subject {
  kind: "User" | "Group" | "ServiceAccount";
  name: string;
  /** ServiceAccount only. */
  namespace?: string;
}

export interface Owner extends Subject {
  proxySettings?: ProxySettingEntry[];
}

/** Which objects of a class kind a tenant may see: a label selector wins over names and the regex. */
export interface ClassSelection {
  allowed?: string[];
  allowedRegex?: string;
  selector?: LabelSelectorObject;
}

/**
 * A cluster-scoped kind outside the built-in table (a CRD such as a GlobalProxySettings, or any
 * cluster-scoped resource discovery lists) that the Tenant's owners may reach: the objects its
 * selection picks, with its operations. Granted to owners only; ProxySettings do not pass it on.
 */
export interface ClusterResource extends ClassSelection {
  /** API group; the core group and the groups of UNCONFIGURABLE_GROUPS are refused. */
  group: string;
  /** Plural resource name, as discovery and the URL say it. */
  resource: string;
  /** Default: List (list, get, watch). */
  operations?: Operation[];
  /**
   * What an Update may change (dotted paths, e.g. spec.size); "metadata.labels" and
   * "metadata.annotations" open unprefixed keys of those. Nothing else: deny by default.
   */
  writable?: string[];
}

export interface Tenant extends KubeObject {
  spec: {
    owners?: Owner[];
    clusterResources?: ClusterResource[];
    nodeSelector?: Record<string, string>;
    storageClasses?: ClassSelection;
    ingressClasses?: ClassSelection;
    priorityClasses?: ClassSelection;
    runtimeClasses?: ClassSelection;
  };
}

/** Granted by tenant owners, in one of the tenant's namespaces, to subjects who are not owners. */
export interface ProxySetting extends KubeObject {
  spec: { subjects?: Subject[]; proxySettings?: ProxySettingEntry[] };
}

export interface RoleBinding extends KubeObject {
  subjects?: { kind: string; name: string; namespace?: string }[];
}
