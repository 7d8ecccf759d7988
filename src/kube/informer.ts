import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../observability/logger.ts";
import { codeOf } from "../status/codes.ts";
import { KubegateError } from "../status/errors.ts";
import type { Upstream } from "./upstream.ts";

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

interface WatchEvent<T> {
  type: WatchEventType | "BOOKMARK" | "ERROR";
  object: T | { kind: "Status"; code?: number; message?: string };
}

const keyOf = (o: KubeObject) =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

/**
 * list + watch of one collection, kept in memory: the store answers reads without a round trip, and
 * handlers hear every change. It relists when the watch expires (410) or breaks, with backoff.
 */
export class Informer<T extends KubeObject> {
  // Whole objects, as the apiserver sent them (not trimmed to what the index reads): the gateway answers
  // tenant namespace lists from this store, and those must be the apiserver's objects. ~2 KB a namespace.
  private readonly store = new Map<string, T>();
  /** The resourceVersion the store reflects; undefined while it is being rebuilt after a failure. */
  private current: string | undefined;
  // Replaced, never changed in place: a handler removed while an event is being delivered (a served watch
  // that ends) must not make the loop in emit skip the next one.
  private handlers: readonly ((type: WatchEventType, obj: T, old?: T) => void)[] = [];
  private readonly abort = new AbortController();
  private resolveSynced!: () => void;
  /** Resolves after the first complete list. */
  readonly synced = new Promise<void>((r) => {
    this.resolveSynced = r;
  });

  constructor(
    private readonly upstream: Upstream,
    /** Collection path with its query, e.g. /api/v1/namespaces?labelSelector=x */
    private readonly path: string,
    private readonly log?: Logger,
  ) {}

  onChange(handler: (type: WatchEventType, obj: T, old?: T) => void): this {
    this.handlers = [...this.handlers, handler];
    return this;
  }

  /** Stops calling a handler given to onChange (a watch served from this store has ended). */
  offChange(handler: (type: WatchEventType, obj: T, old?: T) => void): void {
    this.handlers = this.handlers.filter((h) => h !== handler);
  }

  get(namespaceOrName: string, name?: string): T | undefined {
    return this.store.get(name === undefined ? namespaceOrName : `${namespaceOrName}/${name}`);
  }

  list(): IterableIterator<T> {
    return this.store.values();
  }

  get size(): number {
    return this.store.size;
  }

  /**
   * The resourceVersion the store is known to be current at (last list, event or bookmark), or undefined
   * when it may be stale: before the first list, and from a broken watch until the relist that repairs it.
   */
  get resourceVersion(): string | undefined {
    return this.current;
  }

  start(): this {
    void this.run();
    return this;
  }

  stop(): void {
    this.abort.abort();
  }

  private emit(type: WatchEventType, obj: T, old?: T): void {
    for (const h of this.handlers) {
      try {
        h(type, obj, old);
      } catch (err) {
        this.log?.error({ err, path: this.path }, "informer handler failed");
      }
    }
  }

  private url(extra: Record<string, string>): string {
    const [base = "", query = ""] = this.path.split("?");
    const params = new URLSearchParams(query);
    for (const [k, v] of Object.entries(extra)) params.set(k, v);
    return `${base}?${params}`;
  }

  private async relist(): Promise<string> {
    const res = await this.upstream.json<{
      metadata?: { resourceVersion?: string };
      items?: T[];
      message?: string;
    }>("GET", this.url({}));
    if (res.code !== 200)
      throw new KubegateError(`list ${this.path}: HTTP ${res.code} ${res.body.message ?? ""}`, {
        code: "KUBEGATE_UPSTREAM_REFUSED",
      });
    const seen = new Set<string>();
    for (const item of res.body.items ?? []) {
      const key = keyOf(item);
      seen.add(key);
      const old = this.store.get(key);
      this.store.set(key, item);
      if (!old) this.emit("ADDED", item);
      else if (old.metadata.resourceVersion !== item.metadata.resourceVersion)
        this.emit("MODIFIED", item, old);
    }
    for (const [key, old] of this.store) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.emit("DELETED", old);
      }
    }
    this.resolveSynced();
    const rv = res.body.metadata?.resourceVersion ?? "";
    this.current = rv === "" ? undefined : rv;
    return rv;
  }

  private async run(): Promise<void> {
    let backoff = 200;
    // undefined: the store must be rebuilt from a list; otherwise watch on from there.
    let rv: string | undefined;
    while (!this.abort.signal.aborted) {
      try {
        if (rv === undefined) rv = await this.relist();
        rv = await this.watch(rv);
        backoff = 200;
      } catch (err) {
        rv = undefined;
        this.current = undefined;
        if (this.abort.signal.aborted) return;
        this.log?.warn(
          { err: (err as Error).message, code: codeOf(err), path: this.path },
          "informer: list/watch failed; retrying",
        );
        await sleep(backoff).catch(() => undefined);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  /**
   * Follows the watch until it ends and returns the last resourceVersion to resume from, or undefined
   * when the apiserver says it is too old (an ERROR event, typically 410 Gone) and a relist is due.
   */
  private async watch(resourceVersion: string): Promise<string | undefined> {
    const headers = this.upstream.ownHeaders();
    const res = await this.upstream.streams.request({
      method: "GET",
      path: this.url({ watch: "1", resourceVersion, allowWatchBookmarks: "true", timeoutSeconds: "300" }),
      headers,
      signal: this.abort.signal,
    });
    if (res.statusCode !== 200) {
      await res.body.text().catch(() => "");
      throw new KubegateError(`watch ${this.path}: HTTP ${res.statusCode}`, {
        code: "KUBEGATE_UPSTREAM_REFUSED",
      });
    }
    let rv = resourceVersion;
    let buffered = "";
    for await (const chunk of res.body) {
      buffered += chunk.toString();
      let nl = buffered.indexOf("\n");
      while (nl !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf("\n");
        if (line.trim() === "") continue;
        const event = JSON.parse(line) as WatchEvent<T>;
        if (event.type === "ERROR") {
          this.current = undefined;
          return undefined;
        }
        const obj = event.object as T;
        rv = obj.metadata?.resourceVersion ?? rv;
        if (event.type === "BOOKMARK") {
          this.current = rv;
          continue;
        }
        const key = keyOf(obj);
        const old = this.store.get(key);
        if (event.type === "DELETED") this.store.delete(key);
        else this.store.set(key, obj);
        this.current = rv;
        this.emit(event.type, obj, old);
      }
    }
    return rv;
  }
}
