import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KubeObject } from "../../kube/informer.ts";
import { NAMESPACE_COLUMNS } from "../../kube/table.ts";
import {
  cachedNamespaceList,
  type NamespaceSnapshot,
  type NamespaceWatchSource,
  serveNamespaceWatch,
} from "./cached-list.ts";
import type { WatchResponse } from "./watch-sink.ts";

/** A watch chunk as text: JSON events are written as shared bytes, Table events as strings. */
const text = (chunk: string | Uint8Array) =>
  typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");

const NOW = Date.parse("2026-01-10T12:00:00Z");
const TABLE =
  "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

const ns = (name: string, labels: Record<string, string>, phase = "Active", watched = false): KubeObject =>
  ({
    ...(watched ? { kind: "Namespace", apiVersion: "v1" } : {}),
    metadata: {
      name,
      labels,
      resourceVersion: "5",
      uid: `uid-${name}`,
      creationTimestamp: "2026-01-10T09:00:00Z",
      managedFields: [{ manager: "kubectl" }],
    },
    spec: { finalizers: ["kubernetes"] },
    status: { phase },
  }) as KubeObject;

const ITEMS = [
  ns("oil-prod", { tenant: "oil", env: "prod" }, "Active", true),
  ns("gas-dev", { tenant: "gas" }),
  ns("oil-dev", { tenant: "oil", env: "dev" }),
  ns("oil-old", { tenant: "oil", env: "dev" }, "Terminating"),
];
const snapshot = (resourceVersion: string | undefined = "100"): NamespaceSnapshot => ({
  items: ITEMS,
  resourceVersion,
});
const oil = (o: KubeObject) => o.metadata.labels?.tenant === "oil";
const list = (query = "", accept?: string, snap = snapshot()) =>
  cachedNamespaceList(snap, oil, new URLSearchParams(query), accept, NOW);
const names = (query = "") =>
  (list(query)?.body.items as KubeObject[] | undefined)?.map((i) => i.metadata.name);

describe("cachedNamespaceList: JSON", () => {
  it("answers the visible namespaces, whole, sorted by name, at the informer's resourceVersion", () => {
    const a = list();
    assert.ok(a);
    assert.equal(a.contentType, "application/json");
    assert.equal(a.body.kind, "NamespaceList");
    assert.equal(a.body.apiVersion, "v1");
    assert.deepEqual(a.body.metadata, { resourceVersion: "100" });
    const items = a.body.items as Record<string, unknown>[];
    assert.deepEqual(
      items.map((i) => (i.metadata as { name: string }).name),
      ["oil-dev", "oil-old", "oil-prod"],
    );
    // Items in a list have no type meta, even those the informer got from watch events.
    assert.ok(items.every((i) => !("kind" in i) && !("apiVersion" in i)));
    assert.deepEqual(items[0]?.status, { phase: "Active" });
    assert.deepEqual(items[0]?.spec, { finalizers: ["kubernetes"] });
  });

  it("honours labelSelector and fieldSelector (metadata.name, status.phase)", () => {
    assert.deepEqual(names("labelSelector=env%3Ddev"), ["oil-dev", "oil-old"]);
    assert.deepEqual(names("labelSelector=env+notin+(prod)"), ["oil-dev", "oil-old"]);
    assert.deepEqual(names("labelSelector=tenant%3Dgas"), []); // visible wins: gas is not the user's
    assert.deepEqual(names("fieldSelector=metadata.name%3Doil-prod"), ["oil-prod"]);
    assert.deepEqual(names("fieldSelector=status.phase!%3DActive"), ["oil-old"]);
    assert.deepEqual(names("fieldSelector=status.phase%3D%3DActive&labelSelector=env"), [
      "oil-dev",
      "oil-prod",
    ]);
  });

  it("leaves unsupported fields and selectors the apiserver rejects to the apiserver", () => {
    assert.equal(list("fieldSelector=metadata.namespace%3Dx"), undefined);
    assert.equal(list("fieldSelector=spec.finalizers%3Dx"), undefined);
    assert.equal(list("fieldSelector=nonsense"), undefined);
    assert.equal(list("labelSelector=a+in+b"), undefined);
  });

  it("answers a limit the visible set fits in, without a continue token; pages go upstream", () => {
    assert.deepEqual(names("limit=3"), ["oil-dev", "oil-old", "oil-prod"]);
    assert.deepEqual(names("limit=500"), ["oil-dev", "oil-old", "oil-prod"]);
    assert.deepEqual(names("limit=0"), ["oil-dev", "oil-old", "oil-prod"]);
    assert.equal(list("limit=2"), undefined);
    assert.equal(list("limit=-1"), undefined);
    assert.equal(list("limit=3&continue=abc"), undefined);
    assert.deepEqual(names("limit=1&labelSelector=env%3Dprod"), ["oil-prod"]);
  });

  it("serves resourceVersions the cache satisfies; Exact and newer ones go upstream", () => {
    for (const q of [
      "resourceVersion=",
      "resourceVersion=0",
      "resourceVersion=99",
      "resourceVersion=100",
      "resourceVersion=100&resourceVersionMatch=NotOlderThan",
      "resourceVersion=0&resourceVersionMatch=NotOlderThan",
      "resourceVersion=0&limit=500",
    ])
      assert.ok(list(q), q);
    for (const q of [
      "resourceVersion=101",
      "resourceVersion=99999999999999999999",
      "resourceVersion=101&resourceVersionMatch=NotOlderThan",
      "resourceVersion=100&resourceVersionMatch=Exact",
      "resourceVersion=50&limit=500", // a non-zero RV with a limit is Exact for the apiserver
      "resourceVersionMatch=NotOlderThan", // the apiserver's 400
      "resourceVersion=abc",
    ])
      assert.equal(list(q), undefined, q);
  });

  it("goes upstream when the informer cannot vouch for its store, or for unknown parameters", () => {
    assert.equal(list("", undefined, { items: ITEMS, resourceVersion: undefined }), undefined);
    assert.equal(list("sendInitialEvents=true"), undefined);
    assert.equal(list("shardSelector=x"), undefined);
    assert.ok(list("timeoutSeconds=30&pretty=true"));
  });
});

