// What the tenancy routes share: the wrapper that makes a route a tenancy route, and the small pieces
// every one of them uses (reading the body, the index's readiness, the user's own RBAC, the 404s).
import type { Readable } from "node:stream";
import type { UserInfo } from "../../authn/user.ts";
import type { RequestInfo } from "../../kube/request-info.ts";
import type { FilteredKind } from "../../resources/kinds.ts";
import { StatusError, serviceUnavailable, status } from "../../status/status.ts";
import type { ClientRequest, RequestContext, Route, TenancyContext, TenantRequest } from "../types.ts";

/** True when the user is left alone: an ignored identity. */
export function ignored(t: TenancyContext, user: UserInfo): boolean {
  return t.ignoredUsers.has(user.name) || user.groups.some((g) => t.ignoredGroups.has(g));
}

/** Waits for the index's first sync; a 503 Status if it takes too long (CRDs missing, no RBAC). */
export async function awaitIndex(t: TenancyContext, timeoutMs = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ready = await Promise.race([
    t.index.synced.then(() => true),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (!ready)
    throw serviceUnavailable(
      "the tenancy index is not ready (are kubegate's CRDs installed?)",
      "KUBEGATE_TENANCY_NOT_READY",
    );
}

export interface TenancyRoute<P> {
  name: string;
  match(info: RequestInfo): P | undefined;
  handle(ctx: TenantRequest, params: P): Promise<number | undefined>;
}

/**
 * A route of the tenancy model: ignored identities are not its business (they see the apiserver as it
 * is), and it runs only once the index has synced.
 */
export function tenancyRoute<P>(r: TenancyRoute<P>): Route<P> {
  return {
    name: r.name,
    match: r.match,
    async handle(ctx: RequestContext & { tenancy?: TenancyContext }, params: P) {
      const t = ctx.tenancy;
      if (!t || ignored(t, ctx.user)) return undefined;
      await awaitIndex(t);
      return r.handle(ctx as TenantRequest, params);
    },
  };
}

/** Bodies the gateway reads itself are small objects (a Namespace, an access review, a patch). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export async function readBody(req: ClientRequest, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as unknown as Readable) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += b.length;
    if (size > limit)
      throw new StatusError(
        status(413, `request body larger than ${limit} bytes`),
        "KUBEGATE_BODY_TOO_LARGE",
      );
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** The request's query with some parameters set, for a call that must keep the client's options. */
export function withQuery(path: string, rawUrl: string, set: Record<string, string> = {}): string {
  const q = rawUrl.indexOf("?");
  const params = new URLSearchParams(q === -1 ? "" : rawUrl.slice(q + 1));
  for (const [k, v] of Object.entries(set)) params.set(k, v);
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** The request's path exactly as the client sent it (already checked canonical), without the query. */
export const rawPath = (req: ClientRequest) => (req.url ?? "/").split("?")[0] as string;

/** The request's query. */
export function queryOf(req: ClientRequest): URLSearchParams {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return new URLSearchParams(q === -1 ? "" : url.slice(q + 1));
}

/** Upstream answers about the request itself, the same for the gateway as for the user. */
export const REQUEST_ERRORS = new Set([400, 410, 422]);

export const parseJson = (text: string) => JSON.parse(text) as Record<string, unknown>;

/** JSON only: the filter must read what it forwards (a Table when kubectl asks for one). */
export function jsonAccept(accept: string | string[] | undefined): string {
  const value = Array.isArray(accept) ? accept.join(",") : (accept ?? "");
  const table = value
    .split(",")
    .map((p) => p.trim())
    .filter((p) => /as=Table/i.test(p) && /^application\/json/i.test(p));
  return [...table, "application/json"].join(",");
}

/** Whether the user's own RBAC allows the verb on the kind (then the apiserver answers as the user). */
export async function rbacAllows(
  t: TenancyContext,
  user: UserInfo,
  kind: FilteredKind,
  verb: string,
  name: string,
): Promise<boolean> {
  const d = await t.reviews.subjectAccessReview(user, {
    resource: { verb, group: kind.group, resource: kind.resource, ...(name ? { name } : {}) },
  });
  return d.allowed;
}

/** Whether an upstream answer is a Status object, which the client may be given as it is. */
export function isStatusText(text: string): boolean {
  try {
    return parseJson(text).kind === "Status";
  } catch {
    return false;
  }
}

/** An upstream refusal that came without a Status: the client gets one that says so. */
export function upstreamFailure(code: number): StatusError {
  return new StatusError(
    status(code >= 500 ? code : 502, `kube-apiserver answered HTTP ${code} for a namespace of the list`),
    "KUBEGATE_UPSTREAM_BAD_ANSWER",
  );
}

/** The 404 the apiserver gives for a path it serves nothing at. */
export function noSuchPath(): StatusError {
  return new StatusError(status(404, "the server could not find the requested resource", {}));
}

/** The 404 the apiserver gives for a missing object of the kind, byte for byte the same shape. */
export function notFound(kind: FilteredKind, name: string): StatusError {
  const qualified = kind.group ? `${kind.resource}.${kind.group}` : kind.resource;
  return new StatusError(
    status(404, `${qualified} "${name}" not found`, {
      name,
      ...(kind.group ? { group: kind.group } : {}),
      kind: kind.resource,
    }),
  );
}
