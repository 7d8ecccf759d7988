import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StreamBudget } from "../stream-budget.ts";
import { FanOutWatch, type OpenedWatch } from "./fanout-watch.ts";

/** One namespace's upstream watch, fed by the test. */
class FakeWatch implements OpenedWatch {
  closed = false;
  private queue: Buffer[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  constructor(
    readonly code: number,
    readonly query: URLSearchParams,
  ) {}
  push(event: unknown) {
    this.queue.push(Buffer.from(`${JSON.stringify(event)}\n`));
    this.wake?.();
  }
  end() {
    this.ended = true;
    this.wake?.();
  }
  close() {
    this.closed = true;
    this.end();
  }
  text() {
    return Promise.resolve(JSON.stringify({ kind: "Status", code: this.code }));
  }
  get body(): AsyncIterable<Buffer> {
    const self = this;
    return (async function* () {
      for (;;) {
        const next = self.queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (self.ended) return;
        await new Promise<void>((r) => {
          self.wake = r;
        });
      }
    })();
  }
}

const pod = (ns: string, name: string, rv: string) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: ns, uid: `u-${name}`, resourceVersion: rv, labels: { big: "x".repeat(10) } },
  spec: { containers: [] },
});
const tick = () => new Promise((r) => setTimeout(r, 5));

function setup(
  namespaces: string[],
  o: { codes?: Record<string, number>; query?: string; budget?: StreamBudget } = {},
) {
  let visible = namespaces;
  const watches = new Map<string, FakeWatch[]>();
  const lines: Record<string, unknown>[] = [];
  const fan = new FanOutWatch({
    namespaces: () => visible,
    query: new URLSearchParams(o.query ?? ""),
    concurrency: 2,
    ...(o.budget
      ? { budget: { take: () => o.budget?.take("u") ?? false, give: () => o.budget?.give("u") } }
      : {}),
    open: (ns, query) => {
      const w = new FakeWatch(o.codes?.[ns] ?? 200, query);
      watches.set(ns, [...(watches.get(ns) ?? []), w]);
      return Promise.resolve(w);
    },
    write: (line) => {
      lines.push(JSON.parse(line) as Record<string, unknown>);
      return true;
    },
    drained: () => Promise.resolve(),
  });
  const last = (ns: string) => watches.get(ns)?.at(-1) as FakeWatch;
  const types = () =>
    lines.map((l) => {
      const m = (l.object as { metadata: { namespace?: string; name?: string; resourceVersion?: string } })
        .metadata;
      return `${l.type} ${m.namespace ?? ""}/${m.name ?? ""}@${m.resourceVersion ?? ""}`;
    });
  return {
    fan,
    watches,
    last,
    lines,
    types,
    see: (ns: string[]) => {
      visible = ns;
    },
  };
}

