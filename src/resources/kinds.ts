/**
 * The one table of cluster-scoped kinds kubegate filters per tenant. Routing, the tenancy index, the
 * CRD's proxySettings enum and the tests all read it, so a kind is added in one place.
 */
export type ProxyKind =
  | "Namespaces"
  | "Nodes"
  | "StorageClasses"
  | "IngressClasses"
  | "PriorityClasses"
  | "RuntimeClasses"
  | "PersistentVolumes"
  | "Tenants";

export type Operation = "List" | "Update" | "Delete";

export interface FilteredKind {
  /** The table's name, or for a kind a Tenant configures, "resource.group" (configuredKindName). */
  kind: ProxyKind | string;
  group: string;
  resource: string;
  /** The version the gateway reads it at when it names no path itself (the table's kinds: v1). */
  version?: string;
  /**
   * How a tenant selects objects of this kind; "configured": by the names, regex or label selector
   * of the Tenant's own clusterResources entry for it.
   */
  selection: "namespace" | "nodeSelector" | "classes" | "tenantLabel" | "ownTenant" | "configured";
  /** The Tenant spec field that holds the class selection, for "classes". */
  specField?: "storageClasses" | "ingressClasses" | "priorityClasses" | "runtimeClasses";
  /**
   * Fields outside metadata a write granted by the tenancy model may change (dotted paths). Everything
   * else but labels and annotations (see tenancy/write-policy.ts) must stay as it is: deny by default.
   */
  writable: readonly string[];
  /** Which of labels and annotations a granted write may change (unprefixed keys only). */
  writableMetadata: readonly ("labels" | "annotations")[];
  /**
   * The tenancy index's informer holds every object of the kind, always: a tenant's list or watch is
   * answered from it (one upstream watch for every tenant) instead of being read upstream each time.
   */
  heldByIndex?: true;
}

/** Kinds whose objects carry the tenant label that decides who owns them (namespaces, volumes). */
export const tenantLabelled = (kind: FilteredKind): boolean =>
  kind.selection === "namespace" || kind.selection === "tenantLabel";

export const FILTERED_KINDS: readonly FilteredKind[] = [
  {
    kind: "Namespaces",
    group: "",
    resource: "namespaces",
    selection: "namespace",
    writable: [],
    writableMetadata: ["labels", "annotations"],
    heldByIndex: true,
  },
  // Cordon and taints; reserved taint keys are refused by the write policy.
  {
    kind: "Nodes",
    group: "",
    resource: "nodes",
    selection: "nodeSelector",
    writable: ["spec.unschedulable", "spec.taints"],
    // Not labels: pods of every tenant select nodes by them.
    writableMetadata: ["annotations"],
  },
  {
    kind: "StorageClasses",
    group: "storage.k8s.io",
    resource: "storageclasses",
    selection: "classes",
    specField: "storageClasses",
    writable: ["allowVolumeExpansion"],
    writableMetadata: ["labels", "annotations"],
  },
  {
    kind: "IngressClasses",
    group: "networking.k8s.io",
    resource: "ingressclasses",
    selection: "classes",
    specField: "ingressClasses",
    writable: [],
    writableMetadata: ["labels", "annotations"],
  },
  {
    kind: "PriorityClasses",
    group: "scheduling.k8s.io",
    resource: "priorityclasses",
    selection: "classes",
    specField: "priorityClasses",
    // Not globalDefault: that changes every pod of the cluster.
    writable: ["description"],
    writableMetadata: ["labels", "annotations"],
  },
  {
    kind: "RuntimeClasses",
    group: "node.k8s.io",
    resource: "runtimeclasses",
    selection: "classes",
    specField: "runtimeClasses",
    writable: [],
    writableMetadata: ["labels", "annotations"],
  },
  {
    kind: "PersistentVolumes",
    group: "",
    resource: "persistentvolumes",
    selection: "tenantLabel",
    // Not claimRef: binding a volume to a claim is how it would reach another tenant's namespace.
    writable: ["spec.persistentVolumeReclaimPolicy", "spec.mountOptions"],
    writableMetadata: ["labels", "annotations"],
  },
  // Tenant owners see their own Tenant objects (list, get, watch), never others', and never change
  // them through the gateway: no operation but List is ever granted for this kind.
  {
    kind: "Tenants",
    group: "tenancy.kubegate.dev",
    resource: "tenants",
    selection: "ownTenant",
    writable: [],
    writableMetadata: [],
  },
];

/** Kinds a Tenant's or ProxySetting's proxySettings may grant (the CRDs' enum): not these two. */
export const grantable = (kind: FilteredKind): boolean =>
  kind.selection !== "namespace" && kind.selection !== "ownTenant";

/** The name a kind named by a Tenant's clusterResources has in grants and messages. */
export const configuredKindName = (group: string, resource: string) => `${resource}.${group}`;

/**
 * Groups no Tenant may configure: their objects decide who may do what in the whole cluster (RBAC,
 * admission, API registration, reviews, certificates, request priorities, kubegate's own tenancy), so
 * a tenant grant on them would be an escalation, whatever the selection says. The core group too: its
 * cluster-scoped kinds are in the table above or are the cluster's alone.
 */
export const UNCONFIGURABLE_GROUPS: ReadonlySet<string> = new Set([
  "",
  "rbac.authorization.k8s.io",
  "admissionregistration.k8s.io",
  "apiextensions.k8s.io",
  "apiregistration.k8s.io",
  "authentication.k8s.io",
  "authorization.k8s.io",
  "certificates.k8s.io",
  "flowcontrol.apiserver.k8s.io",
  "tenancy.kubegate.dev",
]);

const BY_RESOURCE = new Map(FILTERED_KINDS.map((k) => [`${k.group}/${k.resource}`, k]));

export function filteredKind(group: string, resource: string): FilteredKind | undefined {
  return BY_RESOURCE.get(`${group}/${resource}`);
}
