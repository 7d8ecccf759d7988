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

export interface Tenant extends KubeObject {
  spec: {
    owners?: Owner[];
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
