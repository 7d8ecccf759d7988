// Tenant filtering of cluster-scoped kinds (namespaces, nodes, classes, persistent volumes): the
// gateway reads them with its own identity and lets through only what the tenancy index says the
// user may see, in lists, Tables, watches and gets. Anything it would not show is left to the
// user's own RBAC (an impersonated passthrough), so filtering can only add visibility RBAC lacks for
// lists, never reveal an object RBAC would refuse and the index does not grant.
import type { UserInfo } from "../authn/user.ts";
import type { KubeObject } from "../kube/informer.ts";
import { isClusterScopedTarget, type RequestInfo } from "../kube/request-info.ts";
import type { Reviews } from "../kube/reviews.ts";
import { type Upstream, unavailable } from "../kube/upstream.ts";
import { type FilteredKind, filteredKind } from "../resources/kinds.ts";
import { StatusError, serviceUnavailable, status } from "../status/status.ts";
import type { TenancyIndex } from "../tenancy/index.ts";
import { cachedNamespaceList, serveNamespaceWatch } from "./cached-list.ts";
import type { ContinueTokens } from "./continue-token.ts";
import { pagedList } from "./filtered-list.ts";
import { guardedDelete, guardedWrite } from "./guarded-write.ts";
import type { ClientHeaders } from "./headers.ts";
import type { ClientRequest, ClientResponse } from "./pipeline.ts";
import type { Route } from "./route.ts";
import { asGateway } from "./upstream-call.ts";
import type { WatchResponse } from "./watch-sink.ts";

export interface TenancyContext {
  index: TenancyIndex;
  reviews: Reviews;
  ignoredUsers: Set<string>;
  ignoredGroups: Set<string>;
  /** Seals the continue tokens of filtered pages. */
  tokens: ContinueTokens;
}

type Visible = (o: KubeObject) => boolean;

interface TableRow {
  object?: { metadata?: KubeObject["metadata"] };
}

/** True when the user is left alone: an ignored identity. */
export function ignored(t: TenancyContext, user: UserInfo): boolean {
  return t.ignoredUsers.has(user.name) || user.groups.some((g) => t.ignoredGroups.has(g));
}

/** JSON only: the filter must read what it forwards (a Table when kubectl asks for one). */
function jsonAccept(accept: string | string[] | undefined): string {
  const value = Array.isArray(accept) ? accept.join(",") : (accept ?? "");
  const table = value
    .split(",")
    .map((p) => p.trim())
    .filter((p) => /as=Table/i.test(p) && /^application\/json/i.test(p));
  return [...table, "application/json"].join(",");
}

function gatewayHeaders(upstream: Upstream, headers: ClientHeaders): Record<string, string> {
  return upstream.ownHeaders(jsonAccept(headers.forward.accept));
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** Only objects with metadata can be judged; anything else is not shown. */
const judgeable = (o: unknown): o is KubeObject => isObject(o) && isObject(o.metadata);

function keepRow(visible: Visible, row: TableRow): boolean {
  return isObject(row) && judgeable(row.object) && visible({ metadata: row.object.metadata });
}

/** Filters a list, a Table or a single object; returns undefined when nothing of it may be shown. */
export function filterBody(
  body: Record<string, unknown>,
  visible: Visible,
): Record<string, unknown> | undefined {
  if (body.kind === "Table" && Array.isArray(body.rows)) {
    const rows = (body.rows as TableRow[]).filter((r) => keepRow(visible, r));
    const metadata = { ...(body.metadata as object) } as Record<string, unknown>;
    delete metadata.remainingItemCount;
    // The apiserver's token names the next object, which may be one the user may not see.
    delete metadata.continue;
    return { ...body, metadata, rows };
  }
  if (Array.isArray(body.items)) {
    const items = (body.items as unknown[]).filter((i) => judgeable(i) && visible(i));
    const metadata = { ...(body.metadata as object) } as Record<string, unknown>;
    // A count of what the user may not see is itself a leak, and the next key a name.
    delete metadata.remainingItemCount;
    delete metadata.continue;
    return { ...body, metadata, items };
  }
  return judgeable(body) && visible({ metadata: body.metadata }) ? body : undefined;
}

/** One watch event line in, the same line or nothing out (Table events lose invisible rows). */
export function filterWatchLine(line: string, visible: Visible): string | undefined {
  if (line.trim() === "") return undefined;
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    return undefined;
  }
  // Fail closed: a line that is not an event with an object cannot be judged, so it is not shown.
  if (!isObject(event) || !isObject(event.object)) return undefined;
  const object = event.object;
  // Real bookmarks carry only a resourceVersion and real errors a Status; one naming an object is judged.
  const named = isObject(object.metadata) && object.metadata.name !== undefined;
  if (!named && (event.type === "BOOKMARK" || (event.type === "ERROR" && object.kind === "Status")))
    return `${line}\n`;
  const kept = filterBody(object, visible);
  if (!kept) return undefined;
  if (kept.kind === "Table" && (kept.rows as unknown[]).length === 0) return undefined;
  return `${JSON.stringify({ ...event, object: kept })}\n`;
}

