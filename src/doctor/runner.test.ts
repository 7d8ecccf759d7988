import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runDoctor } from "./runner.ts";
import { type Check, type DoctorContext, ok, problem, warning } from "./types.ts";

// Only what the runner itself reads; the fake checks never touch the cluster.
const ctx = {
  namespace: "kubegate-system",
  upstream: { connection: { server: new URL("https://127.0.0.1:6443") } },
  stepTimeoutMs: 50,
  now: new Date(),
} as unknown as DoctorContext;

const check = (id: string, run: Check["run"]): Check => ({ id, title: `title of ${id}`, run });
const fine = check("connection", async () => [ok("answers")]);

describe("runDoctor", () => {
  it("sums up outcomes; a check's outcome is its worst finding; warnings alone keep ok true", async () => {
    const r = await runDoctor(ctx, {
      timeoutMs: 1000,
      checks: {
        connection: fine,
        cluster: [check("a", async () => [ok("x"), warning("soon", "renew")])],
        local: [check("b", async () => [ok("y")])],
      },
    });
    assert.deepEqual(
      r.checks.map((c) => [c.id, c.outcome]),
      [
        ["connection", "ok"],
        ["a", "warning"],
        ["b", "ok"],
      ],
    );
    assert.deepEqual(r.summary, { problem: 0, warning: 1, ok: 2, skipped: 0 });
    assert.equal(r.ok, true);
    assert.equal(r.cluster, "https://127.0.0.1:6443");
  });

  it("a check that hangs is cut off at its timeout and reported as a problem", async () => {
    const t0 = Date.now();
    const r = await runDoctor(ctx, {
      timeoutMs: 100,
      checks: {
        connection: fine,
        cluster: [check("hangs", () => new Promise(() => undefined))],
        local: [],
      },
    });
    assert.ok(Date.now() - t0 < 1000);
    const hung = r.checks[1];
    assert.equal(hung?.outcome, "problem");
    assert.match(hung?.findings[0]?.message ?? "", /check hangs timed out after 100 ms/);
    assert.equal(r.ok, false);
  });

  it("a check that throws is a problem with the error's message", async () => {
    const r = await runDoctor(ctx, {
      timeoutMs: 1000,
      checks: {
        connection: fine,
        cluster: [
          check("throws", async () => {
            throw Object.assign(new Error("connect failed"), { code: "ECONNREFUSED" });
          }),
        ],
        local: [],
      },
    });
    assert.match(r.checks[1]?.findings[0]?.message ?? "", /connect failed \(ECONNREFUSED\)/);
  });

  it("without a connection the cluster checks are skipped, not failed one by one; local ones still run", async () => {
    let clusterRan = false;
    const r = await runDoctor(ctx, {
      timeoutMs: 1000,
      checks: {
        connection: check("connection", async () => [problem("kube-apiserver is unavailable")]),
        cluster: [
          check("a", async () => {
            clusterRan = true;
            return [ok("x")];
          }),
        ],
        local: [check("client-cert", async () => [ok("alice")])],
      },
    });
    assert.equal(clusterRan, false);
    assert.deepEqual(
      r.checks.map((c) => c.outcome),
      ["problem", "skipped", "ok"],
    );
    assert.match(r.checks[1]?.findings[0]?.message ?? "", /kube-apiserver cannot be reached/);
    assert.equal(r.ok, false);
  });
});
