// An all-namespaces watch answered from one watch per visible namespace, each as the user, merged into
// one stream. The set of namespaces follows the tenancy index: a namespace that becomes visible gets
// a watch started at its current state (its objects arrive as ADDED), one that stops being visible
// has its watch closed and every object the client was shown there sent as DELETED, so that the
// client's view equals a fresh list's. Pure over `open` and `write`, so it is unit-tested with fakes.
//
// Bookmarks: a merged bookmark may only carry a revision every namespace's watch has reached, so it
// is the lowest of the revisions the watches last reported, sent when that rises. With
// sendInitialEvents=true (watch-list), one "initial events end" bookmark is sent once every watch
// that began with the request has sent its own.
//
// The merged watch ends when any of its watches ends or reports an error (the error is passed on):
// the client then watches again from the last revision it saw, as after any ended watch.

import { lowerVersion } from "./fanout-pages.ts";
import { isObject } from "./filter-body.ts";

export interface OpenedWatch {
  code: number;
  body: AsyncIterable<Buffer>;
  text(): Promise<string>;
  /** Stops reading and closes the upstream request. */
  close(): void;
}

export interface FanOutWatchOptions {
  /** The namespaces the user sees now, in list order. */
  namespaces: () => readonly string[];
  /** The client's query: selectors, resourceVersion, bookmarks, timeout. */
  query: URLSearchParams;
  /** Opens one namespace's watch, as the user. */
  open: (namespace: string, query: URLSearchParams) => Promise<OpenedWatch>;
  /** Writes one event line; false when the client's buffer is full (then `drained` is awaited). */
  write: (line: string) => boolean;
  drained: () => Promise<void>;
  /** How many watches are opened at once. */
  concurrency: number;
  /** The user's budget of upstream streams: one unit per namespace watched. */
  budget?: { take(): boolean; give(): void };
}

/** What the client has been shown of one object: enough to tell it the object is gone. */
type Shown = Record<string, unknown>;

interface Member {
  namespace: string;
  watch?: OpenedWatch;
  /** The last revision this watch reported ("" = none yet). */
  version: string;
  shown: Map<string, Shown>;
  /** Watch-list: this watch's initial events are all sent. */
  initialDone: boolean;
  closed: boolean;
  /** Holds a unit of the user's stream budget. */
  held: boolean;
}

const INITIAL_EVENTS_END = "k8s.io/initial-events-end";
/** A visible namespace that refuses the watch is tried this many times, this far apart. */
const RETRIES = 5;
const RETRY_MS = 400;

/** Outcome of the first round of watches, before any byte is sent to the client. */
export type FanOutStart =
  | { kind: "refused" } // no namespace let the user watch: the apiserver's own answer
  | { kind: "failed"; code: number; text: string } // a watch refused otherwise, given as it came
  | { kind: "streaming"; done: Promise<void> }
  | { kind: "limited" }; // more namespaces than the user's stream budget: a 429

export class FanOutWatch {
  private readonly members = new Map<string, Member>();
  private ended = false;
  private endResolve!: () => void;
  private readonly endPromise = new Promise<void>((r) => {
    this.endResolve = r;
  });
  private lastBookmark = "";
  private readonly bookmarks: boolean;
  private readonly watchList: boolean;
  private initialSent = false;
  private reconciling: Promise<void> = Promise.resolve();
  /** Refusals in a row per namespace that is visible but was not watchable. */
  private readonly refusals = new Map<string, number>();
  private retryTimer: NodeJS.Timeout | undefined;
  /** A namespace could not be watched for want of budget. */
  private limited = false;
  /** Serializes writes: lines of different watches never interleave inside a line. */
  private writing: Promise<void> = Promise.resolve();
  /** Revisions of a bookmark object to reuse (kind, apiVersion) for the merged bookmarks. */
  private bookmarkShape: Record<string, unknown> | undefined;

  constructor(private readonly o: FanOutWatchOptions) {
    this.bookmarks = o.query.get("allowWatchBookmarks") === "true";
    this.watchList = o.query.get("sendInitialEvents") === "true";
  }

