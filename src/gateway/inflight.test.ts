import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Inflight } from "./inflight.ts";

const noop = { abort() {} };

describe("in-flight requests", () => {
  it("refuses a user's long-running request past the limit with a 429, others unaffected", () => {
    const f = new Inflight(undefined, 2);
    const a = f.enter(true, noop, "alice");
    f.enter(true, noop, "alice");
    assert.throws(
      () => f.enter(true, noop, "alice"),
      (e: { status: { code: number }; code: string }) =>
        e.status.code === 429 && e.code === "KUBEGATE_TOO_MANY_LONG_RUNNING",
    );
    assert.doesNotThrow(() => f.enter(true, noop, "bob"));
    // Ordinary requests have a limit of their own (none set here).
    assert.doesNotThrow(() => f.enter(false, noop, "alice"));
    a();
    assert.doesNotThrow(() => f.enter(true, noop, "alice"));
  });

  it("bounds a user's ordinary requests in progress separately", () => {
    const f = new Inflight(undefined, 0, 2);
    f.enter(false, noop, "alice");
    const second = f.enter(false, noop, "alice");
    assert.throws(
      () => f.enter(false, noop, "alice"),
      (e: { status: { code: number }; code: string }) =>
        e.status.code === 429 && e.code === "KUBEGATE_TOO_MANY_REQUESTS",
    );
    assert.doesNotThrow(() => f.enter(true, noop, "alice"));
    second();
    assert.doesNotThrow(() => f.enter(false, noop, "alice"));
  });

  it("forgets a user once they hold nothing, so distinct names cannot grow memory", () => {
    const f = new Inflight(undefined, 5);
    for (let i = 0; i < 1000; i++) f.enter(true, noop, `u${i}`)();
    assert.equal(f.count.users, 0);
    assert.equal(f.count.longRunning, 0);
  });
});
