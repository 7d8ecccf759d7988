/** meta.k8s.io/v1 Table, the form kubectl asks for to print `get` output. */
export interface TableColumn {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface Table {
  kind: "Table";
  apiVersion: "meta.k8s.io/v1";
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  columnDefinitions: TableColumn[];
  rows: { cells: unknown[]; object: unknown }[];
}

/** True when the Accept header asks for a Table (kubectl get does, with JSON as the fallback). */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(",").some((part) => {
    // Parameters compared whole: "v=v1" must not match inside "v=v1beta1".
    const params = new Set(part.replace(/\s+/g, "").toLowerCase().split(";").slice(1));
    const version = [...params].find((p) => p.startsWith("v="));
    return (
      params.has("as=table") && params.has("g=meta.k8s.io") && (version === undefined || version === "v=v1")
    );
  });
}

/**
 * kubectl's short ages: "45s", "12m", "3h5m", "2d", "3y45d", the same thresholds as apimachinery's
 * duration.HumanDuration.
 */
export function humanDuration(ms: number): string {
  // Go's int(d.Seconds()) truncates toward zero: up to 2 s of clock skew still reads "0s".
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.floor(hours / 24);
    const d = days % 365;
    return d === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${d}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

export function age(creationTimestamp: string | undefined, now = Date.now()): string {
  if (!creationTimestamp) return "<unknown>";
  return humanDuration(now - Date.parse(creationTimestamp));
}

/** Row object as the apiserver includes it by default: the item's metadata only. */
export function partialObjectMetadata(metadata: unknown) {
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata };
}

/**
 * The apiserver's namespace Table columns (k8s.io/kubernetes pkg/printers/internalversion, v1.33):
 * descriptions are metav1.ObjectMeta's swagger docs for name and creationTimestamp.
 */
export const NAMESPACE_COLUMNS: readonly TableColumn[] = Object.freeze([
  {
    name: "Name",
    type: "string",
    format: "name",
    description:
      "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    priority: 0,
  },
  { name: "Status", type: "string", format: "", description: "The status of the namespace", priority: 0 },
  {
    name: "Age",
    type: "string",
    format: "",
    description:
      "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    priority: 0,
  },
]);
