// `up --node` then `down` with a pod running: nothing of the node is left on the machine (issue #18).
// Serial: one node per machine, and this group's shared cluster is started without one.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { down, up } from "../../../src/devcluster/cluster.ts";
import { NODE_IP, nodeUnsupported } from "../../../src/devcluster/node.ts";
import { defaultServiceAccount, kubectl, ok, run } from "../run.ts";

const SYSCTLS = ["vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops", "net/ipv4/ip_forward"];
const sysctls = () => SYSCTLS.map((k) => readFileSync(`/proc/sys/${k}`, "utf8").trim());

/** Live processes whose command line names `dir` (zombies have none). */
function processesUnder(dir: string): string[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .flatMap((pid) => {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
        return cmd.includes(dir) ? [`${pid}: ${cmd.slice(0, 120)}`] : [];
      } catch {
        return [];
      }
    });
}

describe("the test node: up --node, a running pod, down", { skip: nodeUnsupported() ?? false }, () => {
  it("down leaves no process, mount, network namespace, interface, address, cgroup or changed sysctl", async () => {
    const before = sysctls();
    const dir = mkdtempSync(join(tmpdir(), "kubegate-node-"));
    const cluster = await up({ dir, node: true, log: () => undefined });
    try {
      assert.equal(cluster.node?.name, "kubegate-node");
      const admin = (...a: string[]) => kubectl(cluster.adminKubeconfig, ...a);
      await defaultServiceAccount(cluster.adminKubeconfig, "default");
      const pod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"sleeper","namespace":"default"},"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"main","image":"docker.io/library/busybox:1.35","imagePullPolicy":"Never","command":["sleep","3600"]}]}}`;
      await ok(run("kubectl", ["--kubeconfig", cluster.adminKubeconfig, "apply", "-f", "-"], { input: pod }));
      await ok(admin("wait", "--for=condition=Ready", "pod/sleeper", "--timeout=60s"));
      assert.ok(processesUnder(dir).length > 0, "the node runs from the cluster's directory");
      assert.ok(readFileSync("/proc/self/mounts", "utf8").includes(dir), "the pod has mounts there");
    } finally {
      await down(dir);
    }
    assert.deepEqual(processesUnder(dir), []);
    const mounts = readFileSync("/proc/self/mounts", "utf8")
      .split("\n")
      .filter((l) => l.includes(dir) || l.includes("/run/netns/cni-"));
    assert.deepEqual(mounts, []);
    assert.doesNotMatch(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout, /cni-/);
    assert.notEqual(spawnSync("ip", ["link", "show", "kgbr0"]).status, 0, "the bridge is gone");
    assert.doesNotMatch(
      spawnSync("ip", ["-o", "addr", "show", "dev", "lo"], { encoding: "utf8" }).stdout,
      new RegExp(NODE_IP.replaceAll(".", "\\.")),
    );
    assert.equal(existsSync("/sys/fs/cgroup/pids/kubegate-node"), false, "the node's cgroups are gone");
    assert.equal(
      existsSync("/sys/fs/cgroup/pids/kubepods"),
      false,
      "and none were made at the host's kubelet root",
    );
    assert.deepEqual(sysctls(), before);
    assert.equal(existsSync(join(dir, "node")), false);
    await down(dir); // again: nothing to do, no error
  });
});
