import type { UserInfo } from "../authn/user.ts";
import type { Informer, KubeObject } from "../kube/informer.ts";
import type { Reviews } from "../kube/reviews.ts";
import { age, NAMESPACE_COLUMNS, partialObjectMetadata, type Table } from "../kube/table.ts";
import { parseLabelSelector, SelectorError } from "../selectors/labels.ts";
import { badRequest, forbidden, StatusError, status } from "../status/status.ts";

export interface Namespace extends KubeObject {
  metadata: KubeObject["metadata"] & { creationTimestamp?: string; uid?: string };
  status?: { phase?: string };
}

export interface ListQuery {
  labelSelector?: string;
  limit?: string;
  continue?: string;
}

/** Extra visibility the tenancy model adds on top of the team label (tenants, RoleBindings), per user. */
export type NamespaceVisibility = (user: UserInfo) => (ns: Namespace) => boolean;

export interface NamespaceView {
  informer: Informer<Namespace>;
  reviews: Reviews;
  teamLabel?: string;
  extraVisibility?: NamespaceVisibility;
}

/**
 * The namespaces a user may see: every one when RBAC lets the user list namespaces (a
 * SubjectAccessReview, so RBAC stays the only authority); otherwise those whose team label names one of
 * the user's groups (seed 000), plus what the tenancy model grants.
 */
export async function visibleNamespaces(view: NamespaceView, user: UserInfo): Promise<Namespace[]> {
  const decision = await view.reviews.subjectAccessReview(user, {
    resource: { verb: "list", group: "", resource: "namespaces" },
  });
  await view.informer.synced;
  const all = [...view.informer.list()];
  if (decision.allowed) return all;
  const groups = new Set(user.groups);
  const extra = view.extraVisibility?.(user);
  return all.filter((ns) => {
    const team = view.teamLabel ? ns.metadata.labels?.[view.teamLabel] : undefined;
    if (team !== undefined && groups.has(team)) return true;
    return extra?.(ns) ?? false;
  });
}

const byName = (a: Namespace, b: Namespace) =>
  a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;

function decodeContinue(token: string): string {
  const name = Buffer.from(token, "base64url").toString("utf8");
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) throw badRequest("invalid continue token");
  return name;
}

/** A NamespaceList page: label selector applied, sorted by name, limit/continue like the apiserver. */
export function namespaceList(items: Namespace[], q: ListQuery, resourceVersion: string) {
  let selected = items;
  if (q.labelSelector) {
    try {
      const selector = parseLabelSelector(q.labelSelector);
      selected = selected.filter((ns) => selector.matches(ns.metadata.labels ?? {}));
    } catch (err) {
      if (err instanceof SelectorError) throw badRequest(`unable to parse requirement: ${err.message}`);
      throw err;
    }
  }
  selected = [...selected].sort(byName);
  if (q.continue) {
    const after = decodeContinue(q.continue);
    selected = selected.filter((ns) => ns.metadata.name > after);
  }
  const limit = q.limit === undefined ? 0 : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 0)
    throw badRequest(`limit must be a non-negative integer, not "${q.limit}"`);
  const metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number } = {
    resourceVersion,
  };
  if (limit > 0 && selected.length > limit) {
    const last = selected[limit - 1] as Namespace;
    metadata.continue = Buffer.from(last.metadata.name).toString("base64url");
    metadata.remainingItemCount = selected.length - limit;
    selected = selected.slice(0, limit);
  }
  return {
    kind: "NamespaceList" as const,
    apiVersion: "v1" as const,
    metadata,
    items: selected.map((ns) => ({ ...ns, apiVersion: "v1", kind: "Namespace" })),
  };
}

/** The Table kube-apiserver prints for namespaces: NAME, STATUS, AGE. */
export function namespaceTable(list: ReturnType<typeof namespaceList>, now = Date.now()): Table {
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: list.metadata,
    columnDefinitions: [...NAMESPACE_COLUMNS],
    rows: list.items.map((ns) => ({
      cells: [ns.metadata.name, ns.status?.phase ?? "", age(ns.metadata.creationTimestamp, now)],
      object: partialObjectMetadata(ns.metadata),
    })),
  };
}

export function notFound(name: string): StatusError {
  return new StatusError(status(404, `namespaces "${name}" not found`, { name, kind: "namespaces" }));
}

export function forbiddenList(user: UserInfo): StatusError {
  return forbidden(`mynamespace is forbidden: User "${user.name}" cannot list namespaces`);
}
