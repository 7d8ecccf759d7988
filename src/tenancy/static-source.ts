import type { KubeObject, WatchEventType } from "../kube/informer.ts";
import type { Source } from "./index.ts";

const keyOf = (o: KubeObject) =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

/** A Source fed by hand: what an informer would hold, for tests and tools that have no cluster. */
export class StaticSource<T extends KubeObject> implements Source<T> {
  private readonly store = new Map<string, T>();
  /** Called as an informer calls its handlers: the event's type, the object, the one it replaced. */
  private readonly handlers: ((type: WatchEventType, obj: KubeObject, old?: KubeObject) => void)[] = [];
  readonly synced = Promise.resolve();
  started = false;

  constructor(items: readonly T[] = []) {
    for (const i of items) this.store.set(keyOf(i), i);
  }

  onChange(handler: (type: WatchEventType, obj: KubeObject, old?: KubeObject) => void): this {
    this.handlers.push(handler);
    return this;
  }

  get(namespaceOrName: string, name?: string): T | undefined {
    return this.store.get(name === undefined ? namespaceOrName : `${namespaceOrName}/${name}`);
  }

  list(): Iterable<T> {
    return this.store.values();
  }

  start(): this {
    this.started = true;
    return this;
  }

  stop(): void {
    this.started = false;
  }

  /** Adds or replaces an object, as an ADDED or MODIFIED event would. */
  put(item: T): void {
    const old = this.store.get(keyOf(item));
    this.store.set(keyOf(item), item);
    for (const h of this.handlers) h(old ? "MODIFIED" : "ADDED", item, old);
  }

  /** Removes an object, as a DELETED event would. */
  delete(item: KubeObject): void {
    const old = this.store.get(keyOf(item)) ?? item;
    this.store.delete(keyOf(item));
    for (const h of this.handlers) h("DELETED", old, old);
  }
}