describe("all-namespaces watch, merged from the user's namespaces", () => {
  it("passes each namespace's events on; namespaces refusing the user are left out", async () => {
    const s = setup(["a", "b", "c"], { codes: { b: 403 }, query: "resourceVersion=10&labelSelector=x%3Dy" });
    const started = await s.fan.start();
    assert.equal(started.kind, "streaming");
    assert.equal(s.last("b").closed, true);
    assert.equal(s.last("a").query.get("resourceVersion"), "10");
    assert.equal(s.last("a").query.get("labelSelector"), "x=y");
    s.last("a").push({ type: "ADDED", object: pod("a", "p1", "11") });
    s.last("c").push({ type: "MODIFIED", object: pod("c", "q1", "12") });
    await tick();
    assert.deepEqual(s.types(), ["ADDED a/p1@11", "MODIFIED c/q1@12"]);
    s.fan.close();
  });

  it("no namespace accepting is 'refused' (the apiserver answers); another refusal is 'failed'", async () => {
    assert.equal((await setup(["a", "b"], { codes: { a: 403, b: 403 } }).fan.start()).kind, "refused");
    const failed = await setup(["a", "b"], { codes: { b: 400 } }).fan.start();
    assert.equal(failed.kind, "failed");
    assert.equal(failed.kind === "failed" && failed.code, 400);
  });

  it("follows the index: a namespace that goes is DELETED object by object, one that comes is watched from now", async () => {
    const s = setup(["a", "b"], { query: "resourceVersion=10" });
    await s.fan.start();
    s.last("a").push({ type: "ADDED", object: pod("a", "p1", "11") });
    s.last("a").push({ type: "ADDED", object: pod("a", "p2", "12") });
    s.last("a").push({ type: "DELETED", object: pod("a", "p2", "13") });
    s.last("b").push({ type: "ADDED", object: pod("b", "q1", "14") });
    await tick();
    s.see(["b", "c"]);
    await s.fan.reconcile();
    assert.equal(s.last("a").closed, true);
    // The new namespace's watch starts at its current state: no resourceVersion of the client's.
    assert.equal(s.last("c").query.has("resourceVersion"), false);
    s.last("c").push({ type: "ADDED", object: pod("c", "r1", "20") });
    await tick();
    assert.deepEqual(s.types().slice(4), ["DELETED a/p1@11", "ADDED c/r1@20"]);
    const deleted = s.lines[4] as { object: Record<string, unknown> };
    // Enough to name the object, nothing of what it held.
    assert.deepEqual(deleted.object, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p1", namespace: "a", uid: "u-p1", resourceVersion: "11" },
    });
    // Watching it again later starts over.
    s.see(["a", "b", "c"]);
    await s.fan.reconcile();
    assert.equal(s.watches.get("a")?.length, 2);
    s.fan.close();
  });

  it("a namespace refused at first is tried again at the next change (a RoleBinding came)", async () => {
    const codes: Record<string, number> = { b: 403 };
    const s = setup(["a", "b"], { codes });
    await s.fan.start();
    codes.b = 200;
    await s.fan.reconcile();
    assert.equal(s.watches.get("b")?.length, 2);
    assert.equal(s.last("b").closed, false);
    s.fan.close();
  });

  it("a namespace that just became visible but still refuses is tried again shortly (RBAC lags the index)", async () => {
    const codes: Record<string, number> = { b: 403 };
    const s = setup(["a"], { codes });
    await s.fan.start();
    s.see(["a", "b"]);
    await s.fan.reconcile();
    assert.equal(s.watches.get("b")?.length, 1);
    codes.b = 200;
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(s.watches.get("b")?.length, 2);
    assert.equal(s.last("b").closed, false);
    s.fan.close();
  });

  it("each namespace's watch holds one unit of the user's stream budget, given back whatever ends it", async () => {
    const budget = new StreamBudget(3);
    // More namespaces than the budget: refused whole ("limited", a 429), nothing kept open.
    const over = setup(["a", "b", "c", "d"], { budget });
    assert.equal((await over.fan.start()).kind, "limited");
    assert.equal(budget.heldBy("u"), 0);
    assert.ok([...over.watches.values()].flat().every((w) => w.closed));

    const s = setup(["a", "b"], { budget, codes: { b: 403 } });
    await s.fan.start();
    assert.equal(budget.heldBy("u"), 1, "a refused namespace gives its unit back");
    s.see(["a", "c", "d"]);
    await s.fan.reconcile();
    assert.equal(budget.heldBy("u"), 3);
    s.see(["c"]);
    await s.fan.reconcile();
    assert.equal(budget.heldBy("u"), 1);
    // Growing past the budget ends the merged watch: the client watches again and is told why.
    s.see(["c", "e", "f", "g"]);
    await s.fan.reconcile();
    assert.equal(budget.heldBy("u"), 0);
    assert.equal(budget.users, 0);
  });

  it("Table events: the row's last Table is what DELETED carries", async () => {
    const s = setup(["a"]);
    await s.fan.start();
    const table = {
      kind: "Table",
      apiVersion: "meta.k8s.io/v1",
      metadata: { resourceVersion: "30" },
      rows: [
        {
          cells: ["p1", "Running"],
          object: { kind: "PartialObjectMetadata", metadata: { name: "p1", namespace: "a" } },
        },
      ],
    };
    s.last("a").push({ type: "ADDED", object: table });
    await tick();
    s.see([]);
    await s.fan.reconcile();
    assert.deepEqual(s.lines.at(-1), { type: "DELETED", object: table });
    s.fan.close();
  });

  it("bookmarks carry the lowest revision every watch has reached, and only when it rises", async () => {
    const s = setup(["a", "b"], { query: "allowWatchBookmarks=true&resourceVersion=10" });
    await s.fan.start();
    const mark = (rv: string) => ({
      type: "BOOKMARK",
      object: { kind: "Pod", apiVersion: "v1", metadata: { resourceVersion: rv } },
    });
    s.last("a").push(mark("50"));
    await tick();
    // b is still at 10: the merged bookmark may say 10, and it is new.
    assert.deepEqual(s.types(), ["BOOKMARK /@10"]);
    s.last("a").push(mark("60"));
    await tick();
    assert.equal(s.lines.length, 1, "still 10: nothing new to say");
    s.last("b").push(mark("55"));
    await tick();
    assert.deepEqual(s.types(), ["BOOKMARK /@10", "BOOKMARK /@55"]);
    s.fan.close();
  });

  it("watch-list: one initial-events-end bookmark, once every namespace has sent its own", async () => {
    const s = setup(["a", "b"], {
      query: "sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan",
    });
    await s.fan.start();
    const end = (rv: string) => ({
      type: "BOOKMARK",
      object: {
        kind: "Pod",
        apiVersion: "v1",
        metadata: { resourceVersion: rv, annotations: { "k8s.io/initial-events-end": "true" } },
      },
    });
    s.last("a").push({ type: "ADDED", object: pod("a", "p1", "5") });
    s.last("a").push(end("40"));
    await tick();
    assert.deepEqual(s.types(), ["ADDED a/p1@5"]);
    s.last("b").push(end("42"));
    await tick();
    assert.deepEqual(s.types(), ["ADDED a/p1@5", "BOOKMARK /@40"]);
    const second = s.lines[1] as { object: { metadata: { annotations?: Record<string, string> } } };
    const annotations = second.object.metadata.annotations;
    assert.deepEqual(annotations, { "k8s.io/initial-events-end": "true" });
    s.fan.close();
  });

  it("one namespace's watch ending or erring ends the merged watch and closes the others", async () => {
    const s = setup(["a", "b"]);
    const started = await s.fan.start();
    assert.equal(started.kind, "streaming");
    s.last("a").end();
    await (started.kind === "streaming" ? started.done : undefined);
    assert.equal(s.last("b").closed, true);

    const t = setup(["a", "b"]);
    const again = await t.fan.start();
    t.last("b").push({
      type: "ERROR",
      object: { kind: "Status", code: 410, reason: "Expired", metadata: {} },
    });
    await (again.kind === "streaming" ? again.done : undefined);
    assert.equal(t.lines.at(-1)?.type, "ERROR");
    assert.equal(t.last("a").closed, true);
  });
});