describe("cachedNamespaceList: Table", () => {
  it("builds the apiserver's Table: columns, cells and PartialObjectMetadata rows", () => {
    const a = list("", TABLE);
    assert.ok(a);
    assert.equal(a.contentType, "application/json");
    assert.equal(a.body.kind, "Table");
    assert.equal(a.body.apiVersion, "meta.k8s.io/v1");
    assert.deepEqual(a.body.metadata, { resourceVersion: "100" });
    assert.deepEqual(a.body.columnDefinitions, NAMESPACE_COLUMNS);
    assert.deepEqual(
      (a.body.columnDefinitions as readonly { name: string }[]).map((c) => c.name),
      ["Name", "Status", "Age"],
    );
    const rows = a.body.rows as { cells: unknown[]; object: Record<string, unknown> }[];
    assert.deepEqual(
      rows.map((r) => r.cells),
      [
        ["oil-dev", "Active", "3h"],
        ["oil-old", "Terminating", "3h"],
        ["oil-prod", "Active", "3h"],
      ],
    );
    assert.deepEqual(rows[2]?.object, {
      kind: "PartialObjectMetadata",
      apiVersion: "meta.k8s.io/v1",
      metadata: (ITEMS[0] as KubeObject).metadata,
    });
  });

  it("honours includeObject=None and includeObject=Object", () => {
    const none = list("includeObject=None", TABLE)?.body.rows as { object: unknown }[];
    assert.ok(none.every((r) => r.object === null));
    const whole = list("includeObject=Object", TABLE)?.body.rows as { object: Record<string, unknown> }[];
    assert.equal(whole[0]?.object.kind, "Namespace");
    assert.equal(whole[0]?.object.apiVersion, "v1");
    assert.deepEqual(whole[0]?.object.status, { phase: "Active" });
    assert.equal(list("includeObject=Everything", TABLE), undefined);
  });

  it("leaves Tables of other versions to the apiserver", () => {
    assert.equal(list("", "application/json;as=Table;v=v1beta1;g=meta.k8s.io"), undefined);
    assert.equal(list("", "application/json")?.body.kind, "NamespaceList");
  });
});

