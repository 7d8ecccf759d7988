// The route table. A request takes the first route whose `match` accepts it; a route that declines
// after a closer look (its handle answers undefined) hands the request to the next matching one. The
// last route, the impersonated passthrough, accepts everything. The table is built once, from the
// gateway's options: a mode that is off has no route, so no request pays for checking it.
import type { RequestInfo } from "../kube/request-info.ts";
import { sendRedirect } from "./respond.ts";
import { accessReviews } from "./routes/access-review.ts";
import { allNamespacesList } from "./routes/all-namespaces-list.ts";
import { allNamespacesWatch } from "./routes/all-namespaces-watch.ts";
import { notAPath } from "./routes/filtered.ts";
import { filteredGet } from "./routes/filtered-get.ts";
import { filteredList } from "./routes/filtered-list.ts";
import { filteredWatch } from "./routes/filtered-watch.ts";
import { filteredDelete, filteredUpdate } from "./routes/filtered-write.ts";
import { namespaceCreation } from "./routes/namespace-create.ts";
import { nodeLeaseRoute, nodeMetricsRoute, podsOnNodeRoute } from "./routes/node-routes.ts";
import type { Route } from "./types.ts";

const INTERACTIVE = new Set(["exec", "attach", "portforward"]);

export function isInteractive(info: RequestInfo): boolean {
  return info.isResourceRequest && info.resource === "pods" && INTERACTIVE.has(info.subresource);
}

/** The apiserver's own URL for the request: where a redirect sends the client. */
export function redirectLocation(server: URL, url: string | undefined): string {
  return new URL(url ?? "/", server).toString();
}

/** exec/attach/port-forward answered with a 307 to the apiserver (seed 002's way), not tunnelled. */
export const interactiveRedirect: Route<true> = {
  name: "interactive-redirect",
  untracked: true,
  match: (info) => (isInteractive(info) ? true : undefined),
  handle: (ctx) =>
    Promise.resolve(
      sendRedirect(ctx.res, redirectLocation(ctx.gateway.upstream.connection.server, ctx.req.url)),
    ),
};

export const MYNAMESPACE_PATH = "/apis/custom.api.local/v1/mynamespace";

/** Namespace lists rewritten to the aggregated API (seed 000's flow): its answer is given as it is. */
export const aggregatedNamespaces: Route<true> = {
  name: "aggregated-namespaces",
  match: (info) =>
    info.isResourceRequest &&
    info.verb === "list" &&
    info.apiGroup === "" &&
    info.resource === "namespaces" &&
    info.name === "" &&
    info.namespace === ""
      ? true
      : undefined,
  handle: (ctx) => {
    const url = ctx.req.url ?? "/";
    const q = url.indexOf("?");
    return ctx.upstream.passthrough(q === -1 ? MYNAMESPACE_PATH : `${MYNAMESPACE_PATH}${url.slice(q)}`);
  },
};

export const passthrough: Route<true> = {
  name: "passthrough",
  match: () => true,
  handle: (ctx) => ctx.upstream.passthrough(),
};

/** The tenancy routes, in the order they are tried. */
export const TENANCY_ROUTES: readonly Route[] = [
  namespaceCreation, // tenant owners create namespaces in their tenant
  accessReviews, // kubectl auth can-i reflects what the gateway grants
  podsOnNodeRoute, // kubectl describe node: the pods on it,
  nodeLeaseRoute, // its lease,
  nodeMetricsRoute, // its metrics
  notAPath, // a filtered kind under a namespace
  filteredList, // list/get/watch/update/delete of the filtered cluster-scoped kinds
  filteredGet,
  filteredWatch,
  filteredUpdate,
  filteredDelete,
  allNamespacesList, // kubectl get pods -A: the user's visible namespaces, each read as the user
  allNamespacesWatch,
];

export interface RouteOptions {
  interactiveMode: "proxy" | "redirect";
  namespaces: "passthrough" | "aggregated";
  tenancy: boolean;
}

export function routeTable(o: RouteOptions): readonly Route[] {
  return [
    ...(o.interactiveMode === "redirect" ? [interactiveRedirect] : []),
    // A rewritten path is already another server's answer to give: before any tenancy route.
    ...(o.namespaces === "aggregated" ? [aggregatedNamespaces] : []),
    ...(o.tenancy ? TENANCY_ROUTES : []),
    passthrough,
  ];
}
