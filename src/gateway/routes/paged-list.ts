// A filtered list read in pages (the client sent `limit` or `continue`). Upstream pages are read with
// the gateway's identity and filtered; the client's page is filled up to its limit from as many
// upstream pages as needed (within a budget), so page boundaries say nothing about how many invisible
// objects lie between visible ones. Where the gateway stops is sealed into its own continue token.
import type { KubeObject } from "../../kube/informer.ts";
import type { ContinueTokens, PageState } from "./continue-token.ts";

/** Upstream items read per call: a tenant's page of 1 must not cost one round trip per object. */
const UPSTREAM_PAGE = 500;
/** Upstream pages one client page may read before it is returned short (the API allows that). */
const MAX_UPSTREAM_PAGES = 20;

export interface PageRead {
  code: number;
  body: Record<string, unknown>;
}

export interface PagedList {
  /** The client's query (its limit and continue are read here, the rest passes to every page). */
  query: URLSearchParams;
  /** The resource path without the query. */
  path: string;
  visible: (o: KubeObject) => boolean;
  tokens: ContinueTokens;
  /** What a token is bound to: the user and the resource, so no one else's token opens. */
  bind: string;
  /** Reads one upstream page (a path with its query) as the gateway. */
  read: (pathAndQuery: string) => Promise<PageRead>;
}

interface ListMetadata {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** A Table's rows or a list's items, with the metadata of the object each describes. */
function entriesOf(body: Record<string, unknown>): { key: "rows" | "items"; entries: unknown[] } {
  if (body.kind === "Table" && Array.isArray(body.rows)) return { key: "rows", entries: body.rows };
  return { key: "items", entries: Array.isArray(body.items) ? body.items : [] };
}

function metadataOfEntry(key: "rows" | "items", e: unknown): KubeObject["metadata"] | undefined {
  const o = key === "rows" ? (isObject(e) ? e.object : undefined) : e;
  return isObject(o) && isObject(o.metadata) ? (o.metadata as KubeObject["metadata"]) : undefined;
}

/**
 * The client's page: the first upstream page's shape (kind, apiVersion, Table columns), the visible
 * entries, and a sealed continue token when more may follow. Answers the upstream status and body
 * unchanged when a page is refused (an expired token's 410, a bad selector's 400).
 */
export async function pagedList(p: PagedList): Promise<PageRead> {
  const limitText = p.query.get("limit") ?? "";
  const limit = /^\d+$/.test(limitText) && Number(limitText) > 0 ? Number(limitText) : 0;
  const token = p.query.get("continue") ?? "";
  let state: PageState = token
    ? p.tokens.open(token, p.bind)
    : { upstream: "", resourceVersion: "", skip: 0 };
  // Never more per read than UPSTREAM_PAGE, whatever limit the client names: a read is buffered whole.
  const pageSize = UPSTREAM_PAGE;
  const base = new URLSearchParams(p.query);
  for (const k of ["limit", "continue"]) base.delete(k);

  let first: Record<string, unknown> | undefined;
  const kept: unknown[] = [];
  let key: "rows" | "items" = "items";
  let next: PageState | undefined;
  for (let page = 0; page < MAX_UPSTREAM_PAGES; page++) {
    const q = new URLSearchParams(base);
    q.set("limit", String(pageSize));
    if (state.upstream) {
      // The token pins the version; the apiserver refuses both at once.
      q.delete("resourceVersion");
      q.delete("resourceVersionMatch");
      q.set("continue", state.upstream);
    } else if (state.resourceVersion) {
      q.set("resourceVersion", state.resourceVersion);
      q.set("resourceVersionMatch", "Exact");
    }
    const read = await p.read(`${p.path}?${q}`);
    if (read.code !== 200) return read;
    const body = read.body;
    first ??= body;
    const meta = (isObject(body.metadata) ? body.metadata : {}) as ListMetadata;
    const resourceVersion = state.resourceVersion || meta.resourceVersion || "";
    const found = entriesOf(body);
    key = found.key;
    let i = state.skip;
    for (; i < found.entries.length && (limit === 0 || kept.length < limit); i++) {
      const m = metadataOfEntry(key, found.entries[i]);
      if (m && p.visible({ metadata: m })) kept.push(found.entries[i]);
    }
    const more = meta.continue ?? "";
    if (i < found.entries.length) {
      next = { upstream: state.upstream, resourceVersion, skip: i };
      break;
    }
    if (!more) {
      next = undefined;
      break;
    }
    state = { upstream: more, resourceVersion, skip: 0 };
    next = state;
    if (limit > 0 && kept.length >= limit) break;
  }

  const shape = first ?? {};
  const meta = { ...((isObject(shape.metadata) ? shape.metadata : {}) as ListMetadata) };
  delete meta.remainingItemCount;
  delete meta.continue;
  if (next?.resourceVersion) meta.resourceVersion = next.resourceVersion;
  if (next) meta.continue = p.tokens.seal(next, p.bind);
  return { code: 200, body: { ...shape, metadata: meta, [key]: kept } };
}
