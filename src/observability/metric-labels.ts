// Metric labels come from closed sets only: a client chooses its path, its method and its verb, and
// each distinct label value is a new series kept for the life of the process (issue #17, item 11).
// Resources the gateway does not know, and every request that did not authenticate, are counted
// without anything taken from the path.

/** Built-in resources of kube-apiserver, kubegate's own, and custom.api.local's. */
const KNOWN_RESOURCES = new Set(
  `bindings componentstatuses configmaps endpoints events limitranges namespaces nodes persistentvolumeclaims
  persistentvolumes pods podtemplates replicationcontrollers resourcequotas secrets serviceaccounts services
  mutatingwebhookconfigurations validatingwebhookconfigurations validatingadmissionpolicies
  validatingadmissionpolicybindings customresourcedefinitions apiservices controllerrevisions daemonsets
  deployments replicasets statefulsets tokenreviews localsubjectaccessreviews selfsubjectaccessreviews
  selfsubjectrulesreviews subjectaccessreviews selfsubjectreviews horizontalpodautoscalers cronjobs jobs
  certificatesigningrequests leases endpointslices flowschemas prioritylevelconfigurations ingressclasses
  ingresses networkpolicies runtimeclasses poddisruptionbudgets clusterrolebindings clusterroles
  rolebindings roles priorityclasses csidrivers csinodes csistoragecapacities storageclasses
  volumeattachments tenants proxysettings mynamespace whoami`.split(/\s+/),
);

const VERBS = new Set([
  "get",
  "list",
  "watch",
  "create",
  "update",
  "patch",
  "delete",
  "deletecollection",
  "proxy",
  "head",
  "options",
  "post",
  "put",
]);

/** The verb label: a Kubernetes verb or an HTTP method, else "other". */
export function verbLabel(verb: string): string {
  return VERBS.has(verb) ? verb : "other";
}

/** The resource label: "" for unauthenticated and non-resource requests, "other" for unknown names. */
export function resourceLabel(resource: string, authenticated: boolean): string {
  if (!authenticated || resource === "") return "";
  return KNOWN_RESOURCES.has(resource) ? resource : "other";
}

/** HTTP status codes are numbers the gateway or the apiserver chose; anything outside 100-599 is one bucket. */
export function codeLabel(code: number): string {
  return Number.isInteger(code) && code >= 100 && code <= 599 ? String(code) : "other";
}
