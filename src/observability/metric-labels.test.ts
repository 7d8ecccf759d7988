import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { codeLabel, resourceLabel, verbLabel } from "./metric-labels.ts";
import { GatewayMetrics } from "./metrics.ts";

describe("metric labels come from closed sets", () => {
  it("maps unknown verbs, resources and codes to one value each", () => {
    assert.equal(verbLabel("get"), "get");
    assert.equal(verbLabel("brew"), "other");
    assert.equal(resourceLabel("pods", true), "pods");
    assert.equal(resourceLabel("x-1234", true), "other");
    assert.equal(resourceLabel("pods", false), "");
    assert.equal(codeLabel(404), "404");
    assert.equal(codeLabel(1234), "other");
  });

  it("3,000 distinct client-chosen names add no series", async () => {
    const m = new GatewayMetrics();
    for (let i = 0; i < 3000; i++) {
      m.observe(verbLabel(`v${i}`), resourceLabel(`r${i}`, i % 2 === 0), codeLabel(401), 0.001);
    }
    const series = (await m.requests.get()).values.length;
    assert.ok(series <= 2, `${series} series`);
  });
});
