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
  | "PersistentVolumes";

export type Operation = "List" | "Update" | "Delete";

export interface FilteredKind {
  kind: ProxyKind;
  group: string;
  resource: string;
  /** How a tenant selects objects of this kind. */
  selection: "namespace" | "nodeSelector" | "classes" | "tenantLabel";
  /** The Tenant spec field that holds the class selection, for "classes". */
  specField?: "storageClasses" | "ingressClasses" | "priorityClasses" | "runtimeClasses";
}

export const FILTERED_KINDS: readonly FilteredKind[] = [
  { kind: "Namespaces", group: "", resource: "namespaces", selection: "namespace" },
  { kind: "Nodes", group: "", resource: "nodes", selection: "nodeSelector" },
  {
    kind: "StorageClasses",
    group: "storage.k8s.io",
    resource: "storageclasses",
    selection: "classes",
    specField: "storageClasses",
  },
  {
    kind: "IngressClasses",
    group: "networking.k8s.io",
    resource: "ingressclasses",
    selection: "classes",
    specField: "ingressClasses",
  },
  {
    kind: "PriorityClasses",
    group: "scheduling.k8s.io",
    resource: "priorityclasses",
    selection: "classes",
    specField: "priorityClasses",
  },
  {
    kind: "RuntimeClasses",
    group: "node.k8s.io",
    resource: "runtimeclasses",
    selection: "classes",
    specField: "runtimeClasses",
  },
  { kind: "PersistentVolumes", group: "", resource: "persistentvolumes", selection: "tenantLabel" },
];

const BY_RESOURCE = new Map(FILTERED_KINDS.map((k) => [`${k.group}/${k.resource}`, k]));

export function filteredKind(group: string, resource: string): FilteredKind | undefined {
  return BY_RESOURCE.get(`${group}/${resource}`);
}
