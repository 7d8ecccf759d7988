// The routes `kubectl describe node` needs besides the node itself, for a tenant who sees the node
// through the tenancy model but has no RBAC on nodes: the pods running on it, its Lease in
// kube-node-lease, and its metrics (metrics.k8s.io, when that API exists). Each is answered only for a
// node the user may see; anything else goes to the apiserver as the user.
import type { UserInfo } from "../authn/user.ts";
import type { KubeObject } from "../kube/informer.ts";
import type { RequestInfo } from "../kube/request-info.ts";
import { type FilteredKind, filteredKind } from "../resources/kinds.ts";
import { exactMatch, parseFieldSelector } from "../selectors/fields.ts";
import { forbidden } from "../status/status.ts";
import { awaitIndex, filterBody, ignored, readAsGateway, send, type TenancyContext } from "./filter.ts";
import type { Route, RouteRequest } from "./route.ts";
import { asGateway, relay } from "./upstream-call.ts";

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
  if (ignored(t, user)) return undefined;
  await awaitIndex(t);
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
async function podsOnNode(r: RouteRequest, node: string): Promise<number | undefined> {
  const { tenancy: t, user } = r;
  const nodeVisible = await visibleNodes(t, user);
  if (!nodeVisible) return undefined;
  const everywhere = await t.reviews.subjectAccessReview(user, {
    resource: { verb: "list", group: "", resource: "pods" },
  });
  if (everywhere.allowed) return undefined;
  if (!nodeVisible(node))
    throw forbidden(`pods is forbidden: User "${user.name}" cannot list pods on node "${node}"`);
  const abort = new AbortController();
  r.res.once("close", () => abort.abort());
  // One whole list: the apiserver's continue token would name the next pod, of any tenant.
  const url = r.req.url ?? "/";
  const q = url.indexOf("?");
  const query = new URLSearchParams(q === -1 ? "" : url.slice(q + 1));
  query.delete("limit");
  query.delete("continue");
  const up = await readAsGateway(
    r.upstream,
    `${url.slice(0, q === -1 ? url.length : q)}?${query}`,
    r.headers,
    abort.signal,
  );
  const text = await up.body.text();
  if (up.statusCode !== 200) return undefined;
  const body = JSON.parse(text) as Record<string, unknown>;
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
  return send(
    r.res,
    200,
    filterBody(body, (o) => allowed.has(o.metadata.namespace ?? "")),
  );
}

async function nodeLease(r: RouteRequest, node: string): Promise<number | undefined> {
  const nodeVisible = await visibleNodes(r.tenancy, r.user);
  if (!nodeVisible?.(node)) return undefined;
  const path = `/apis/coordination.k8s.io/${r.info.apiVersion}/namespaces/${NODE_LEASE_NAMESPACE}/leases/${encodeURIComponent(node)}`;
  return relay(r.res, await asGateway(r.upstream, "GET", path));
}

async function nodeMetrics(r: RouteRequest): Promise<number | undefined> {
  const nodeVisible = await visibleNodes(r.tenancy, r.user);
  if (!nodeVisible) return undefined;
  if (r.info.verb === "get" && !nodeVisible(r.info.name)) return undefined;
  const answer = await asGateway(r.upstream, "GET", r.req.url ?? "/");
  // No metrics API (404, 503) or any other failure: the client hears it as it is.
  if (answer.code !== 200) return relay(r.res, answer);
  const kept = filterBody(JSON.parse(answer.text) as Record<string, unknown>, (o) =>
    nodeVisible(o.metadata.name),
  );
  return kept ? send(r.res, 200, kept) : undefined;
}

/** The pipeline step for the describe-node routes. */
export const nodeDescribeRoutes: Route = async (r) => {
  const podsNode = podListNode(r.info);
  if (podsNode) return podsOnNode(r, podsNode);
  const lease = leaseNode(r.info);
  if (lease) return nodeLease(r, lease);
  if (isNodeMetrics(r.info)) return nodeMetrics(r);
  return undefined;
};
