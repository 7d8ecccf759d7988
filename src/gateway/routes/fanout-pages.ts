// An all-namespaces list answered from one list per namespace: the pages read as the user, namespace
// by namespace in the order the apiserver keeps their objects, merged into the one list (or Table) the
// apiserver would have answered. Pure over a `read` function, so it is unit-tested without a server.
//
// resourceVersion: every namespace is read with the client's own options (by default a consistent
// read), each at the revision the apiserver serves it at. The merged list carries the lowest of
// those revisions: a watch from there replays, for the namespaces read later, changes the list
// already shows (a client's cache takes them as updates), and misses none. Revisions are compared as
// the numbers etcd makes them; one that is not a number is taken as it is.
//
// Pages (`limit`, `continue`): the gateway's own continue token, sealed and bound to the user and the
// resource, says in which namespace to go on, with that namespace's upstream token, or how many items
// of a page read at an exact revision were already given. It reveals no names.
import { compareResourceVersions } from "../../kube/resource-version.ts";
import type { ContinueTokens } from "./continue-token.ts";
import { invalidToken } from "./continue-token.ts";
import { isObject } from "./filter-body.ts";

export interface NamespacePage {
  code: number;
  body: Record<string, unknown>;
}

export interface FanOutList {
  /** The namespaces to read, in list order (byListKey). */
  namespaces: readonly string[];
  /** The client's query; its limit and continue are the merged list's, the rest goes to every read. */
  query: URLSearchParams;
  /** Reads one namespace's list (the query as given), as the user. */
  read: (namespace: string, query: URLSearchParams) => Promise<NamespacePage>;
  tokens: ContinueTokens;
  bind: string;
  /** Reads in flight at once. */
  concurrency: number;
}

/** Items one read asks for, whatever the client's limit: each read is held whole in memory. */
const MAX_READ = 500;
const TOKEN_VERSION = 2;

/** Where a page stopped. */
interface Resume {
  namespace: string;
  /** The namespace's upstream continue token ("" = its first page). */
  upstream: string;
  /** When `skip` > 0 and no upstream token: the revision the page was read at, to read it again. */
  pageVersion: string;
  skip: number;
  /** The merged list's resourceVersion so far. */
  listVersion: string;
}

function openResume(p: FanOutList, token: string): Resume {
  const [version, namespace, upstream, pageVersion, skip, listVersion] = p.tokens.openValues(token, p.bind);
  if (
    version !== TOKEN_VERSION ||
    typeof namespace !== "string" ||
    typeof upstream !== "string" ||
    typeof pageVersion !== "string" ||
    typeof listVersion !== "string" ||
    !Number.isSafeInteger(skip) ||
    (skip as number) < 0
  )
    throw invalidToken();
  return { namespace, upstream, pageVersion, skip: skip as number, listVersion };
}

function sealResume(p: FanOutList, r: Resume): string {
  return p.tokens.sealValues(
    [TOKEN_VERSION, r.namespace, r.upstream, r.pageVersion, r.skip, r.listVersion],
    p.bind,
  );
}

/** The lower of two resourceVersions ("" = none yet). */
export function lowerVersion(a: string, b: string): string {
  if (!a) return b;
  if (!b) return a;
  const c = compareResourceVersions(a, b);
  return c !== undefined && c > 0 ? b : a;
}

const entriesKey = (body: Record<string, unknown>): "rows" | "items" =>
  body.kind === "Table" && Array.isArray(body.rows) ? "rows" : "items";

const metaOf = (body: Record<string, unknown>) =>
  (isObject(body.metadata) ? body.metadata : {}) as { resourceVersion?: string; continue?: string };

/**
 * The merged list, or undefined when no namespace let the user list the kind (the apiserver's own
 * answer to the cluster-wide request is then the one to give). A read refused otherwise (a bad
 * selector's 400, an expired token's 410, a 5xx) is answered as it came.
 */
