// Tenant filtering of cluster-scoped kinds (namespaces, nodes, classes, persistent volumes): the
// gateway reads them with its own identity and lets through only what the tenancy index says the
// user may see, in lists, Tables, watches and gets. Anything it would not show is left to the
// user's own RBAC (an impersonated passthrough), so filtering can only add visibility RBAC lacks for
// lists, never reveal an object RBAC would refuse and the index does not grant.
import type { UserInfo } from "../authn/user.ts";
import type { KubeObject } from "../kube/informer.ts";
import type { RequestInfo } from "../kube/request-info.ts";
import type { Reviews } from "../kube/reviews.ts";
import { type Upstream, unavailable } from "../kube/upstream.ts";
import { type FilteredKind, filteredKind, type Operation } from "../resources/kinds.ts";
import { serviceUnavailable } from "../status/status.ts";
import type { TenancyIndex } from "../tenancy/index.ts";
import { cachedNamespaceList, serveNamespaceWatch } from "./cached-list.ts";
import { guardedWrite } from "./guarded-write.ts";
import type { ClientHeaders } from "./headers.ts";
import type { ClientRequest, ClientResponse } from "./pipeline.ts";
import type { Route } from "./route.ts";
import { UpstreamRelay } from "./upstream-relay.ts";
import type { WatchResponse } from "./watch-sink.ts";