  /** Opens the first round; streaming starts only when at least one namespace accepted. */
  async start(): Promise<FanOutStart> {
    const names = this.o.namespaces();
    const opened = await this.openAll(names, this.o.query);
    const accepted = opened.filter((m) => m.watch && m.watch.code === 200);
    const failed = opened.find((m) => m.watch && m.watch.code !== 200 && m.watch.code !== 403);
    if (failed?.watch) {
      const text = await failed.watch.text().catch(() => "");
      for (const m of opened) this.drop(m);
      return { kind: "failed", code: failed.watch.code, text };
    }
    for (const m of opened)
      if (m.watch?.code === 403) {
        // Refused there (RBAC): not watched, tried again on the next change of the index.
        this.drop(m);
      }
    if (this.limited) {
      for (const m of opened) this.drop(m);
      return { kind: "limited" };
    }
    if (accepted.length === 0) return { kind: "refused" };
    // A watch from a revision has reached it: a bookmark may name it before the watch says more.
    const from = this.o.query.get("resourceVersion") ?? "";
    if (/^[1-9]\d*$/.test(from)) for (const m of accepted) m.version = from;
    for (const m of accepted) this.pump(m);
    return { kind: "streaming", done: this.endPromise };
  }

  /**
   * The index changed: watch what became visible, let go of (and delete) what stopped being. Changes
   * are taken one after the other, so that no namespace is ever watched twice.
   */
  reconcile(): Promise<void> {
    this.reconciling = this.reconciling.then(() => this.follow());
    return this.reconciling;
  }

