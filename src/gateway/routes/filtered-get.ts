// A get of a named object of a filtered kind the user is granted. Invisible and nonexistent answer
// alike (issue #17, item 9): the same 404 Status, unless the user's own RBAC may read it, when the
// apiserver answers. Visibility is decided on the stored object first; only then is the client's own
// request (its Table, its options, and the errors they cause) answered.
import { sendJson } from "../respond.ts";
import type { TenantRequest } from "../types.ts";
import { filterBody } from "./filter-body.ts";
import { filteredRoute, storedObject } from "./filtered.ts";
import { jsonAccept, notFound, parseJson, REQUEST_ERRORS, rbacAllows } from "./tenancy.ts";

export const filteredGet = filteredRoute({
  name: "filtered-get",
  verbs: ["get"],
  named: true,
  async handle(ctx: TenantRequest, kind) {
    const { tenancy: t, user, info } = ctx;
    const { granted, visible } = t.index.visibility(user, kind, "List");
    if (!granted) return ctx.upstream.passthrough();
    const stored = await storedObject(ctx);
    if (!stored || !visible(stored)) {
      if (await rbacAllows(t, user, kind, "get", info.name)) return ctx.upstream.passthrough();
      throw notFound(kind, info.name);
    }
    const up = await ctx.upstream.whole("gateway", {
      method: "GET",
      timeouts: "pool",
      accept: jsonAccept(ctx.headers.forward.accept),
    });
    if (up.code === 200) {
      const kept = filterBody(parseJson(up.text), visible);
      if (kept && !(kept.kind === "Table" && (kept.rows as unknown[]).length === 0))
        return sendJson(ctx.res, 200, kept);
      throw notFound(kind, info.name);
    }
    if (REQUEST_ERRORS.has(up.code) || up.code === 404) return sendJson(ctx.res, up.code, parseJson(up.text));
    return ctx.upstream.passthrough();
  },
});
