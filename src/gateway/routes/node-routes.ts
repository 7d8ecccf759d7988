// The routes `kubectl describe node` needs besides the node itself, for a tenant who sees the node
// through the tenancy model but has no RBAC on nodes: the pods running on it, its Lease in
// kube-node-lease, and its metrics (metrics.k8s.io, when that API exists). Each is answered only for a
// node the user may see; anything else goes to the apiserver as the user.
import type { UserInfo } from "../../authn/user.ts";
import type { KubeObject } from "../../kube/informer.ts";
import type { RequestInfo } from "../../kube/request-info.ts";
import { type FilteredKind, filteredKind } from "../../resources/kinds.ts";
import { exactMatch, parseFieldSelector } from "../../selectors/fields.ts";
import { forbidden } from "../../status/status.ts";
import { sendAnswer, sendJson } from "../respond.ts";
import type { TenancyContext, TenantRequest } from "../types.ts";
import { filterBody } from "./filter-body.ts";
import { jsonAccept, queryOf, rawPath, tenancyRoute } from "./tenancy.ts";

const NODES = filteredKind("", "nodes") as FilteredKind;
export const NODE_LEASE_NAMESPACE = "kube-node-lease";

/** The node a cluster-wide pod list is restricted to (`spec.nodeName=X`), if any. */
export function podListNode(info: RequestInfo): string | undefined {
  if (!info.isResourceRequest || info.apiGroup !== "" || info.resource !== "pods") return undefined;
  if (info.namespace !== "" || info.name !== "" || info.subresource !== "" || info.verb !== "list")
    return undefined;
  const text = info.query.get("fieldSelector");
  if (!text) return undefined;
  try {
    return exactMatch(parseFieldSelector(text), "spec.nodeName") || undefined;
  } catch {
    return undefined; // the apiserver will say what is wrong with it
  }
}

function leaseNode(info: RequestInfo): string | undefined {
  const lease =
    info.isResourceRequest &&
    info.apiGroup === "coordination.k8s.io" &&
    info.resource === "leases" &&
    info.namespace === NODE_LEASE_NAMESPACE &&
    info.subresource === "" &&
    info.verb === "get";
  return lease && info.name ? info.name : undefined;
}

function isNodeMetrics(info: RequestInfo): boolean {
  return (
    info.isResourceRequest &&
    info.apiGroup === "metrics.k8s.io" &&
    info.resource === "nodes" &&
    info.namespace === "" &&
    info.subresource === "" &&
    (info.verb === "get" || info.verb === "list")
  );
}

/** Node names this user may see, or undefined when the tenancy model grants no nodes. */
async function visibleNodes(
  t: TenancyContext,
  user: UserInfo,
): Promise<((name: string) => boolean) | undefined> {
  const { granted, visible } = t.index.visibility(user, NODES, "List");
  if (!granted) return undefined;
  const nodes = await t.index.allNodes();
  return (name) => {
    const node = nodes.get(name);
    return node !== undefined && visible(node);
  };
}

/** The namespaces of the objects in a list or a Table. */
export function namespacesIn(body: Record<string, unknown>): string[] {
  const metadata =
    body.kind === "Table" && Array.isArray(body.rows)
      ? (body.rows as { object?: Partial<KubeObject> }[]).map((r) => r.object?.metadata)
      : Array.isArray(body.items)
        ? (body.items as Partial<KubeObject>[]).map((i) => i.metadata)
        : [];
  return [...new Set(metadata.map((m) => m?.namespace ?? "").filter((n) => n !== ""))];
}

/** Pods on a visible node, in the namespaces the user sees and may list pods in. */
async function podsOnNode(r: TenantRequest, node: string): Promise<number | undefined> {
  const { tenancy: t, user } = r;
  const nodeVisible = await visibleNodes(t, user);
  if (!nodeVisible) return undefined;
  const everywhere = await t.reviews.subjectAccessReview(user, {
    resource: { verb: "list", group: "", resource: "pods" },
  });
  if (everywhere.allowed) return undefined;
  if (!nodeVisible(node))
    throw forbidden(`pods is forbidden: User "${user.name}" cannot list pods on node "${node}"`);
  // One whole list: the apiserver's continue token would name the next pod, of any tenant.
  const query = queryOf(r.req);
  query.delete("limit");
  query.delete("continue");
  const up = await r.upstream.whole("gateway", {
    method: "GET",
    // A cluster-wide pod list: a quorum read that may take a while.
    timeouts: "pool",
    path: `${rawPath(r.req)}?${query}`,
    accept: jsonAccept(r.headers.forward.accept),
  });
  if (up.code !== 200) return undefined;
  const body = JSON.parse(up.text) as Record<string, unknown>;
  const seen = t.index.namespaceVisible(user);
  const namespaces = new Set(namespacesIn(body).filter(seen));
  // RBAC still decides inside a namespace: one (cached) review per namespace on the node, not per pod.
  const allowed = new Set<string>();
  await Promise.all(
    [...namespaces].map(async (namespace) => {
      const d = await t.reviews.subjectAccessReview(user, {
        resource: { verb: "list", group: "", resource: "pods", namespace },
      });
      if (d.allowed) allowed.add(namespace);
    }),
  );
  return sendJson(
    r.res,
    200,
    filterBody(body, (o) => allowed.has(o.metadata.namespace ?? "")),
  );
}

async function nodeLease(r: TenantRequest, node: string): Promise<number | undefined> {
  const nodeVisible = await visibleNodes(r.tenancy, r.user);
  if (!nodeVisible?.(node)) return undefined;
  const path = `/apis/coordination.k8s.io/${r.info.apiVersion}/namespaces/${NODE_LEASE_NAMESPACE}/leases/${encodeURIComponent(node)}`;
  return sendAnswer(r.res, await r.upstream.whole("gateway", { method: "GET", path }));
}

async function nodeMetrics(r: TenantRequest): Promise<number | undefined> {
  const nodeVisible = await visibleNodes(r.tenancy, r.user);
  if (!nodeVisible) return undefined;
  if (r.info.verb === "get" && !nodeVisible(r.info.name)) return undefined;
  const answer = await r.upstream.whole("gateway", { method: "GET" });
  // No metrics API (404, 503) or any other failure: the client hears it as it is.
  if (answer.code !== 200) return sendAnswer(r.res, answer);
  const kept = filterBody(JSON.parse(answer.text) as Record<string, unknown>, (o) =>
    nodeVisible(o.metadata.name),
  );
  return kept ? sendJson(r.res, 200, kept) : undefined;
}

export const podsOnNodeRoute = tenancyRoute({
  name: "pods-on-node",
  match: podListNode,
  handle: podsOnNode,
});

export const nodeLeaseRoute = tenancyRoute({
  name: "node-lease",
  match: leaseNode,
  handle: nodeLease,
});

export const nodeMetricsRoute = tenancyRoute({
  name: "node-metrics",
  match: (info) => (isNodeMetrics(info) ? true : undefined),
  handle: (r) => nodeMetrics(r),
});