describe("serveNamespaceWatch", () => {
  type Handler = Parameters<NamespaceWatchSource["subscribe"]>[0];
  function harness(
    query: string,
    accept?: string,
    resourceVersion = "100",
    bookmarkMs?: number,
    access?: { visible: () => (o: KubeObject) => boolean },
  ) {
    const handlers = new Set<Handler>();
    const accessHandlers = new Set<() => void>();
    const store = new Map(ITEMS.map((o) => [o.metadata.name, o]));
    const source: NamespaceWatchSource = {
      snapshot: { items: store.values(), resourceVersion },
      resourceVersion: () => "123",
      subscribe: (h) => {
        handlers.add(h);
        return () => handlers.delete(h);
      },
      ...(access
        ? {
            access: {
              visible: access.visible,
              // As the index answers: only what the new view selects; what stops being visible
              // must come from what the watch shows.
              items: () => [...store.values()].filter(access.visible()),
              subscribe: (h: () => void) => {
                accessHandlers.add(h);
                return () => accessHandlers.delete(h);
              },
            },
          }
        : {}),
    };
    const written: string[] = [];
    let onClose = () => {};
    const res: WatchResponse & { ended: boolean; head?: number } = {
      ended: false,
      writableLength: 0,
      writeHead(code) {
        res.head = code;
      },
      write(chunk) {
        written.push(text(chunk));
        return true;
      },
      end() {
        res.ended = true;
      },
      once(_e, l) {
        onClose = l;
      },
    };
    const served = serveNamespaceWatch(source, oil, new URLSearchParams(query), accept, res, bookmarkMs);
    const events = () =>
      written.map(
        (l) =>
          JSON.parse(l) as {
            type: string;
            object: Record<string, unknown> & { metadata?: { name: string } };
          },
      );
    const emit: Handler = (type, obj, old) => {
      for (const h of handlers) h(type, obj, old);
    };
    const accessChanged = () => {
      for (const h of accessHandlers) h();
    };
    return { served, res, events, emit, handlers, accessHandlers, accessChanged, close: () => onClose() };
  }

  it("follows access changes: what becomes visible is ADDED, what stops being is DELETED (issue #20)", () => {
    let visible = oil;
    const h = harness("watch=1", undefined, "100", undefined, { visible: () => visible });
    const initial = h.events().length;
    // A RoleBinding in gas-dev: the user now sees it too, though no namespace changed.
    visible = (o) => oil(o) || o.metadata.name === "gas-dev";
    h.accessChanged();
    assert.deepEqual(
      h
        .events()
        .slice(initial)
        .map((e) => `${e.type} ${e.object.metadata?.name}`),
      ["ADDED gas-dev"],
    );
    // Nothing changed: nothing sent.
    h.accessChanged();
    assert.equal(h.events().length, initial + 1);
    // The tenant's owners lost the user: every namespace goes.
    visible = () => false;
    h.accessChanged();
    assert.deepEqual(
      h
        .events()
        .slice(initial + 1)
        .map((e) => `${e.type} ${e.object.metadata?.name}`),
      ["DELETED gas-dev", "DELETED oil-dev", "DELETED oil-old", "DELETED oil-prod"],
    );
    // Later namespace events are judged by the new view.
    h.emit("ADDED", ns("oil-new", { tenant: "oil" }));
    assert.equal(h.events().length, initial + 5);
    h.close();
    assert.equal(h.accessHandlers.size, 0, "the subscription ends with the watch");
  });

  it("starts with the current state as ADDED events when no resourceVersion is given, then follows", async () => {
    const h = harness("watch=1&labelSelector=env");
    assert.ok(h.served);
    assert.equal(h.res.head, 200);
    assert.deepEqual(
      h.events().map((e) => [e.type, e.object.metadata?.name, e.object.kind, e.object.apiVersion]),
      [
        ["ADDED", "oil-dev", "Namespace", "v1"],
        ["ADDED", "oil-old", "Namespace", "v1"],
        ["ADDED", "oil-prod", "Namespace", "v1"],
      ],
    );
    const before = ns("oil-new", { tenant: "oil" });
    const after = ns("oil-new", { tenant: "oil", env: "x" });
    h.emit("ADDED", before); // not selected: no env label
    h.emit("MODIFIED", after, before); // enters the selection
    h.emit("MODIFIED", after, after);
    const gone = ns("oil-new", { tenant: "gas", env: "x" });
    gone.metadata.resourceVersion = "7";
    h.emit("MODIFIED", gone, after); // leaves: not visible any more
    h.emit("ADDED", ns("gas-x", { tenant: "gas", env: "x" })); // never visible
    h.emit("DELETED", ns("oil-dev", { tenant: "oil", env: "dev" }), ITEMS[2]);
    assert.deepEqual(
      h
        .events()
        .slice(3)
        .map((e) => [e.type, e.object.metadata?.name]),
      [
        ["ADDED", "oil-new"],
        ["MODIFIED", "oil-new"],
        ["DELETED", "oil-new"],
        ["DELETED", "oil-dev"],
      ],
    );
    // The DELETED of an object leaving the selection is its last selected state, at the change's RV.
    const left = h.events()[5]?.object.metadata as unknown as {
      labels: Record<string, string>;
      resourceVersion: string;
    };
    assert.deepEqual([left.labels.tenant, left.resourceVersion], ["oil", "7"]);
    h.close();
    assert.equal(await h.served, 200);
    assert.equal(h.res.ended, true);
    assert.equal(h.handlers.size, 0);
  });

  it("from the informer's own resourceVersion: changes only; older or newer ones go upstream", () => {
    const h = harness("watch=1&resourceVersion=100");
    assert.ok(h.served);
    assert.deepEqual(h.events(), []);
    h.close();
    for (const q of [
      "watch=1&resourceVersion=99",
      "watch=1&resourceVersion=101",
      "watch=1&resourceVersion=100&resourceVersionMatch=NotOlderThan",
      "watch=1&sendInitialEvents=true",
      "watch=1&fieldSelector=spec.x%3Dy",
      "watch=1&timeoutSeconds=abc",
    ]) {
      const x = harness(q);
      assert.equal(x.served, undefined, q);
      assert.equal(x.handlers.size, 0, q);
      assert.equal(x.res.head, undefined, q);
    }
    assert.equal(harness("watch=1", undefined, "").served, undefined);
  });

  it("Table events: one row each, the columns with the first event only", () => {
    const h = harness("watch=1&fieldSelector=metadata.name%3Doil-prod", TABLE);
    h.emit("MODIFIED", ITEMS[0] as KubeObject, ITEMS[0]);
    const [first, second] = h.events();
    assert.equal(first?.object.kind, "Table");
    assert.deepEqual(first?.object.columnDefinitions, NAMESPACE_COLUMNS);
    assert.equal(second?.object.columnDefinitions, null);
    assert.deepEqual((second?.object.rows as { cells: unknown[] }[] | undefined)?.[0]?.cells.slice(0, 2), [
      "oil-prod",
      "Active",
    ]);
    assert.deepEqual(second?.object.metadata, { resourceVersion: "5" });
    h.close();
  });

  it("ends at timeoutSeconds", async () => {
    const h = harness("watch=1&resourceVersion=100&timeoutSeconds=1");
    assert.equal(await h.served, 200);
    assert.equal(h.handlers.size, 0);
  });
});

