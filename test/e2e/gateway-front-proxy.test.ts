// --upstream-identity front-proxy: the gateway forwards the user as X-Remote-* headers over a
// request-header client certificate (the aggregation layer's mechanism) instead of impersonating.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { useCluster } from "../cluster/harness.ts";
import { startGatewayProcess } from "../support/gateway-process.ts";
import { rawRequest } from "../support/https-client.ts";
import { gatewayArgs, gatewayUser, prepareGatewayEnv, tokenKubeconfig } from "./gateway-env.ts";
import { kubectl, kubegate, ok } from "./run.ts";

const cluster = await useCluster();
const env = await prepareGatewayEnv(cluster);
const frontProxyArgs = (cert: string, key: string) => [
  ...["--upstream-identity", "front-proxy", "--front-proxy-cert", cert, "--front-proxy-key", key],
];
const gateway = await startGatewayProcess(
  gatewayArgs(env, frontProxyArgs(cluster.frontProxyClient.cert, cluster.frontProxyClient.key)),
);
after(() => gateway.stop());

const admin = (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args);
interface UserInfo {
  username: string;
  groups?: string[];
  uid?: string;
  extra?: Record<string, string[]>;
}
const whoami = async (kubeconfig: string) =>
  JSON.parse(await ok(kubectl(kubeconfig, "auth", "whoami", "-o", "json"))).status.userInfo as UserInfo;

const alice = await gatewayUser(env, gateway.url, "fp-alice", ["fp-team", "fp-dev"]);
const pem = (p: string) => readFileSync(p, "utf8");
const aliceTls = {
  ca: pem(env.servingCa.cert),
  cert: pem(join(env.dir, "fp-alice.crt")),
  key: pem(join(env.dir, "fp-alice.key")),
};

describe("gateway: --upstream-identity front-proxy", () => {
  it("the apiserver sees the certificate's user and groups, not the gateway", async () => {
    const me = await whoami(alice);
    assert.equal(me.username, "fp-alice");
    assert.deepEqual(
      me.groups?.filter((g) => g !== "system:authenticated"),
      ["fp-team", "fp-dev"],
    );
  });

  it("a ServiceAccount token's user, groups and extra values arrive (extra keys percent-encoded)", async () => {
    await ok(admin("create", "serviceaccount", "fp-robot", "-n", "default"));
    const token = (await ok(admin("create", "token", "fp-robot", "-n", "default"))).trim();
    const direct = await whoami(await tokenKubeconfigDirect(token));
    const robot = await tokenKubeconfig(env, gateway.url, "fp-robot", token);
    const me = await whoami(robot);
    assert.equal(me.username, "system:serviceaccount:default:fp-robot");
    assert.deepEqual(me.groups, direct.groups);
    // Bound tokens carry authentication.kubernetes.io/credential-id: a key with '/' in it.
    assert.ok(
      Object.keys(direct.extra ?? {}).some((k) => k.includes("/")),
      JSON.stringify(direct.extra),
    );
    assert.deepEqual(me.extra, direct.extra);
  });

  it("RBAC decides for the user: forbidden until bound, then allowed", async () => {
    await ok(admin("create", "namespace", "fp-ns"));
    const before = await kubectl(alice, "get", "configmaps", "-n", "fp-ns");
    assert.notEqual(before.code, 0);
    assert.match(before.stderr, /User "fp-alice" cannot list resource "configmaps"/);
    await ok(
      admin("create", "role", "fp-read", "-n", "fp-ns", "--verb=get,list,watch", "--resource=configmaps"),
    );
    await ok(admin("create", "rolebinding", "fp-read", "-n", "fp-ns", "--role=fp-read", "--group=fp-team"));
    await ok(admin("create", "configmap", "fp-cm", "-n", "fp-ns"));
    assert.match(
      await ok(kubectl(alice, "get", "configmaps", "-n", "fp-ns", "-o", "name")),
      /configmap\/fp-cm/,
    );
  });

  it("a watch streams through the front-proxy connection", async () => {
    const r = await rawRequest(gateway.url, {
      path: "/api/v1/namespaces/fp-ns/configmaps?watch=1&timeoutSeconds=1",
      ...aliceTls,
    });
    assert.equal(r.status, 200);
    assert.match(r.body, /"type":"ADDED".*"name":"fp-cm"/);
  });

  it("client X-Remote-* headers never reach the apiserver, in any letter case", async () => {
    const r = await rawRequest(gateway.url, {
      method: "POST",
      path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
      headers: [
        ["Content-Type", "application/json"],
        ["X-Remote-User", "kubegate-admin"],
        ["x-remote-group", "system:masters"],
        ["X-REMOTE-EXTRA-scopes", "all"],
        ["X-Remote-Uid", "forged"],
      ],
      body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }),
      ...aliceTls,
    });
    assert.equal(r.status, 201, r.body);
    const me = JSON.parse(r.body).status.userInfo as UserInfo;
    assert.equal(me.username, "fp-alice");
    assert.ok(!me.groups?.includes("system:masters"));
    assert.equal(me.extra, undefined);
    assert.equal(me.uid, undefined);
  });

  it("exec tunnels carry the user too", async () => {
    const r = await kubectl(alice, "exec", "-n", "fp-ns", "no-such-pod", "--", "true");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /User "fp-alice" cannot (get|create) resource "pods/);
  });

  it("a certificate the apiserver does not take as front-proxy gets no identity at all", async () => {
    // A client certificate of another CA: the apiserver authenticates nobody, whatever the headers say.
    const wrong = await startGatewayProcess(
      gatewayArgs(env, frontProxyArgs(join(env.dir, "fp-alice.crt"), join(env.dir, "fp-alice.key"))),
    );
    try {
      const kubeconfig = await gatewayUser(env, wrong.url, "fp-mallory", ["system:masters"]);
      const r = await kubectl(kubeconfig, "auth", "whoami");
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Unauthorized|must be logged in/);
    } finally {
      await wrong.stop();
    }
  });

  it("refuses an incomplete or mismatched front-proxy configuration before listening", async () => {
    const missing = await kubegate("gateway", ...gatewayArgs(env, ["--upstream-identity", "front-proxy"]));
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /--upstream-identity front-proxy needs --front-proxy-cert and --front-proxy-key/,
    );

    const stray = await kubegate(
      "gateway",
      ...gatewayArgs(env, ["--front-proxy-cert", cluster.frontProxyClient.cert]),
    );
    assert.equal(stray.code, 1);
    assert.match(stray.stderr, /used only with --upstream-identity front-proxy/);

    const mismatched = await kubegate(
      "gateway",
      ...gatewayArgs(env, frontProxyArgs(cluster.frontProxyClient.cert, join(env.dir, "fp-alice.key"))),
    );
    assert.equal(mismatched.code, 1);
    assert.match(mismatched.stderr, /--front-proxy-cert\/--front-proxy-key: the key does not belong/);
  });
});

/** The same token straight to the apiserver: what whoami must show through the gateway too. */
async function tokenKubeconfigDirect(token: string): Promise<string> {
  const out = join(env.dir, "fp-robot.direct.kubeconfig");
  const r = await kubegate(
    ...[
      "kubeconfig",
      "--server",
      `https://127.0.0.1:${cluster.ports.apiserver}`,
      "--ca-cert",
      cluster.ca.cert,
    ],
    ...["--token", token, "--user", "fp-robot-direct", "--out", out, "--force"],
  );
  assert.equal(r.code, 0, r.stderr);
  return out;
}
