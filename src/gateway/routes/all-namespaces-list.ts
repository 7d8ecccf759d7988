// `kubectl get pods -A` for a tenant: the merged list of the user's visible namespaces (all-namespaces.ts).
import { sendJson } from "../respond.ts";
import type { TenantRequest } from "../types.ts";
import { allNamespacesTarget, fanOutNamespaces, namespacedPath } from "./all-namespaces.ts";
import { fanOutList } from "./fanout-pages.ts";
import { jsonAccept, parseJson, queryOf, tenancyRoute, upstreamFailure } from "./tenancy.ts";

export const allNamespacesList = tenancyRoute({
  name: "all-namespaces-list",
  match: (info) => allNamespacesTarget(info, "list"),
  async handle(ctx: TenantRequest, target) {
    const namespaces = await fanOutNamespaces(ctx, target);
    if (!namespaces) return undefined;
    const accept = jsonAccept(ctx.headers.forward.accept);
    const answer = await fanOutList({
      namespaces,
      query: queryOf(ctx.req),
      concurrency: ctx.tenancy.fanOutConcurrency,
      tokens: ctx.tenancy.tokens,
      bind: `${ctx.user.name}\nall-namespaces\n${target.group}/${target.resource}`,
      read: async (namespace, query) => {
        const q = query.toString();
        const up = await ctx.upstream.whole("user", {
          method: "GET",
          path: `${namespacedPath(target, namespace)}${q ? `?${q}` : ""}`,
          accept,
          timeouts: "pool",
        });
        let body: Record<string, unknown> = {};
        try {
          body = parseJson(up.text);
        } catch {
          // Not JSON (a proxy's error page): the code alone tells what happened.
        }
        return { code: up.code, body };
      },
    });
    // No namespace let the user list it: the apiserver's own answer to the cluster-wide request.
    if (!answer) return ctx.upstream.passthrough();
    if (answer.code !== 200 && answer.body.kind !== "Status") throw upstreamFailure(answer.code);
    return sendJson(ctx.res, answer.code, answer.body);
  },
});
