import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { age, humanDuration, wantsTable } from "./table.ts";

describe("humanDuration", () => {
  it("matches kubectl's AGE column", () => {
    const s = 1000;
    const m = 60 * s;
    const h = 60 * m;
    const d = 24 * h;
    const cases: [number, string][] = [
      [0, "0s"],
      [-1500, "0s"], // Go truncates -1.5 s to -1: tolerated clock skew
      [-2500, "<invalid>"],
      [59 * s, "59s"],
      [119 * s, "119s"],
      [2 * m, "2m"],
      [9 * m + 30 * s, "9m30s"],
      [10 * m + 30 * s, "10m"],
      [179 * m, "179m"],
      [3 * h, "3h"],
      [7 * h + 59 * m, "7h59m"],
      [8 * h, "8h"],
      [47 * h, "47h"],
      [2 * d, "2d"],
      [7 * d + 23 * h, "7d23h"],
      [8 * d, "8d"],
      [729 * d, "729d"],
      [730 * d, "2y"],
      [800 * d, "2y70d"],
      [3000 * d, "8y"],
      [9 * m + 59 * s, "9m59s"],
      [3 * h + 5 * m, "3h5m"],
      [8 * 365 * d, "8y"],
    ];
    for (const [ms, text] of cases) assert.equal(humanDuration(ms), text, String(ms));
    assert.equal(age(undefined), "<unknown>");
  });
});

describe("wantsTable", () => {
  it("recognises kubectl's Accept header and nothing else", () => {
    assert.ok(
      wantsTable(
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
      ),
    );
    assert.ok(!wantsTable("application/json"));
    assert.ok(!wantsTable(undefined));
    assert.ok(!wantsTable("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"));
  });

  it("answers a v1 Table only when v1 is asked for, not v1beta1 alone", () => {
    assert.ok(!wantsTable("application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"));
    assert.ok(wantsTable("application/json; as=Table; g=meta.k8s.io; v=v1"));
    assert.ok(!wantsTable("application/json;as=Tables;v=v1;g=meta.k8s.io"));
  });
});
