// Updates and patches the tenancy model grants are sent with the gateway's identity, so kube-apiserver's
// RBAC no longer bounds what they change. Two rules keep a tenant inside its tenancy: the object stays
// visible to the user after the change, and the tenant label (namespaces, volumes) never moves to a tenant the user
// does not own (else an owner could push a namespace into another tenant, or out of every tenant).
// The change is first a dry run whose result is checked; the real write then carries the
// resourceVersion the check started from, so it writes exactly what was checked or fails with 409.
import { parse as parseYaml } from "yaml";
import type { UserInfo } from "../../authn/user.ts";
import type { KubeObject } from "../../kube/informer.ts";
import { type FilteredKind, tenantLabelled } from "../../resources/kinds.ts";
import { StatusError, status } from "../../status/status.ts";
import type { TenancyIndex } from "../../tenancy/index.ts";
import { writeViolation } from "../../tenancy/write-policy.ts";
import { sendAnswer } from "../respond.ts";
import type { RequestContext } from "../types.ts";
import { rawPath, readBody, withQuery } from "./tenancy.ts";

/** What a change is checked against. */
export interface WriteCheck {
  index: TenancyIndex;
  user: UserInfo;
  /** The object as it is now (already checked visible). */
  current: KubeObject;
  visible: (o: KubeObject) => boolean;
  kind: FilteredKind;
}

function mediaType(v: string | string[] | undefined): string {
  const value = (Array.isArray(v) ? v[0] : v) ?? "application/json";
  return (value.split(";")[0] ?? "").trim().toLowerCase();
}

function parseObject(text: string, yaml: boolean): Record<string, unknown> {
  let value: unknown;
  try {
    value = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new StatusError(status(400, `the request body does not parse: ${(err as Error).message}`));
  }
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new StatusError(status(400, "the request body must be an object"));
  return value as Record<string, unknown>;
}

/**
 * The same change, bound to the resourceVersion it was checked against: a `test` operation for a JSON
 * patch, metadata.resourceVersion for every other form (a precondition for update, merge, strategic
 * merge and server-side apply alike).
 */
export function withPrecondition(contentType: string, body: Buffer, resourceVersion: string): string {
  const text = body.toString("utf8");
  if (contentType === "application/json-patch+json") {
    let ops: unknown;
    try {
      ops = JSON.parse(text);
    } catch (err) {
      throw new StatusError(status(400, `the JSON patch does not parse: ${(err as Error).message}`));
    }
    if (!Array.isArray(ops)) throw new StatusError(status(400, "a JSON patch must be an array"));
    return JSON.stringify([
      { op: "test", path: "/metadata/resourceVersion", value: resourceVersion },
      ...ops,
    ]);
  }
  const yaml = contentType === "application/apply-patch+yaml" || contentType === "application/yaml";
  if (!yaml && !contentType.endsWith("json"))
    throw new StatusError(
      status(415, `changes granted by the tenancy model must be JSON or YAML, not ${contentType}`),
    );
  const object = parseObject(text, yaml);
  const metadata = (object.metadata ?? {}) as Record<string, unknown>;
  if (typeof metadata !== "object" || Array.isArray(metadata))
    throw new StatusError(status(400, "metadata must be an object"));
  return JSON.stringify({ ...object, metadata: { ...metadata, resourceVersion } });
}

/** Why the changed object breaks a tenancy rule, or undefined when it keeps them. */
export function ruleBroken(w: WriteCheck, after: KubeObject): string | undefined {
  const name = w.current.metadata.name;
  const forbidden = (why: string) => `"${name}" is forbidden: User "${w.user.name}" ${why}`;
  if (tenantLabelled(w.kind)) {
    const label = w.index.options.tenantLabel;
    const before = w.current.metadata.labels?.[label];
    const now = after.metadata?.labels?.[label];
    const owned = w.index.ownedTenants(w.user);
    // Both ends must be the user's: no adopting another tenant's object, no pushing one out.
    if (
      now !== before &&
      (now === undefined || !owned.includes(now) || (before !== undefined && !owned.includes(before)))
    )
      return forbidden(
        `may not move it ${now === undefined ? "out of its tenant" : `to tenant "${now}"`} (label ${label})`,
      );
  }
  if (!after.metadata || !w.visible(after))
    return forbidden("may not make a change that takes it out of what they may see");
  const violation = writeViolation(w.kind, w.current, after, w.index.options);
  return violation ? forbidden(`${violation} through a tenant grant`) : undefined;
}

/**
 * Checks the change as a dry run, then writes exactly it; answers the client either way. The path is
 * the client's as it sent it: the decoded name, re-joined, could carry a '?' that would move the
 * gateway's own query (its dryRun) into the name.
 */
export async function guardedWrite(
  ctx: RequestContext & { tenancy: { index: TenancyIndex } },
  check: Pick<WriteCheck, "current" | "visible" | "kind">,
): Promise<number> {
  const { req } = ctx;
  const rawUrl = req.url ?? "/";
  const path = rawPath(req);
  const body = await readBody(req);
  const send = (target: string, data: string) =>
    ctx.upstream.whole("gateway", { path: target, body: data, clientHeaders: true });

  // The dry run and the write carry the same bytes: what is checked is exactly what is written.
  const bound = withPrecondition(
    mediaType(req.headers["content-type"]),
    body,
    check.current.metadata.resourceVersion ?? "",
  );
  const dry = await send(withQuery(path, rawUrl, { dryRun: "All" }), bound);
  if (dry.code < 200 || dry.code >= 300) return sendAnswer(ctx.res, dry);
  const broken = ruleBroken(
    { ...check, index: ctx.tenancy.index, user: ctx.user },
    JSON.parse(dry.text) as KubeObject,
  );
  if (broken) throw new StatusError(status(403, broken), "KUBEGATE_TENANCY_RULE");
  return sendAnswer(ctx.res, await send(withQuery(path, rawUrl), bound));
}

/**
 * A granted delete, sent with the gateway's identity: the client's DeleteOptions with preconditions
 * on the uid and resourceVersion that were checked, so a recreated or changed object is never the one
 * deleted (409 instead).
 */
export async function guardedDelete(ctx: RequestContext, current: KubeObject): Promise<number> {
  const { req } = ctx;
  const body = await readBody(req);
  const type = mediaType(req.headers["content-type"]);
  let options: Record<string, unknown> = {};
  if (body.length > 0) {
    if (!type.endsWith("json"))
      throw new StatusError(
        status(415, `DeleteOptions granted by the tenancy model must be JSON, not ${type}`),
      );
    options = parseObject(body.toString("utf8"), false);
  }
  const { uid, resourceVersion } = current.metadata as { uid?: string; resourceVersion?: string };
  const data = JSON.stringify({
    apiVersion: "v1",
    kind: "DeleteOptions",
    ...options,
    preconditions: { uid, resourceVersion },
  });
  const answer = await ctx.upstream.whole("gateway", {
    method: "DELETE",
    path: withQuery(rawPath(req), req.url ?? "/"),
    body: data,
    contentType: "application/json",
    clientHeaders: true,
  });
  return sendAnswer(ctx.res, answer);
}