  private async follow(): Promise<void> {
    if (this.ended) return;
    const now = new Set(this.o.namespaces());
    for (const [ns, m] of this.members) {
      if (now.has(ns)) continue;
      this.drop(m);
      for (const shown of m.shown.values()) this.send({ type: "DELETED", object: shown });
      m.shown.clear();
    }
    // New namespaces start at their current state: what is there now is ADDED for this client.
    const fresh = new URLSearchParams(this.o.query);
    for (const k of ["resourceVersion", "resourceVersionMatch", "sendInitialEvents"]) fresh.delete(k);
    const added = [...now].filter((ns) => !this.members.has(ns));
    const opened = await this.openAll(added, fresh, true);
    let retry = false;
    if (this.limited) {
      // More namespaces than the user's stream budget allows: the client watches again and gets a 429.
      this.close();
      return;
    }
    for (const m of opened) {
      if (this.ended || m.closed) this.drop(m);
      else if (m.watch?.code === 200) this.pump(m);
      else {
        // Refused there: not watched. The apiserver's authorizer may not have seen the RoleBinding
        // that made the namespace visible yet, so a refusal is tried again shortly, a few times.
        this.drop(m);
        const n = (this.refusals.get(m.namespace) ?? 0) + 1;
        this.refusals.set(m.namespace, n);
        if (n < RETRIES) retry = true;
      }
    }
    for (const ns of this.refusals.keys()) if (!now.has(ns) || this.members.has(ns)) this.refusals.delete(ns);
    if (retry && !this.ended && !this.retryTimer)
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.reconcile();
      }, RETRY_MS);
  }

  /** Ends the merged watch and every watch in it. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.retryTimer);
    for (const m of [...this.members.values()]) this.drop(m);
    this.endResolve();
  }

  /** Lets go of one namespace's watch: closed, its stream given back to the budget, forgotten. */
  private drop(m: Member): void {
    m.closed = true;
    m.watch?.close();
    if (m.held) {
      m.held = false;
      this.o.budget?.give();
    }
    if (this.members.get(m.namespace) === m) this.members.delete(m.namespace);
  }

  private async openAll(names: readonly string[], query: URLSearchParams, later = false): Promise<Member[]> {
    const out: Member[] = [];
    const width = Math.max(1, this.o.concurrency);
    for (let i = 0; i < names.length && !this.ended; i += width) {
      const batch = names.slice(i, i + width).map((namespace) => {
        const m: Member = {
          namespace,
          version: "",
          shown: new Map(),
          initialDone: later,
          closed: false,
          held: false,
        };
        if (this.o.budget && !this.o.budget.take()) {
          this.limited = true;
          return Promise.resolve();
        }
        m.held = this.o.budget !== undefined;
        this.members.set(namespace, m);
        out.push(m);
        return this.o.open(namespace, query).then(
          (w) => {
            m.watch = w;
            // Closed while it opened (the client left): let go of it now.
            if (m.closed || this.ended) this.drop(m);
          },
          () => {
            // Unreachable for this one: counted as not accepted.
            this.drop(m);
          },
        );
      });
      await Promise.all(batch);
    }
    return out;
  }

  private pump(m: Member): void {
    const watch = m.watch as OpenedWatch;
    void (async () => {
      const decoder = new TextDecoder();
      let buffered = "";
      try {
        for await (const chunk of watch.body) {
          if (m.closed || this.ended) break;
          buffered += decoder.decode(chunk, { stream: true });
          let nl = buffered.indexOf("\n");
          while (nl !== -1) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            if (line.trim()) this.event(m, line);
            nl = buffered.indexOf("\n");
          }
          await this.writing;
        }
      } catch {
        // The upstream watch broke: the merged one ends below, as when it closes.
      }
      // One namespace's watch ended on its own (timeout, apiserver restart): end the merged watch.
      if (!m.closed) this.close();
    })();
  }

  private event(m: Member, line: string): void {
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    if (!isObject(e) || !isObject(e.object) || typeof e.type !== "string") return;
    const object = e.object;
    const meta = isObject(object.metadata) ? object.metadata : {};
    const version = typeof meta.resourceVersion === "string" ? meta.resourceVersion : "";
    if (e.type === "ERROR") {
      this.send(e);
      this.close();
      return;
    }
    if (e.type === "BOOKMARK") {
      if (version) m.version = version;
      this.bookmarkShape ??= object;
      const annotations = isObject(meta.annotations) ? meta.annotations : {};
      if (annotations[INITIAL_EVENTS_END] === "true") m.initialDone = true;
      this.bookmark();
      return;
    }
    if (version) m.version = version;
    for (const [key, shown] of shownOf(object)) {
      if (e.type === "DELETED") m.shown.delete(key);
      else m.shown.set(key, shown);
    }
    this.send(e);
  }

  /** Sends a merged bookmark when every watch has reached a revision past the last one sent. */
  private bookmark(): void {
    let low = "";
    for (const m of this.members.values()) {
      if (m.watch?.code !== 200) continue;
      if (!m.version) return;
      low = low ? lowerVersion(low, m.version) : m.version;
    }
    const initialEnd =
      this.watchList && !this.initialSent && [...this.members.values()].every((m) => m.initialDone);
    if (!low || (!initialEnd && !this.bookmarks)) return;
    if (!initialEnd && this.lastBookmark && lowerVersion(low, this.lastBookmark) === low) return;
    this.lastBookmark = low;
    const shape = this.bookmarkShape ?? {};
    const metadata: Record<string, unknown> = { resourceVersion: low };
    if (initialEnd) {
      this.initialSent = true;
      metadata.annotations = { [INITIAL_EVENTS_END]: "true" };
    }
    this.send({ type: "BOOKMARK", object: { ...shape, metadata } });
  }

  private send(event: Record<string, unknown>): void {
    if (this.ended && event.type !== "ERROR") return;
    if (!this.o.write(`${JSON.stringify(event)}\n`)) this.writing = this.writing.then(() => this.o.drained());
  }
}

/**
 * The objects an event shows (one; a Table event, one per row), each keyed by namespace/name, with what a
 * DELETED event needs to name it: the object's identity for plain objects, the last Table for rows.
 */
function shownOf(object: Record<string, unknown>): [string, Shown][] {
  if (object.kind === "Table" && Array.isArray(object.rows)) {
    const out: [string, Shown][] = [];
    for (const row of object.rows) {
      const meta =
        isObject(row) && isObject(row.object) && isObject(row.object.metadata)
          ? row.object.metadata
          : undefined;
      if (meta) out.push([`${String(meta.namespace)}/${String(meta.name)}`, { ...object, rows: [row] }]);
    }
    return out;
  }
  const meta = isObject(object.metadata) ? object.metadata : {};
  const identity: Record<string, unknown> = {};
  for (const k of ["name", "namespace", "uid", "resourceVersion"])
    if (meta[k] !== undefined) identity[k] = meta[k];
  return [
    [
      `${String(meta.namespace)}/${String(meta.name)}`,
      {
        ...(object.apiVersion ? { apiVersion: object.apiVersion } : {}),
        ...(object.kind ? { kind: object.kind } : {}),
        metadata: identity,
      },
    ],
  ];
}
