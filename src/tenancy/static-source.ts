import type { KubeObject } from "../kube/informer.ts";
import type { Source } from "./index.ts";

const keyOf = (o: KubeObject) =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

/** A Source fed by hand: what an informer would hold, for tests and tools that have no cluster. */
export class StaticSource<T extends KubeObject> implements Source<T> {
  private readonly store = new Map<string, T>();
  private readonly handlers: (() => void)[] = [];
  readonly synced = Promise.resolve();
  started = false;

  constructor(items: readonly T[] = []) {
    for (const i of items) this.store.set(keyOf(i), i);
  }

  onChange(handler: () => void): this {
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
    this.store.set(keyOf(item), item);
    for (const h of this.handlers) h();
  }

  /** Removes an object, as a DELETED event would. */
  delete(item: KubeObject): void {
    this.store.delete(keyOf(item));
    for (const h of this.handlers) h();
  }
}
