import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ensureBinaries } from "../../src/devcluster/build.ts";
import { type ClusterInfo, clusterFile, up } from "../../src/devcluster/cluster.ts";
import { kubectl, run } from "./run.ts";

const CLUSTER_CLI = fileURLToPath(new URL("../cluster/cli.ts", import.meta.url));
let work: string;

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), "kubegate-e2e-lifecycle-"));
});

describe("npm run cluster -- up / down", () => {
  it("starts a cluster that outlives the command and stops it without leftovers", async () => {
    const dir = join(work, "cli");
    const cli = (...args: string[]) => run(process.execPath, ["--import", "tsx", CLUSTER_CLI, ...args]);
    const started = await cli("up", "--dir", dir);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /kube-apiserver v1\.\d+\.\d+ is ready at https:\/\/127\.0\.0\.1:\d+/);
    const info = JSON.parse(readFileSync(clusterFile(dir), "utf8")) as ClusterInfo;
    for (const path of [
      info.ca.cert,
      info.frontProxyCa.cert,
      info.frontProxyClient.key,
      info.serviceAccount.key,
    ]) {
      assert.ok(existsSync(path), path);
    }
    assert.ok(running(info.pids.apiserver) && running(info.pids.etcd));
    const r = await kubectl(join(dir, "admin.kubeconfig"), "get", "--raw", "/readyz");
    assert.equal(r.code, 0, r.stderr);

    const again = await cli("up", "--dir", dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already running/);

    const stopped = await cli("down", "--dir", dir);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.ok(!running(info.pids.apiserver), "kube-apiserver still running");
    assert.ok(!running(info.pids.etcd), "etcd still running");
    assert.ok(!existsSync(clusterFile(dir)));
  });

  it("rejects a bad port with a clear message", async () => {
    const r = await run(process.execPath, [
      "--import",
      "tsx",
      CLUSTER_CLI,
      "up",
      "--dir",
      join(work, "x"),
      "--apiserver-port",
      "99999",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--apiserver-port: must be 1-65535/);
  });
});

describe("cluster failure paths", () => {
  it("says when Go is missing", async () => {
    await assert.rejects(
      ensureBinaries({
        cache: join(work, "no-go-cache"),
        env: { PATH: "" },
        usualGo: [],
        log: () => undefined,
      }),
      /the Go toolchain was not found.*Install Go 1\.24 or newer/s,
    );
  });

  it("shows Go's own output when the build fails", async () => {
    const module = join(work, "broken-module");
    await mkdir(module, { recursive: true });
    await writeFile(join(module, "go.mod"), "module broken.example\n\ngo 1.24\n");
    await assert.rejects(
      ensureBinaries({ cache: join(work, "broken-cache"), module, log: () => undefined }),
      /building kube-apiserver failed \(go build .* exited 1\):\n.*k8s\.io\/kubernetes\/cmd\/kube-apiserver/s,
    );
  });

  it("shows the apiserver's last log lines when it dies during start-up, and leaves nothing running", async () => {
    const dir = join(work, "dies");
    await assert.rejects(
      up({ dir, apiserverArgs: ["--no-such-flag"], log: () => undefined }),
      /kube-apiserver exited during start-up\. Last log lines \(.*kube-apiserver\.log\):\n.*unknown flag: --no-such-flag/s,
    );
    assert.ok(!existsSync(clusterFile(dir)), "a failed start is cleaned up");
  });

  it("gives up when not ready in time, with the log tail", async () => {
    await assert.rejects(
      up({ dir: join(work, "slow"), readyTimeoutMs: 1, log: () => undefined }),
      /(etcd|kube-apiserver) was not ready in time\. Last log lines/,
    );
  });
});
