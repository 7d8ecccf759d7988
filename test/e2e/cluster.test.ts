import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { KUBERNETES_VERSION } from "../../src/devcluster/versions.ts";
import { useCluster } from "../cluster/harness.ts";
import { kubectl, kubegate } from "./run.ts";
import { makeUserKubeconfig } from "./users.ts";

const cluster = await useCluster();
const work = await mkdtemp(join(tmpdir(), "kubegate-e2e-cluster-"));

describe("test cluster: the real kube-apiserver", () => {
  it("answers kubectl get --raw /version with the pinned release", async () => {
    const r = await kubectl(cluster.adminKubeconfig, "get", "--raw", "/version");
    assert.equal(r.code, 0, r.stderr);
    const version = JSON.parse(r.stdout) as { gitVersion: string };
    assert.equal(version.gitVersion, KUBERNETES_VERSION);
  });

  it("admits a user made by `kubegate certs client` + `kubegate kubeconfig`, with RBAC deciding", async () => {
    const kubeconfig = await makeUserKubeconfig({
      dir: work,
      name: "alice",
      groups: ["team-a"],
      signer: cluster.ca,
      server: cluster.server,
      serverCa: cluster.ca.cert,
    });
    const whoami = await kubectl(kubeconfig, "auth", "whoami", "-o", "json");
    assert.equal(whoami.code, 0, whoami.stderr);
    const review = JSON.parse(whoami.stdout) as {
      status: { userInfo: { username: string; groups: string[] } };
    };
    assert.equal(review.status.userInfo.username, "alice");
    assert.ok(review.status.userInfo.groups.includes("team-a"), review.status.userInfo.groups.join(","));

    const denied = await kubectl(kubeconfig, "get", "namespaces");
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /Forbidden.*User "alice" cannot list resource "namespaces"/s);

    const rbac = [
      ["create", "clusterrole", "e2e-namespace-lister", "--verb=list,get", "--resource=namespaces"],
      ["create", "clusterrolebinding", "e2e-alice-ns", "--clusterrole=e2e-namespace-lister", "--user=alice"],
    ];
    for (const args of rbac) {
      const r = await kubectl(cluster.adminKubeconfig, ...args);
      assert.equal(r.code, 0, r.stderr);
    }
    const allowed = await kubectl(kubeconfig, "get", "namespaces", "-o", "name");
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /^namespace\/kube-system$/m);
  });

  it("rejects a client certificate signed by another CA", async () => {
    const ca = { cert: join(work, "other-ca.crt"), key: join(work, "other-ca.key") };
    const made = await kubegate("certs", "ca", "--out-cert", ca.cert, "--out-key", ca.key);
    assert.equal(made.code, 0, made.stderr);
    const kubeconfig = await makeUserKubeconfig({
      dir: work,
      name: "mallory",
      groups: ["system:masters"],
      signer: ca,
      server: cluster.server,
      serverCa: cluster.ca.cert,
    });
    const r = await kubectl(kubeconfig, "get", "namespaces");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Unauthorized|must be logged in/);
  });
});

describe("test cluster: failure paths", () => {
  it("names a port that is in use", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { up } = await import("../../src/devcluster/cluster.ts");
      await assert.rejects(
        up({ dir: join(work, "busy"), apiserverPort: port, log: () => undefined }),
        new RegExp(`port ${port} on 127.0.0.1 is already in use`),
      );
    } finally {
      blocker.close();
    }
  });
});
