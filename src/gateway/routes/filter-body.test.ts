import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KubeObject } from "../../kube/informer.ts";
import { filterBody, filterWatchLine } from "./filter-body.ts";

const visible = (o: KubeObject) => o.metadata.name.startsWith("ok-");
const ns = (name: string) => ({ kind: "Namespace", apiVersion: "v1", metadata: { name } });

describe("filterBody", () => {
  it("keeps only visible items of a list and drops the remaining count", () => {
    const out = filterBody(
      {
        kind: "NamespaceList",
        metadata: { resourceVersion: "5", remainingItemCount: 7 },
        items: [ns("ok-a"), ns("secret"), ns("ok-b")],
      },
      visible,
    );
    assert.deepEqual(
      ((out?.items ?? []) as KubeObject[]).map((i) => i.metadata.name),
      ["ok-a", "ok-b"],
    );
    assert.deepEqual(out?.metadata, { resourceVersion: "5" });
  });

  it("filters Table rows by their object's metadata; rows without metadata are dropped", () => {
    const out = filterBody(
      {
        kind: "Table",
        metadata: {},
        rows: [
          { cells: ["ok-a"], object: { metadata: { name: "ok-a" } } },
          { cells: ["secret"], object: { metadata: { name: "secret" } } },
          { cells: ["x"] },
        ],
      },
      visible,
    );
    assert.deepEqual(out?.rows, [{ cells: ["ok-a"], object: { metadata: { name: "ok-a" } } }]);
  });

  it("a single invisible object is nothing", () => {
    assert.equal(filterBody(ns("secret"), visible), undefined);
    assert.deepEqual(filterBody(ns("ok-x"), visible), ns("ok-x"));
  });
});

describe("filterWatchLine", () => {
  it("passes visible events, bookmarks and errors; drops invisible events and empty Table events", () => {
    const line = (type: string, object: unknown) => JSON.stringify({ type, object });
    assert.equal(filterWatchLine(line("ADDED", ns("ok-a")), visible), `${line("ADDED", ns("ok-a"))}\n`);
    assert.equal(filterWatchLine(line("MODIFIED", ns("secret")), visible), undefined);
    assert.equal(filterWatchLine(line("DELETED", ns("secret")), visible), undefined);
    const bookmark = line("BOOKMARK", { kind: "Namespace", metadata: { resourceVersion: "9" } });
    assert.equal(filterWatchLine(bookmark, visible), `${bookmark}\n`);
    const table = (names: string[]) => ({
      kind: "Table",
      metadata: {},
      rows: names.map((n) => ({ object: { metadata: { name: n } } })),
    });
    assert.equal(filterWatchLine(line("ADDED", table(["secret"])), visible), undefined);
    assert.deepEqual(
      JSON.parse(filterWatchLine(line("ADDED", table(["secret", "ok-z"])), visible) ?? "").object.rows,
      [{ object: { metadata: { name: "ok-z" } } }],
    );
    assert.equal(
      filterWatchLine("not json", visible),
      undefined,
      "a line that cannot be judged is not emitted",
    );
    assert.equal(filterWatchLine("", visible), undefined);
  });
});
