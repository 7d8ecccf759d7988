// What a write that the tenancy model grants may change. Such writes are sent with the gateway's own
// identity, so kube-apiserver's RBAC no longer bounds them: this policy does, deny by default.
//
//   - unprefixed labels and annotations, where the kind allows them (node labels steer every tenant's
//     scheduling, so nodes take none); prefixed keys are the cluster's: kubernetes.io, k8s.io,
//     policy engines' opt-outs, controllers' settings. Exceptions: the tenant and team labels, and
//     kubectl's own last-applied-configuration annotation, which client-side apply writes;
//   - the few fields outside metadata that the kinds table lists as writable for the kind;
//   - nothing else: not finalizers, not ownerReferences, not any other spec field.
// The tenant label has a rule of its own (guarded-write.ts): it never moves to or from a tenant the
// user does not own.
import { isDeepStrictEqual } from "node:util";
import type { KubeObject } from "../kube/informer.ts";
import { type FilteredKind, tenantLabelled } from "../resources/kinds.ts";

/** Metadata the apiserver sets itself; a write neither can nor needs to change it. */
const SERVER_METADATA = new Set([
  "resourceVersion",
  "managedFields",
  "generation",
  "uid",
  "creationTimestamp",
]);
// Not status: a kind without a status subresource (many CRDs) stores it through the main endpoint,
// so it is compared like any field; the built-in kinds ignore it there, so it never differs for them.
const OUTSIDE_SPEC = new Set(["apiVersion", "kind", "metadata"]);
const KUBECTL_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
/** Set by the apiserver on every namespace, to its name. */
const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

/**
 * Whether a label or annotation key is outside a tenant's say. Deny by default: every key with a
 * prefix (`example.com/x`) belongs to whoever owns that domain, and those keys are what Kubernetes
 * (`kubernetes.io`, `k8s.io`), policy engines (`admission.gatekeeper.sh/ignore`, `pod-security...`),
 * schedulers and controllers read. Unprefixed keys are the user's own, by Kubernetes' convention.
 * `allowed` names the prefixed keys kubegate itself gives tenants (the tenant and team labels).
 */
export function reservedKey(key: string, allowed: ReadonlySet<string> = new Set()): boolean {
  return key.includes("/") && !allowed.has(key);
}

/** The prefixed keys a tenant write may carry: the tenant label (its own rule applies) and the team label. */
export interface OwnKeys {
  tenantLabel: string;
  teamLabel?: string | undefined;
}

type Metadata = KubeObject["metadata"] & Record<string, unknown>;
const metadataOf = (o: KubeObject | undefined): Metadata => (o?.metadata ?? {}) as Metadata;

/** The keys of a label or annotation map whose value differs between the two. */
function changedKeys(before: Record<string, string> = {}, after: Record<string, string> = {}): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => before[k] !== after[k]);
}

function withoutPaths(o: Record<string, unknown>, paths: readonly string[]): Record<string, unknown> {
  const copy = structuredClone(o);
  for (const path of paths) {
    const parts = path.split(".");
    let at: unknown = copy;
    for (const p of parts.slice(0, -1)) at = (at as Record<string, unknown> | undefined)?.[p];
    if (at && typeof at === "object") delete (at as Record<string, unknown>)[parts.at(-1) as string];
  }
  for (const k of OUTSIDE_SPEC) delete copy[k];
  return copy;
}

function taintKeys(o: KubeObject | undefined): Map<string, string> {
  const taints = ((o as { spec?: { taints?: unknown } } | undefined)?.spec?.taints ?? []) as {
    key?: string;
    value?: string;
    effect?: string;
  }[];
  return new Map(
    (Array.isArray(taints) ? taints : []).map((t) => [
      `${t.key}:${t.effect}`,
      `${t.key ?? ""}=${t.value ?? ""}`,
    ]),
  );
}

/**
 * Why the change from `before` (undefined: a new object) to `after` exceeds a tenant grant, or
 * undefined when it stays within it. `after` is the apiserver's dry-run result, so defaults and
 * merge semantics are already applied.
 */
export function writeViolation(
  kind: FilteredKind,
  before: KubeObject | undefined,
  after: KubeObject,
  own: OwnKeys,
): string | undefined {
  const b = metadataOf(before);
  const a = metadataOf(after);
  // The tenant and team labels have rules of their own only where they decide ownership (guarded-write.ts):
  // elsewhere they are prefixed keys like any other, or a tenant could push an object into another's
  // label selection.
  const allowed = new Set(
    tenantLabelled(kind) ? [own.tenantLabel, ...(own.teamLabel ? [own.teamLabel] : [])] : [],
  );
  for (const field of ["labels", "annotations"] as const) {
    for (const key of changedKeys(b[field] as Record<string, string>, a[field] as Record<string, string>)) {
      if (field === "annotations" && key === KUBECTL_LAST_APPLIED) continue;
      if (field === "labels" && key === NAMESPACE_NAME_LABEL && a.labels?.[key] === a.name) continue;
      const noun = field === "labels" ? "label" : "annotation";
      if (!kind.writableMetadata.includes(field)) return `may not change ${noun}s of ${kind.resource}`;
      if (reservedKey(key, field === "labels" ? allowed : new Set()))
        return `may not set the ${noun} "${key}" (prefixed keys belong to the cluster's administrators)`;
    }
  }
  const metadataKeys = new Set([...Object.keys(b), ...Object.keys(a)]);
  for (const key of metadataKeys) {
    if (SERVER_METADATA.has(key) || key === "labels" || key === "annotations") continue;
    // A new object's name comes from the request, not from an earlier version.
    if (!before && (key === "name" || key === "generateName")) continue;
    if (!isDeepStrictEqual(b[key], a[key])) return `may not ${before ? "change" : "set"} metadata.${key}`;
  }
  if (before && kind.writable.includes("spec.taints")) {
    const was = taintKeys(before);
    const now = taintKeys(after);
    for (const [id, text] of [...was, ...now]) {
      if (was.get(id) !== now.get(id) && reservedKey(text.split("=")[0] as string))
        return `may not change the taint "${text.split("=")[0]}" (reserved for the cluster's administrators)`;
    }
  }
  const rest = (o: KubeObject | undefined) =>
    withoutPaths((o ?? {}) as unknown as Record<string, unknown>, before ? kind.writable : []);
  const was = rest(before);
  const now = rest(after);
  for (const key of new Set([...Object.keys(was), ...Object.keys(now)])) {
    // A new object may carry what the apiserver defaults; the caller checks those it cares about.
    if (!before) continue;
    if (!isDeepStrictEqual(was[key], now[key])) {
      const allowed = kind.writable.length ? ` (writable: ${kind.writable.join(", ")})` : "";
      return `may not change ${key}${allowed}`;
    }
  }
  return undefined;
}
