import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { DevState } from "../../src/dev/environment.ts";
import { alive } from "../../src/devcluster/cluster.ts";
import { kubectl, kubegate, ok } from "./run.ts";

// `dev up` starts a cluster of its own, as it does on a developer's machine.
const dir = join(await mkdtemp(join(tmpdir(), "kubegate-dev-")), "env");
const up = await kubegate("dev", "up", "--dir", dir);
after(() => kubegate("dev", "down", "--dir", dir));
const state = JSON.parse(readFileSync(join(dir, "dev.json"), "utf8")) as DevState;
const cluster = JSON.parse(readFileSync(join(dir, "cluster", "cluster.json"), "utf8")) as {
  pids: { apiserver: number; etcd: number };
};
const as = (user: string, ...args: string[]) => kubectl(state.kubeconfigs[user] as string, ...args);
const names = async (user: string, ...args: string[]) =>
  (await ok(as(user, "get", ...args, "-o", "name"))).trim().split("\n").filter(Boolean).sort();

describe("kubegate dev", () => {
  it("comes up with progress on stderr and next steps on stdout", () => {
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /\[1\/5\] cluster/);
    assert.match(up.stderr, /\[5\/5\] demo/);
    for (const user of ["alice", "bob", "carol"]) {
      assert.ok(up.stdout.includes(`${user}.kubeconfig get namespaces`), up.stdout);
    }
    assert.match(up.stdout, /kubegate dev down --dir/);
  });

  it("passes every doctor check with the command it prints", async () => {
    const line = up.stdout.split("\n").find((l) => l.includes("kubegate doctor"));
    assert.ok(line, up.stdout);
    const args = line
      .slice(line.indexOf("kubegate doctor") + "kubegate doctor".length)
      .trim()
      .split(/\s+/);
    const r = await kubegate("doctor", ...args, "--output", "json");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: Array<{ id: string; outcome: string }> };
    assert.deepEqual(
      report.checks.filter((c) => c.outcome !== "ok"),
      [],
    );
    assert.equal(report.checks.length, 7);
  });

  it("shows each demo user their own slice of the cluster through the gateway", async () => {
    assert.deepEqual(await names("alice", "namespaces"), ["namespace/team-a-dev", "namespace/team-a-prod"]);
    assert.deepEqual(await names("alice", "storageclasses"), ["storageclass.storage.k8s.io/team-a-ssd"]);
    assert.deepEqual(await names("alice", "nodes"), ["node/node-team-a"]);
    assert.deepEqual(await names("bob", "namespaces"), ["namespace/team-a-dev"]);
    assert.deepEqual(await names("bob", "storageclasses"), ["storageclass.storage.k8s.io/team-a-ssd"]);
    const carol = await names("carol", "namespaces");
    for (const ns of ["kube-system", "team-a-dev", "team-b-dev", "platform-tools"]) {
      assert.ok(carol.includes(`namespace/${ns}`), `carol sees ${ns}`);
    }
    const bobNodes = await as("bob", "get", "nodes");
    assert.notEqual(bobNodes.code, 0);
    assert.match(bobNodes.stderr, /forbidden/i);
  });

  it("registers the aggregated API server and the pod webhook", async () => {
    const mine = await ok(as("alice", "get", "mynamespace", "-o", "name"));
    assert.match(mine, /team-a-dev/);
    assert.doesNotMatch(mine, /team-b-dev/);
    const pod = JSON.parse(
      await ok(
        as("alice", "run", "demo", "-n", "team-a-dev", "--image=nginx", "--restart=Never", "-o", "json"),
      ),
    );
    assert.deepEqual(
      pod.spec.containers[0].env.find((e: { name: string }) => e.name === "KUBERNETES_SERVICE_HOST"),
      { name: "KUBERNETES_SERVICE_HOST", value: "kubernetes.default.svc.cluster.local." },
    );
  });

  it("refuses a second environment in the same directory", async () => {
    const again = await kubegate("dev", "up", "--dir", dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already in .* kubegate dev down/s);
  });

  it("goes down without leaving a process or a file behind", async () => {
    const down = await ok(kubegate("dev", "down", "--dir", dir));
    assert.match(down, /stopped and removed/);
    const pids = [
      state.gateway.pid,
      state.apiserver.pid,
      state.webhook.pid,
      cluster.pids.apiserver,
      cluster.pids.etcd,
    ];
    assert.deepEqual(
      pids.filter((p) => alive(p)),
      [],
    );
    assert.equal(existsSync(dir), false);
    assert.match(await ok(kubegate("dev", "down", "--dir", dir)), /no dev environment/);
  });
});
