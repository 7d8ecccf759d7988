// A list of a filtered kind: whoever RBAC lets list it cluster-wide sees it all, as without the
// gateway; a user granted some of it by a tenant sees exactly that, read with the gateway's identity.
import { sendJson } from "../respond.ts";
import type { TenantRequest } from "../types.ts";
import { cachedNamespaceList } from "./cached-list.ts";
import { consistentNamespaceList } from "./consistent-namespace-list.ts";
import { filterBody, type Visible } from "./filter-body.ts";
import { filteredRoute } from "./filtered.ts";
import { pagedList } from "./paged-list.ts";
import { jsonAccept, parseJson, queryOf, REQUEST_ERRORS, rbacAllows } from "./tenancy.ts";

export const filteredList = filteredRoute({
  name: "filtered-list",
  // A list may name one object (fieldSelector=metadata.name=X), as the apiserver's request info does.
  verbs: ["list"],
  async handle(ctx: TenantRequest, kind) {
    const { tenancy: t, user, headers } = ctx;
    if (await rbacAllows(t, user, kind, "list", "")) return ctx.upstream.passthrough();
    const { granted, visible } = t.index.visibility(user, kind, "List");
    if (!granted) return ctx.upstream.passthrough();
    const query = queryOf(ctx.req);
    const consistentRead = t.consistentNamespaceLists && (query.get("resourceVersion") ?? "") === "";
    if (kind.heldByIndex && !consistentRead) {
      // The informer already holds every namespace: filter memory instead of listing them all upstream
      // (issue #9). Undefined when only the apiserver can answer exactly (pages, exact RVs, ...).
      const snapshot = t.index.visibleNamespaceSnapshot(user);
      const cached = cachedNamespaceList(snapshot, visible, query, headers.forward.accept);
      if (cached) return sendJson(ctx.res, 200, cached.body, cached.contentType);
    }
    // Consistent and still in proportion to what the user sees; with nothing to select by, the whole
    // list below.
    const merged =
      kind.heldByIndex && consistentRead && !query.has("limit") && !query.has("continue")
        ? await consistentNamespaceList(query, t.index.namespaceReadPlan(user), (q) =>
            read(ctx, `${ctx.info.path}?${q}`),
          )
        : undefined;
    if (merged?.code === 200) return sendJson(ctx.res, 200, filterBody(merged.body, visible) ?? {});
    if (merged && REQUEST_ERRORS.has(merged.code)) return sendJson(ctx.res, merged.code, merged.body);
    if (merged) return ctx.upstream.passthrough();
    const answer =
      query.has("limit") || query.has("continue")
        ? await pagedList({
            query,
            path: ctx.info.path,
            visible,
            tokens: t.tokens,
            bind: `${user.name}\n${kind.group}/${kind.resource}`,
            read: (path) => read(ctx, path),
          })
        : await whole(ctx, visible);
    if (answer.code === 200 || REQUEST_ERRORS.has(answer.code))
      return sendJson(ctx.res, answer.code, answer.body);
    // Refused for the gateway too: let the user's own request produce the answer.
    return ctx.upstream.passthrough();
  },
});

/** One upstream page as the gateway, as JSON (or the Table the client asked for). */
async function read(ctx: TenantRequest, path: string) {
  const up = await ctx.upstream.whole("gateway", {
    method: "GET",
    path,
    timeouts: "pool",
    accept: jsonAccept(ctx.headers.forward.accept),
  });
  return {
    code: up.code,
    body: up.code === 200 || REQUEST_ERRORS.has(up.code) ? parseJson(up.text) : {},
  };
}

async function whole(ctx: TenantRequest, visible: Visible) {
  const answer = await read(ctx, ctx.req.url ?? "/");
  return answer.code === 200 ? { code: 200, body: filterBody(answer.body, visible) ?? {} } : answer;
}