describe("serveNamespaceWatch bookmarks", () => {
  it("sends the informer's resourceVersion as a BOOKMARK when asked, JSON only", async () => {
    const written: string[] = [];
    const make = (query: string, accept?: string) => {
      const close: (() => void)[] = [];
      const res: WatchResponse = {
        writableLength: 0,
        writeHead: () => undefined,
        write: (c) => written.push(text(c)) > 0,
        end: () => undefined,
        once: (_e, l) => close.push(l),
      };
      const served = serveNamespaceWatch(
        {
          snapshot: { items: [], resourceVersion: "100" },
          resourceVersion: () => "150",
          subscribe: () => () => {},
        },
        oil,
        new URLSearchParams(query),
        accept,
        res,
        20,
      );
      return {
        served,
        close: () => {
          for (const c of close) c();
        },
      };
    };
    const json = make("watch=1&resourceVersion=100&allowWatchBookmarks=true");
    await new Promise((r) => setTimeout(r, 70));
    json.close();
    assert.ok(written.length >= 2);
    assert.deepEqual(JSON.parse(written[0] as string), {
      type: "BOOKMARK",
      object: {
        kind: "Namespace",
        apiVersion: "v1",
        metadata: { resourceVersion: "150", creationTimestamp: null },
      },
    });
    written.length = 0;
    for (const w of [
      make("watch=1&resourceVersion=100"),
      make("watch=1&resourceVersion=100&allowWatchBookmarks=true", TABLE),
    ]) {
      await new Promise((r) => setTimeout(r, 50));
      w.close();
    }
    assert.deepEqual(written, []);
  });
});

describe("serveNamespaceWatch fan-out", () => {
  it("encodes an event once: every JSON watcher is written the same bytes", () => {
    const handlers = new Set<Parameters<NamespaceWatchSource["subscribe"]>[0]>();
    const source: NamespaceWatchSource = {
      snapshot: { items: [], resourceVersion: "100" },
      resourceVersion: () => "100",
      subscribe: (h) => {
        handlers.add(h);
        return () => handlers.delete(h);
      },
    };
    const chunks: (string | Uint8Array)[][] = [[], []];
    const closers: (() => void)[] = [];
    for (const out of chunks) {
      const res: WatchResponse = {
        writableLength: 0,
        writeHead: () => undefined,
        write: (c) => out.push(c) > 0,
        end: () => undefined,
        once: (_e, l) => closers.push(l),
      };
      serveNamespaceWatch(source, oil, new URLSearchParams("watch=1&resourceVersion=100"), undefined, res);
    }
    const created = ns("oil-shared", { tenant: "oil" });
    for (const h of handlers) h("ADDED", created, undefined);
    for (const close of closers) close();
    assert.equal(chunks[0]?.length, 1);
    assert.ok(chunks[0]?.[0] instanceof Uint8Array, "bytes: a string would be encoded again per socket");
    assert.equal(chunks[0]?.[0], chunks[1]?.[0], "the same Buffer, not two encodings");
    assert.equal(JSON.parse(text(chunks[0]?.[0] as Uint8Array)).object.metadata.name, "oil-shared");
  });
});
