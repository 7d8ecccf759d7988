// Updates and patches the tenancy model grants are sent with the gateway's identity, so kube-apiserver's
// RBAC no longer bounds what they change. Two rules keep a tenant inside its tenancy: the object stays
// visible to the user after the change, and the tenant label (namespaces, volumes) never moves to a tenant the user
// does not own (else an owner could push a namespace into another tenant, or out of every tenant).
// The change is first a dry run whose result is checked; the real write then carries the
// resourceVersion the check started from, so it writes exactly what was checked or fails with 409.
import { parse as parseYaml } from "yaml";
import type { UserInfo } from "../authn/user.ts";
import type { KubeObject } from "../kube/informer.ts";
import type { Upstream } from "../kube/upstream.ts";
import type { FilteredKind } from "../resources/kinds.ts";
import { StatusError, status } from "../status/status.ts";
import type { TenancyIndex } from "../tenancy/index.ts";
import { writeViolation } from "../tenancy/write-policy.ts";
import type { ClientHeaders } from "./headers.ts";
import type { ClientRequest, ClientResponse } from "./pipeline.ts";
import { answerWhole, readBody, relay, withQuery } from "./upstream-call.ts";

export interface GuardedWrite {
  index: TenancyIndex;
  upstream: Upstream;
  req: ClientRequest;
  res: ClientResponse;
  headers: ClientHeaders;
  user: UserInfo;
  /** Path without the query. */
  path: string;
  /** The object as it is now (already checked visible). */
  current: KubeObject;
  visible: (o: KubeObject) => boolean;
  kind: FilteredKind;
  signal: AbortSignal;
}

/** Namespaces and persistent volumes carry the tenant label that decides who owns them. */
export const tenantLabelled = (kind: FilteredKind) =>
  kind.resource === "namespaces" || kind.resource === "persistentvolumes";

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
export function ruleBroken(
  w: Pick<GuardedWrite, "index" | "user" | "current" | "visible" | "kind">,
  after: KubeObject,
): string | undefined {
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

/** Checks the change as a dry run, then writes exactly it; answers the client either way. */
export async function guardedWrite(w: GuardedWrite): Promise<number> {
  const rawUrl = w.req.url ?? "/";
  const contentType = mediaType(w.req.headers["content-type"]);
  const body = await readBody(w.req);
  // The body is rewritten below: its length is undici's to set.
  const { "content-length": _length, ...forward }: Record<string, string | string[]> = w.headers.forward;
  const headers = w.upstream.withCredential(forward);
  const send = (path: string, data: Buffer | string) =>
    answerWhole(w.upstream.pool, {
      method: w.req.method as "PUT",
      path,
      headers,
      body: data,
      signal: w.signal,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });

  // The dry run and the write carry the same bytes: what is checked is exactly what is written.
  const bound = withPrecondition(contentType, body, w.current.metadata.resourceVersion ?? "");
  const dry = await send(withQuery(w.path, rawUrl, { dryRun: "All" }), bound);
  if (dry.code < 200 || dry.code >= 300) return relay(w.res, dry);
  const broken = ruleBroken(w, JSON.parse(dry.text) as KubeObject);
  if (broken) throw new StatusError(status(403, broken));
  return relay(w.res, await send(withQuery(w.path, rawUrl), bound));
}

/**
 * A granted delete, sent with the gateway's identity: the client's DeleteOptions with preconditions
 * on the uid and resourceVersion that were checked, so a recreated or changed object is never the one
 * deleted (409 instead).
 */
export async function guardedDelete(
  w: Pick<GuardedWrite, "upstream" | "req" | "res" | "headers" | "path" | "current" | "signal">,
): Promise<number> {
  const body = await readBody(w.req);
  const type = mediaType(w.req.headers["content-type"]);
  let options: Record<string, unknown> = {};
  if (body.length > 0) {
    if (!type.endsWith("json"))
      throw new StatusError(
        status(415, `DeleteOptions granted by the tenancy model must be JSON, not ${type}`),
      );
    options = parseObject(body.toString("utf8"), false);
  }
  const { uid, resourceVersion } = w.current.metadata as { uid?: string; resourceVersion?: string };
  const data = JSON.stringify({
    apiVersion: "v1",
    kind: "DeleteOptions",
    ...options,
    preconditions: { uid, resourceVersion },
  });
  const {
    "content-length": _length,
    "content-type": _type,
    ...forward
  }: Record<string, string | string[]> = w.headers.forward;
  return relay(
    w.res,
    await answerWhole(w.upstream.pool, {
      method: "DELETE",
      path: withQuery(w.path, w.req.url ?? "/"),
      headers: w.upstream.withCredential({ ...forward, "content-type": "application/json" }),
      body: data,
      signal: w.signal,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    }),
  );
}