export async function fanOutList(p: FanOutList): Promise<NamespacePage | undefined> {
  const limitText = p.query.get("limit") ?? "";
  const limit = /^\d+$/.test(limitText) && Number(limitText) > 0 ? Number(limitText) : 0;
  const token = p.query.get("continue") ?? "";
  const resume = token ? openResume(p, token) : undefined;
  const base = new URLSearchParams(p.query);
  for (const k of ["limit", "continue"]) base.delete(k);
  // A continued list keeps to its own revisions: the tokens and exact reads pin them.
  if (resume) for (const k of ["resourceVersion", "resourceVersionMatch"]) base.delete(k);

  // Namespaces from where the token stopped on (one that is no longer visible is simply passed).
  const start = resume ? p.namespaces.findIndex((ns) => `${ns}/` >= `${resume.namespace}/`) : 0;
  const todo = start === -1 ? [] : p.namespaces.slice(start);

  let shape: Record<string, unknown> | undefined;
  const kept: unknown[] = [];
  let listVersion = resume?.listVersion ?? "";
  let next: Resume | undefined;
  const room = () => (limit === 0 ? Number.POSITIVE_INFINITY : limit - kept.length);

  /**
   * The query of a namespace's next read: its own resume point, and no more than the room left past
   * the items of that page already given.
   */
  const queryFor = (upstream: string, pageVersion: string, skip: number) => {
    const q = new URLSearchParams(base);
    const size = Math.min(room(), MAX_READ) + skip;
    if (limit > 0) q.set("limit", String(size));
    if (upstream) q.set("continue", upstream);
    else if (pageVersion) {
      q.set("resourceVersion", pageVersion);
      q.set("resourceVersionMatch", "Exact");
    }
    return q;
  };

  let i = 0;
  outer: while (i < todo.length && room() > 0) {
    // Read a window of namespaces at once; take them in order.
    const window = todo.slice(i, i + Math.max(1, p.concurrency));
    const firsts = window.map((ns) => {
      const r = resume && ns === resume.namespace ? resume : undefined;
      const q = queryFor(r?.upstream ?? "", r?.skip ? r.pageVersion : "", r?.skip ?? 0);
      return { ns, upstream: r?.upstream ?? "", skip: r?.skip ?? 0, page: p.read(ns, q) };
    });
    // Reads the window did not get to are still awaited, so that none is left running unobserved.
    const settled = Promise.allSettled(firsts.map((f) => f.page));
    try {
      for (const f of firsts) {
        let { upstream, skip } = f;
        let page = await f.page;
        for (;;) {
          if (page.code === 403) break; // not listable there by this user: skipped, as if absent
          if (page.code !== 200) return page;
          shape ??= page.body;
          const meta = metaOf(page.body);
          const pageVersion = meta.resourceVersion ?? "";
          listVersion = lowerVersion(listVersion, pageVersion);
          const entries = page.body[entriesKey(page.body)];
          const list = Array.isArray(entries) ? entries : [];
          let j = skip;
          for (; j < list.length && room() > 0; j++) kept.push(list[j]);
          const more = meta.continue ?? "";
          if (j < list.length) {
            // Full within this page: go on from its item j next time.
            next = {
              namespace: f.ns,
              upstream,
              pageVersion: upstream ? "" : pageVersion,
              skip: j,
              listVersion,
            };
            break outer;
          }
          if (!more) break;
          if (room() === 0) {
            next = { namespace: f.ns, upstream: more, pageVersion: "", skip: 0, listVersion };
            break outer;
          }
          upstream = more;
          skip = 0;
          page = await p.read(f.ns, queryFor(more, "", 0));
        }
        i++;
        if (room() === 0) break outer;
      }
    } finally {
      await settled;
    }
  }
  if (!next && i < todo.length && room() === 0) {
    const namespace = todo[i] as string;
    next = { namespace, upstream: "", pageVersion: "", skip: 0, listVersion };
  }
  if (!shape && !resume) return undefined;
  const body = shape ?? { kind: "List", apiVersion: "v1" };
  const key = entriesKey(body);
  const metadata: Record<string, unknown> = { resourceVersion: next?.listVersion ?? listVersion };
  if (next) metadata.continue = sealResume(p, { ...next, listVersion });
  return { code: 200, body: { ...body, metadata, [key]: kept } };
}