export interface TenancyContext {
  index: TenancyIndex;
  reviews: Reviews;
  ignoredUsers: Set<string>;
  ignoredGroups: Set<string>;
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
    return { ...body, metadata, rows };
  }
  if (Array.isArray(body.items)) {
    const items = (body.items as unknown[]).filter((i) => judgeable(i) && visible(i));
    const metadata = { ...(body.metadata as object) } as Record<string, unknown>;
    // A count of what the user may not see is itself a leak.
    delete metadata.remainingItemCount;
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

const isWatchPath = (path: string) => /[?&]watch=(?:1|true)(?:&|$)/.test(path);

export async function readAsGateway(
  upstream: Upstream,
  path: string,
  headers: ClientHeaders,
  signal: AbortSignal,
) {
  try {
    return await upstream.poolFor(isWatchPath(path)).request({
      method: "GET",
      path,
      headers: gatewayHeaders(upstream, headers),
      signal,
    });
  } catch (err) {
    throw unavailable(err);
  }
}

/**
 * Whether a user may learn that a namespace does not exist: tenant owners may (they could create it),
 * which is what lets `kubectl apply` see "not found" and create it.
 */
export function mayLearnAbsence(t: TenancyContext, user: UserInfo): boolean {
  return !ignored(t, user) && t.index.ownedTenants(user).length > 0;
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
  /** Who may be told that an object does not exist (tenant owners, for namespaces they could create). */
  mayLearnAbsence?: (t: TenancyContext, user: UserInfo) => boolean,
): Promise<number> {
  if (info.subresource !== "" || ignored(t, user)) return passthrough();
  await awaitIndex(t);
  const path = req.url ?? "/";
  const abort = new AbortController();
  // A filtered watch's response can be ended by the gateway (shutdown) while its upstream read still
  // streams, and only this abort ends that read: watches always abort. Anything else aborts only when
  // the client left early; aborting after every finished list built a DOMException per request.
  const isWatch = info.verb === "watch";
  res.once("close", () => {
    if (isWatch || !res.writableFinished) abort.abort();
  });
  const op: Operation =
    info.verb === "delete" ? "Delete" : info.verb === "update" || info.verb === "patch" ? "Update" : "List";

  if (info.verb === "list" || info.verb === "watch") {
    // Whoever RBAC lets list the kind cluster-wide sees it all, as without the gateway.
    const all = await t.reviews.subjectAccessReview(user, {
      resource: { verb: info.verb, group: kind.group, resource: kind.resource },
    });
    if (all.allowed) return passthrough();
  }

  if (info.verb === "list" || (info.verb === "get" && info.name)) {
    const { granted, visible } = t.index.visibility(user, kind, "List");
    if (!granted) return passthrough();
    if (info.verb === "list" && kind.resource === "namespaces") {
      // The informer already holds every namespace: filter memory instead of listing them all upstream
      // (issue #9). Undefined when only the apiserver can answer exactly (pages, exact RVs, ...).
      const q = path.indexOf("?");
      const cached = cachedNamespaceList(
        t.index.namespaceSnapshot(),
        visible,
        new URLSearchParams(q === -1 ? "" : path.slice(q + 1)),
        headers.forward.accept,
      );
      if (cached) return send(res, 200, cached.body, cached.contentType);
    }
    const up = await readAsGateway(upstream, path, headers, abort.signal);
    const text = await up.body.text();
    if (up.statusCode === 404 && info.verb === "get" && mayLearnAbsence?.(t, user))
      return send(res, 404, JSON.parse(text));
    // The request itself is wrong (a selector that does not parse, an expired continue token): the
    // apiserver's own answer says why, whoever asks.
    if (REQUEST_ERRORS.has(up.statusCode)) return send(res, up.statusCode, JSON.parse(text));
    if (up.statusCode !== 200) {
      // Not found or refused for the gateway too: let the user's own request produce the answer.
      return passthrough();
    }
    const kept = filterBody(JSON.parse(text) as Record<string, unknown>, visible);
    if (!kept || (info.verb === "get" && kept.kind === "Table" && (kept.rows as unknown[]).length === 0)) {
      return passthrough();
    }
    return send(res, 200, kept);
  }

  if (info.verb === "watch") {
    const { granted, visible } = t.index.visibility(user, kind, "List");
    if (!granted) return passthrough();
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
    const up = await readAsGateway(upstream, path, headers, abort.signal);
    if (up.statusCode !== 200) {
      const text = await up.body.text().catch(() => "");
      if (REQUEST_ERRORS.has(up.statusCode)) return send(res, up.statusCode, JSON.parse(text));
      return passthrough();
    }
    (res as import("node:http").ServerResponse).writeHead(200, {
      "content-type": String(up.headers["content-type"] ?? "application/json"),
    });
    (res as import("node:http").ServerResponse).flushHeaders?.();
    const lines = new WatchLineFilter(visible);
    try {
      for await (const chunk of up.body) {
        for (const out of lines.push(chunk)) {
          if (!(res as import("node:http").ServerResponse).write(out)) {
            await new Promise((r) => res.once("drain", r));
          }
        }
      }
    } catch {
      // Client gone or upstream closed mid-stream.
    }
    res.end();
    return 200;
  }

  if ((op === "Update" || op === "Delete") && info.name) {
    // Granted operations are done with the gateway's identity, on objects the tenant may see.
    const { granted, visible } = t.index.visibility(user, kind, op);
    if (!granted) return passthrough();
    const current = await readAsGateway(upstream, path.split("?")[0] as string, headers, abort.signal);
    const text = await current.body.text();
    if (current.statusCode !== 200 || !filterBody(JSON.parse(text) as Record<string, unknown>, visible))
      return passthrough();
    if (op === "Update") {
      return guardedWrite({
        index: t.index,
        upstream,
        req,
        res,
        headers,
        user,
        path: path.split("?")[0] as string,
        current: JSON.parse(text) as KubeObject,
        visible,
        tenantLabelled: kind.resource === "namespaces" || kind.resource === "persistentvolumes",
        signal: abort.signal,
      });
    }
    return new UpstreamRelay(res, false).send(upstream.pool, {
      method: req.method ?? "DELETE",
      path,
      headers: upstream.withCredential({ ...headers.forward }),
      body: req as unknown as import("node:stream").Readable,
    });
  }
  return passthrough();
}

/** The pipeline step for the filtered kinds themselves (namespaces, nodes, classes, volumes). */
export const filteredKinds: Route = (r) => {
  const { info } = r;
  const kind = info.isResourceRequest ? filteredKind(info.apiGroup, info.resource) : undefined;
  if (!kind || (kind.resource !== "namespaces" && info.namespace !== "")) return Promise.resolve(undefined);
  return handleFiltered(
    r.tenancy,
    r.upstream,
    r.req,
    r.res,
    info,
    r.headers,
    r.user,
    kind,
    r.passthrough,
    mayLearnAbsence,
  );
};