/**
 * A watch byte stream cut into lines and filtered. UTF-8 is decoded in streaming mode: a character split
 * across two chunks must not turn into two replacement characters.
 */
export class WatchLineFilter {
  readonly #decoder = new TextDecoder();
  #buffered = "";
  constructor(private readonly visible: Visible) {}

  /** The filtered lines a chunk completes (each ends with a newline). */
  push(chunk: Uint8Array): string[] {
    this.#buffered += this.#decoder.decode(chunk, { stream: true });
    const out: string[] = [];
    let nl = this.#buffered.indexOf("\n");
    while (nl !== -1) {
      const kept = filterWatchLine(this.#buffered.slice(0, nl), this.visible);
      if (kept) out.push(kept);
      this.#buffered = this.#buffered.slice(nl + 1);
      nl = this.#buffered.indexOf("\n");
    }
    return out;
  }
}

export function send(
  res: ClientResponse,
  code: number,
  body: unknown,
  contentType = "application/json",
): number {
  const text = JSON.stringify(body);
  (res as import("node:http").ServerResponse).writeHead(code, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
  return code;
}

/** Upstream answers about the request itself, the same for the gateway as for the user. */
const REQUEST_ERRORS = new Set([400, 410, 422]);

export async function readAsGateway(
  upstream: Upstream,
  path: string,
  headers: ClientHeaders,
  signal: AbortSignal,
  longRunning = false,
) {
  try {
    return await upstream.poolFor(longRunning).request({
      method: "GET",
      path,
      headers: gatewayHeaders(upstream, headers),
      signal,
    });
  } catch (err) {
    throw unavailable(err);
  }
}

export type Passthrough = () => Promise<number>;

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
  if (!ready) throw serviceUnavailable("the tenancy index is not ready (are kubegate's CRDs installed?)");
}

/** Whether the user's own RBAC allows the verb on this object (then the apiserver answers as the user). */
async function rbacAllows(t: TenancyContext, user: UserInfo, kind: FilteredKind, verb: string, name: string) {
  const d = await t.reviews.subjectAccessReview(user, {
    resource: { verb, group: kind.group, resource: kind.resource, ...(name ? { name } : {}) },
  });
  return d.allowed;
}

const parseJson = (text: string) => JSON.parse(text) as Record<string, unknown>;

/** What one filtered request needs besides the kind: shared by the list, get, watch and write steps. */
interface Filtered {
  t: TenancyContext;
  upstream: Upstream;
  req: ClientRequest;
  res: ClientResponse;
  info: RequestInfo;
  headers: ClientHeaders;
  user: UserInfo;
  kind: FilteredKind;
  passthrough: Passthrough;
  signal: AbortSignal;
}

async function filteredList(f: Filtered, visible: Visible): Promise<number> {
  const { t, info, headers, kind } = f;
  const path = f.req.url ?? "/";
  const q = path.indexOf("?");
  const query = new URLSearchParams(q === -1 ? "" : path.slice(q + 1));
  if (kind.resource === "namespaces") {
    // The informer already holds every namespace: filter memory instead of listing them all upstream
    // (issue #9). Undefined when only the apiserver can answer exactly (pages, exact RVs, ...).
    const cached = cachedNamespaceList(t.index.namespaceSnapshot(), visible, query, headers.forward.accept);
    if (cached) return send(f.res, 200, cached.body, cached.contentType);
  }
  const read = async (pathAndQuery: string) => {
    const up = await readAsGateway(f.upstream, pathAndQuery, headers, f.signal);
    const text = await up.body.text();
    return {
      code: up.statusCode,
      body: up.statusCode === 200 || REQUEST_ERRORS.has(up.statusCode) ? parseJson(text) : {},
    };
  };
  let answer: { code: number; body: Record<string, unknown> };
  if (query.has("limit") || query.has("continue")) {
    answer = await pagedList({
      query,
      path: info.path,
      visible,
      tokens: t.tokens,
      bind: `${f.user.name}\n${kind.group}/${kind.resource}`,
      read,
    });
  } else {
    const whole = await read(path);
    answer = whole.code === 200 ? { code: 200, body: filterBody(whole.body, visible) ?? {} } : whole;
  }
  if (answer.code === 200 || REQUEST_ERRORS.has(answer.code)) return send(f.res, answer.code, answer.body);
  // Refused for the gateway too: let the user's own request produce the answer.
  return f.passthrough();
}

/** The request's path exactly as the client sent it (already checked canonical), without the query. */
const rawPath = (f: Filtered) => (f.req.url ?? "/").split("?")[0] as string;

/** Names an object of a cluster-scoped kind can have (DNS-1123 subdomains, as every kind here uses). */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * The named object as stored, read by the gateway as plain JSON with none of the client's query or
 * Accept (a Table or a bad option must not stand in for the object): undefined when it does not
 * exist; a Status error when the read fails otherwise.
 */
async function storedObject(f: Filtered): Promise<KubeObject | undefined> {
  if (f.info.name.length > 253 || !OBJECT_NAME.test(f.info.name)) return undefined;
  const up = await asGateway(f.upstream, "GET", rawPath(f), undefined, f.signal);
  if (up.code === 404) return undefined;
  if (up.code !== 200)
    throw new StatusError(status(up.code >= 500 ? up.code : 503, "the object could not be read"));
  const text = up.text;
  const o = parseJson(text);
  const m = isObject(o.metadata) ? o.metadata : undefined;
  return m && m.name === f.info.name ? (o as unknown as KubeObject) : undefined;
}

/**
 * A named object of a kind the user is granted. Invisible and nonexistent answer alike (issue #17,
 * item 9): the same 404 Status, unless the user's own RBAC may read it, when the apiserver answers.
 * Visibility is decided on the stored object first; only then is the client's own request (its
 * Table, its options, and the errors they cause) answered.
 */
async function filteredGet(f: Filtered, visible: Visible): Promise<number> {
  const stored = await storedObject(f);
  if (!stored || !visible(stored)) {
    if (await rbacAllows(f.t, f.user, f.kind, "get", f.info.name)) return f.passthrough();
    throw notFound(f.kind, f.info.name);
  }
  const up = await readAsGateway(f.upstream, f.req.url ?? "/", f.headers, f.signal);
  const text = await up.body.text();
  if (up.statusCode === 200) {
    const kept = filterBody(parseJson(text), visible);
    if (kept && !emptyTable(kept)) return send(f.res, 200, kept);
    throw notFound(f.kind, f.info.name);
  }
  if (REQUEST_ERRORS.has(up.statusCode) || up.statusCode === 404)
    return send(f.res, up.statusCode, parseJson(text));
  return f.passthrough();
}

const emptyTable = (b: Record<string, unknown>) => b.kind === "Table" && (b.rows as unknown[]).length === 0;

async function filteredWatch(f: Filtered, visible: Visible): Promise<number> {
  const { t, res, kind, headers } = f;
  const path = f.req.url ?? "/";
  if (kind.resource === "namespaces") {
    // One informer watch fans out to every tenant's watch, instead of one upstream watch each.
    const q = path.indexOf("?");
    const served = serveNamespaceWatch(
      {
        snapshot: t.index.namespaceSnapshot(),
        resourceVersion: () => t.index.namespaceSnapshot().resourceVersion,
        subscribe: (handler) => t.index.onNamespaceEvent(handler),
      },
      visible,
      new URLSearchParams(q === -1 ? "" : path.slice(q + 1)),
      headers.forward.accept,
      res as unknown as WatchResponse,
    );
    if (served) return served;
  }
  // A watch holds its upstream connection for as long as it lasts: the streams pool, never the capped one.
  const up = await readAsGateway(f.upstream, path, headers, f.signal, true);
  if (up.statusCode !== 200) {
    const text = await up.body.text().catch(() => "");
    if (REQUEST_ERRORS.has(up.statusCode)) return send(res, up.statusCode, parseJson(text));
    return f.passthrough();
  }
  const out = res as import("node:http").ServerResponse;
  out.writeHead(200, { "content-type": String(up.headers["content-type"] ?? "application/json") });
  out.flushHeaders?.();
  const lines = new WatchLineFilter(visible);
  try {
    for await (const chunk of up.body) {
      for (const line of lines.push(chunk)) {
        if (!out.write(line)) await new Promise((r) => res.once("drain", r));
      }
    }
  } catch {
    // Client gone or upstream closed mid-stream.
  }
  res.end();
  return 200;
}

/**
 * Update, patch or delete of a named object. The user's own RBAC first: then the apiserver decides
 * as the user. Otherwise only a tenant grant of exactly this operation on an object the user sees
 * lets the gateway write with its own identity, checked against the object as stored.
 */
async function filteredWrite(f: Filtered, op: "Update" | "Delete"): Promise<number> {
  const { t, info, kind, user } = f;
  if (await rbacAllows(t, user, kind, info.verb, info.name)) return f.passthrough();
  const { granted, visible } = t.index.visibility(user, kind, op);
  if (!granted) return f.passthrough();
  const current = await storedObject(f);
  if (!current || !visible(current)) throw notFound(kind, info.name);
  // The path as the client sent it: the decoded name, re-joined, could carry a '?' that would move
  // the gateway's own query (its dryRun) into the name.
  const w = {
    index: t.index,
    upstream: f.upstream,
    req: f.req,
    res: f.res,
    headers: f.headers,
    user,
    path: rawPath(f),
  };
  if (op === "Delete") return guardedDelete({ ...w, current, signal: f.signal });
  return guardedWrite({ ...w, current, visible, kind, signal: f.signal });
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

/**
 * Handles a request on a filtered kind; `passthrough` forwards it impersonated instead (the user's RBAC
 * decides) and is used whenever the gateway has nothing to add.
 */
export async function handleFiltered(
  t: TenancyContext,
  upstream: Upstream,
  req: ClientRequest,
  res: ClientResponse,
  info: RequestInfo,
  headers: ClientHeaders,
  user: UserInfo,
  kind: FilteredKind,
  passthrough: Passthrough,
): Promise<number> {
  if (info.subresource !== "" || ignored(t, user)) return passthrough();
  await awaitIndex(t);
  const abort = new AbortController();
  // A filtered watch's response can be ended by the gateway (shutdown) while its upstream read still
  // streams, and only this abort ends that read: watches always abort. Anything else aborts only when
  // the client left early; aborting after every finished list built a DOMException per request.
  const isWatch = info.verb === "watch";
  res.once("close", () => {
    if (isWatch || !res.writableFinished) abort.abort();
  });
  const f: Filtered = { t, upstream, req, res, info, headers, user, kind, passthrough, signal: abort.signal };

  if (info.verb === "list" || info.verb === "watch") {
    // Whoever RBAC lets list the kind cluster-wide sees it all, as without the gateway.
    if (await rbacAllows(t, user, kind, info.verb, "")) return passthrough();
  }
  if (info.verb === "list" || info.verb === "watch" || (info.verb === "get" && info.name)) {
    const { granted, visible } = t.index.visibility(user, kind, "List");
    if (!granted) return passthrough();
    if (info.verb === "watch") return filteredWatch(f, visible);
    return info.verb === "list" ? filteredList(f, visible) : filteredGet(f, visible);
  }
  if ((info.verb === "update" || info.verb === "patch") && info.name) return filteredWrite(f, "Update");
  if (info.verb === "delete" && info.name) return filteredWrite(f, "Delete");
  return passthrough();
}

/** The pipeline step for the filtered kinds themselves (namespaces, nodes, classes, volumes). */
export const filteredKinds: Route = (r) => {
  const { info } = r;
  const kind = info.isResourceRequest ? filteredKind(info.apiGroup, info.resource) : undefined;
  if (!kind) return Promise.resolve(undefined);
  // A cluster-scoped kind under a namespace is no API path: the apiserver's own 404, for everyone.
  if (!isClusterScopedTarget(info)) throw noSuchPath();
  return handleFiltered(r.tenancy, r.upstream, r.req, r.res, info, r.headers, r.user, kind, r.passthrough);
};
