import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { percentile, summarize } from "./stats.ts";

describe("bench stats", () => {
  it("nearest-rank percentiles", () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(sorted, 50), 50);
    assert.equal(percentile(sorted, 99), 99);
    assert.equal(percentile(sorted, 100), 100);
    assert.ok(Number.isNaN(percentile(new Float64Array(), 50)));
  });

  it("summarize sorts numerically, not as strings", () => {
    const s = summarize([10, 9, 100, 0.5]);
    assert.equal(s.p50, 9);
    assert.equal(s.max, 100);
    assert.equal(s.count, 4);
  });
});
