import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { consistentNamespaceList, readsOf } from "./consistent-namespace-list.ts";

const q = (s: string) => new URLSearchParams(s);
const row = (name: string) => ({ cells: [name], object: { metadata: { name } } });

describe("consistent namespace list", () => {
  it("narrows the client's query per selector and per granted name, never pinning a revision", () => {
    const reads = readsOf(
      q("fieldSelector=status.phase%3DActive&resourceVersion=0&resourceVersionMatch=NotOlderThan"),
      {
        labelSelectors: ["t in (a,b)", "team in (x)"],
        names: ["n1"],
      },
    );
    assert.deepEqual(
      reads.map((r) => r.toString()),
      [
        "fieldSelector=status.phase%3DActive&labelSelector=t+in+%28a%2Cb%29",
        "fieldSelector=status.phase%3DActive&labelSelector=team+in+%28x%29",
        "fieldSelector=status.phase%3DActive%2Cmetadata.name%3Dn1",
      ],
    );
  });

  it("many granted names are one whole list instead; no grants, no reads", () => {
    const names = Array.from({ length: 17 }, (_, i) => `n${i}`);
    assert.deepEqual(readsOf(q("labelSelector=a%3Db"), { labelSelectors: ["t in (a)"], names }).map(String), [
      "labelSelector=a%3Db",
    ]);
    assert.deepEqual(readsOf(q(""), { labelSelectors: [], names: [] }), []);
  });

  it("merges Tables by name, once each, at the lowest revision, without paging hints", async () => {
    const pages: Record<string, unknown>[] = [
      {
        kind: "Table",
        columnDefinitions: [{ name: "Name" }],
        metadata: { resourceVersion: "12", continue: "x", remainingItemCount: 3 },
        rows: [row("b"), row("a")],
      },
      {
        kind: "Table",
        columnDefinitions: [{ name: "Name" }],
        metadata: { resourceVersion: "9" },
        rows: [row("a"), row("c")],
      },
    ];
    let i = 0;
    const merged = await consistentNamespaceList(
      q(""),
      { labelSelectors: ["t in (a)", "u in (b)"], names: [] },
      async () => ({ code: 200, body: pages[i++] ?? {} }),
    );
    assert.equal(merged?.code, 200);
    const body = merged?.body as {
      rows: ReturnType<typeof row>[];
      metadata: Record<string, unknown>;
      columnDefinitions: unknown[];
    };
    assert.deepEqual(
      body.rows.map((r) => r.object.metadata.name),
      ["a", "b", "c"],
    );
    assert.deepEqual(body.metadata, { resourceVersion: "9" });
    assert.equal(body.columnDefinitions.length, 1);
  });

  it("a read that failed is the answer", async () => {
    const merged = await consistentNamespaceList(
      q("labelSelector=%21%21"),
      { labelSelectors: ["t in (a)"], names: ["n"] },
      async (r) =>
        r.get("fieldSelector")
          ? { code: 200, body: { items: [] } }
          : { code: 400, body: { kind: "Status", code: 400 } },
    );
    assert.equal(merged?.code, 400);
    assert.equal(
      await consistentNamespaceList(q(""), { labelSelectors: [], names: [] }, async () =>
        assert.fail("read"),
      ),
      undefined,
    );
  });
});
