// Update, patch or delete of a named object of a filtered kind. The user's own RBAC first: then the
// apiserver decides as the user. Otherwise only a tenant grant of exactly this operation on an object
// the user sees lets the gateway write with its own identity, checked against the object as stored.
import type { FilteredKind } from "../../resources/kinds.ts";
import type { TenantRequest } from "../types.ts";
import { filteredRoute, storedObject } from "./filtered.ts";
import { guardedDelete, guardedWrite } from "./guarded-write.ts";
import { notFound, rbacAllows } from "./tenancy.ts";

async function write(ctx: TenantRequest, kind: FilteredKind, op: "Update" | "Delete"): Promise<number> {
  const { tenancy: t, info, user } = ctx;
  if (await rbacAllows(t, user, kind, info.verb, info.name)) return ctx.upstream.passthrough();
  const { granted, visible } = t.index.visibility(user, kind, op);
  if (!granted) return ctx.upstream.passthrough();
  const current = await storedObject(ctx);
  if (!current || !visible(current)) throw notFound(kind, info.name);
  return op === "Delete" ? guardedDelete(ctx, current) : guardedWrite(ctx, { current, visible, kind });
}

export const filteredUpdate = filteredRoute({
  name: "filtered-update",
  verbs: ["update", "patch"],
  named: true,
  handle: (ctx, kind) => write(ctx, kind, "Update"),
});

export const filteredDelete = filteredRoute({
  name: "filtered-delete",
  verbs: ["delete"],
  named: true,
  handle: (ctx, kind) => write(ctx, kind, "Delete"),
});
