import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect } from "node:http2";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createClientCert, loadCA } from "../../src/pki/certificates.ts";
import { useCluster } from "../cluster/harness.ts";
import { startGatewayProcess } from "../support/gateway-process.ts";
import { rawRequest } from "../support/https-client.ts";
import { gatewayArgs, gatewayUser, prepareGatewayEnv, readText, tokenKubeconfig } from "./gateway-env.ts";
import { kubectl, ok } from "./run.ts";

const cluster = await useCluster();
const env = await prepareGatewayEnv(cluster);
const auditLog = join(env.dir, "audit.log");
const gateway = await startGatewayProcess(gatewayArgs(env, ["--audit-log", auditLog]));
after(() => gateway.stop());

const admin = (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args);
const whoami = async (kubeconfig: string, ...args: string[]) =>
  JSON.parse(await ok(kubectl(kubeconfig, "auth", "whoami", "-o", "json", ...args))).status.userInfo as {
    username: string;
    groups?: string[];
    uid?: string;
    extra?: Record<string, string[]>;
  };

const alice = await gatewayUser(env, gateway.url, "gw-alice", ["gw-team-a", "gw-dev"]);
const pem = (p: string) => readFileSync(p, "utf8");
const aliceTls = {
  ca: pem(env.servingCa.cert),
  cert: pem(join(env.dir, "gw-alice.crt")),
  key: pem(join(env.dir, "gw-alice.key")),
};

describe("gateway: authentication", () => {
  it("a client certificate makes CN the user and every O a group (kubectl auth whoami)", async () => {
    const me = await whoami(alice);
    assert.equal(me.username, "gw-alice");
    assert.deepEqual(
      me.groups?.filter((g) => g !== "system:authenticated"),
      ["gw-team-a", "gw-dev"],
    );
  });

  it("a ServiceAccount token is accepted through TokenReview; a bad token is 401", async () => {
    await ok(admin("create", "serviceaccount", "gw-robot", "-n", "default"));
    const token = (await ok(admin("create", "token", "gw-robot", "-n", "default"))).trim();
    const robot = await tokenKubeconfig(env, gateway.url, "gw-robot", token);
    const me = await whoami(robot);
    assert.equal(me.username, "system:serviceaccount:default:gw-robot");
    assert.ok(me.groups?.includes("system:serviceaccounts:default"));
    assert.ok(me.uid, "the token's uid is impersonated too");

    const bad = await tokenKubeconfig(env, gateway.url, "gw-bad", `${token.slice(0, -4)}AAAA`);
    const r = await kubectl(bad, "auth", "whoami");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Unauthorized|must be logged in/);
  });

  it("no credential, an empty or garbage token, a non-Bearer scheme: 401 Status", async () => {
    const cases: [string, string][][] = [
      [],
      [["Authorization", "Bearer "]],
      [["Authorization", "Bearer garbage"]],
      [["Authorization", "Basic YWRtaW46YWRtaW4="]],
      [["authorization", "bearer"]],
    ];
    for (const headers of cases) {
      const r = await rawRequest(gateway.url, { path: "/api/v1/namespaces", headers, ca: aliceTls.ca });
      assert.equal(r.status, 401, JSON.stringify(headers));
      const s = JSON.parse(r.body);
      assert.deepEqual(
        [s.kind, s.apiVersion, s.status, s.reason, s.code],
        ["Status", "v1", "Failure", "Unauthorized", 401],
      );
    }
  });

  it("expired, wrong-CA and server-only certificates are 401", async () => {
    const usersCa = await loadCA(pem(env.usersCa.cert), pem(env.usersCa.key));
    const otherCa = await loadCA(pem(env.servingCa.cert), pem(env.servingCa.key));
    const expired = await createClientCert(usersCa, {
      cn: "gw-expired",
      days: 1,
      now: new Date(Date.now() - 3 * 86_400_000),
    });
    const foreign = await createClientCert(otherCa, { cn: "gw-foreign", organizations: ["system:masters"] });
    const future = await createClientCert(usersCa, {
      cn: "gw-future",
      days: 10,
      now: new Date(Date.now() + 86_400_000),
    });
    for (const [name, c] of Object.entries({ expired, foreign, future })) {
      const r = await rawRequest(gateway.url, {
        path: "/version",
        ca: aliceTls.ca,
        cert: c.certPem,
        key: c.keyPem,
      });
      assert.equal(r.status, 401, name);
      assert.equal(JSON.parse(r.body).reason, "Unauthorized", name);
    }
  });
});

describe("gateway: impersonation to the apiserver", () => {
  it("the user's RBAC decides, not the gateway's: forbidden until bound", async () => {
    const denied = await kubectl(alice, "get", "namespaces");
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /User "gw-alice" cannot list resource "namespaces"/);
    await ok(
      admin(
        "create",
        "clusterrole",
        "gw-e2e-ns-reader",
        "--verb=get,list,watch",
        "--resource=namespaces,configmaps",
      ),
    );
    await ok(
      admin(
        "create",
        "clusterrolebinding",
        "gw-e2e-team-a",
        "--clusterrole=gw-e2e-ns-reader",
        "--group=gw-team-a",
      ),
    );
    const listed = await ok(kubectl(alice, "get", "namespaces", "-o", "name"));
    assert.match(listed, /^namespace\/default$/m);
  });

  it("client impersonation and identity headers are never forwarded, in any case or repetition", async () => {
    const hostile: [string, string][] = [
      ["X-Remote-User", "system:admin"],
      ["x-remote-group", "system:masters"],
      ["X-REMOTE-EXTRA-SCOPES", "all"],
      ["X-Forwarded-For", "10.0.0.1"],
    ];
    const r = await rawRequest(gateway.url, {
      method: "POST",
      path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
      headers: [...hostile, ["Content-Type", "application/json"]],
      body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }),
      ...aliceTls,
    });
    assert.equal(r.status, 201, r.body);
    const user = JSON.parse(r.body).status.userInfo;
    assert.equal(user.username, "gw-alice");
    assert.ok(!user.groups.includes("system:masters"));
  });

  it("Impersonate-* from a client that may not impersonate is 403, whatever the spelling", async () => {
    const attempts: [string, string][][] = [
      [["Impersonate-User", "kubegate-admin"]],
      [["iMpErSoNaTe-UsEr", "kubegate-admin"]],
      [
        ["Impersonate-User", "gw-alice"],
        ["IMPERSONATE-GROUP", "system:masters"],
      ],
      [
        ["Impersonate-User", "gw-alice"],
        ["Impersonate-Group", "gw-team-a"],
        ["impersonate-group", "system:masters"],
      ],
      // Naming the header in Connection (hop-by-hop smuggling) does not make it disappear unchecked.
      [
        ["Connection", "Impersonate-User"],
        ["Impersonate-User", "kubegate-admin"],
      ],
      [
        ["Impersonate-User", "gw-alice"],
        ["Impersonate-Extra-Scopes", "x"],
      ],
      [["Impersonate-User", "system:serviceaccount:kube-system:default"]],
    ];
    for (const headers of attempts) {
      const r = await rawRequest(gateway.url, {
        path: "/api/v1/namespaces/kube-system/secrets",
        headers,
        ...aliceTls,
      });
      assert.equal(r.status, 403, `${JSON.stringify(headers)} → ${r.body}`);
      assert.equal(JSON.parse(r.body).reason, "Forbidden");
    }
    const groupOnly = await rawRequest(gateway.url, {
      path: "/version",
      headers: [["Impersonate-Group", "x"]],
      ...aliceTls,
    });
    assert.equal(groupOnly.status, 400);
    const twoUsers = await rawRequest(gateway.url, {
      path: "/version",
      headers: [
        ["Impersonate-User", "a"],
        ["impersonate-user", "b"],
      ],
      ...aliceTls,
    });
    assert.equal(twoUsers.status, 400);
  });

  it("kubectl --as works only when the user may impersonate, and then is exactly the target", async () => {
    const before = await kubectl(alice, "get", "configmaps", "-n", "gw-watch", "--as=gw-bob");
    assert.notEqual(before.code, 0);
    assert.match(before.stderr, /User "gw-alice" cannot impersonate resource "users"/);
    await ok(
      admin(
        "create",
        "clusterrole",
        "gw-e2e-impersonate-bob",
        "--verb=impersonate",
        "--resource=users",
        "--resource-name=gw-bob",
      ),
    );
    await ok(
      admin(
        "create",
        "clusterrolebinding",
        "gw-e2e-alice-as-bob",
        "--clusterrole=gw-e2e-impersonate-bob",
        "--user=gw-alice",
      ),
    );
    // The gateway caches access decisions for ~10 s, the denial just seen included.
    const t0 = Date.now();
    while ((await kubectl(alice, "auth", "whoami", "--as=gw-bob")).code !== 0 && Date.now() - t0 < 15_000) {
      await new Promise((r) => setTimeout(r, 500));
    }
    const bob = await whoami(alice, "--as=gw-bob");
    assert.equal(bob.username, "gw-bob");
    assert.deepEqual(bob.groups, ["system:authenticated"], "alice's groups are not merged into bob's");
    const withGroup = await kubectl(
      alice,
      "get",
      "configmaps",
      "-n",
      "gw-watch",
      "--as=gw-bob",
      "--as-group=system:masters",
    );
    assert.notEqual(withGroup.code, 0, "impersonating a group needs its own permission");
    assert.match(withGroup.stderr, /cannot impersonate resource "groups"/);
  });
});

describe("gateway: streaming", () => {
  it("kubectl get -w streams events as they happen (nothing buffered)", async () => {
    await ok(admin("create", "namespace", "gw-watch"));
    // Listed first by the watch: once it is printed, the watch is open.
    await ok(admin("create", "configmap", "gw-first", "-n", "gw-watch"));
    const watcher = spawn("kubectl", [
      "--kubeconfig",
      alice,
      "get",
      "configmaps",
      "-n",
      "gw-watch",
      "-w",
      "-o",
      "name",
    ]);
    let seen = "";
    watcher.stdout.on("data", (d) => {
      seen += d;
    });
    try {
      for (const t0 = Date.now(); !seen.includes("configmap/gw-first") && Date.now() - t0 < 10_000; )
        await new Promise((r) => setTimeout(r, 20));
      const createdAt = Date.now();
      await ok(admin("create", "configmap", "gw-watched", "-n", "gw-watch"));
      while (!seen.includes("configmap/gw-watched") && Date.now() - createdAt < 10_000) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.match(seen, /configmap\/gw-watched/);
      assert.equal(watcher.exitCode, null, "the watch is still open");
    } finally {
      watcher.kill();
    }
  });

  it("serves HTTP/2 clients", async () => {
    const session = connect(gateway.url, aliceTls);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ":path": "/version" });
        let data = "";
        req.setEncoding("utf8");
        req.on("response", (h) => assert.equal(h[":status"], 200));
        req.on("data", (d) => {
          data += d;
        });
        req.on("end", () => resolve(data));
        req.on("error", reject);
      });
      assert.equal(JSON.parse(body).major, "1");
    } finally {
      session.close();
    }
  });
});

describe("gateway: exec and port-forward", () => {
  it("kubectl exec through the gateway gets the same apiserver answer as direct", async () => {
    await ok(
      admin(
        "create",
        "clusterrole",
        "gw-e2e-exec",
        "--verb=get,list,create",
        "--resource=pods,pods/exec,pods/portforward",
      ),
    );
    await ok(
      admin(
        "create",
        "clusterrolebinding",
        "gw-e2e-alice-exec",
        "--clusterrole=gw-e2e-exec",
        "--user=gw-alice",
      ),
    );
    const direct = await admin("exec", "-n", "gw-watch", "no-such-pod", "--", "true");
    const through = await kubectl(alice, "exec", "-n", "gw-watch", "no-such-pod", "--", "true");
    assert.notEqual(direct.code, 0);
    assert.equal(through.code, direct.code);
    assert.equal(through.stderr, direct.stderr);
    const pf = await kubectl(alice, "port-forward", "-n", "gw-watch", "pod/no-such-pod", "18080:80");
    assert.match(pf.stderr, /pods "no-such-pod" not found/);
  });
});

describe("gateway: errors, metrics and audit", () => {
  it("a non-canonical path is a 400 Status", async () => {
    for (const path of [
      "/api/v1/namespaces/../secrets",
      "/api/v1//namespaces",
      "/api/v1/namespaces/%2e%2e/x",
    ]) {
      const r = await rawRequest(gateway.url, { path, ...aliceTls });
      assert.equal(r.status, 400, path);
      assert.equal(JSON.parse(r.body).reason, "BadRequest");
    }
  });

  it("exposes Prometheus metrics and health on the metrics port", async () => {
    const metrics = await (await fetch(`${gateway.metricsUrl}/metrics`)).text();
    assert.match(metrics, /kubegate_requests_total\{verb="list",resource="namespaces",code="200"\} [1-9]/);
    assert.match(metrics, /kubegate_requests_total\{verb="get",resource="",code="401"\} [1-9]/);
    assert.match(
      metrics,
      /kubegate_request_duration_seconds_bucket\{le="0.1",verb="list",resource="namespaces"\}/,
    );
    assert.equal((await fetch(`${gateway.metricsUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${gateway.metricsUrl}/readyz`)).status, 200);
  });

  it("writes one audit.k8s.io/v1 Event per request with the original user", async () => {
    // The audit line is written as the request ends, which may be just after kubectl has its answer.
    type AuditEvent = {
      kind: string;
      apiVersion: string;
      verb?: string;
      requestURI: string;
      user: { username?: string };
      impersonatedUser?: { username?: string };
      objectRef?: { resource?: string; name?: string };
      responseStatus: { code: number };
    };
    let events: AuditEvent[] = [];
    let list: AuditEvent | undefined;
    for (let i = 0; i < 50 && !list; i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      events = (await readText(auditLog))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as AuditEvent);
      list = events.find(
        (e) =>
          e.user?.username === "gw-alice" &&
          e.verb === "list" &&
          e.objectRef?.resource === "namespaces" &&
          e.responseStatus.code === 200,
      );
    }
    assert.ok(list, "list namespaces by gw-alice is audited");
    assert.equal(list.kind, "Event");
    assert.equal(list.apiVersion, "audit.k8s.io/v1");
    assert.equal(list.requestURI.split("?")[0], "/api/v1/namespaces");
    const asBob = events.find((e) => e.impersonatedUser?.username === "gw-bob");
    assert.equal(asBob?.user.username, "gw-alice");
    assert.ok(events.some((e) => e.responseStatus.code === 401));
    assert.ok(events.some((e) => e.objectRef?.resource === "pods" && e.objectRef?.name === "no-such-pod"));
  });

  it("logs no credentials", () => {
    const logs = gateway.logs();
    assert.doesNotMatch(logs, /BEGIN [A-Z ]*PRIVATE KEY|Bearer [A-Za-z0-9]/);
  });
});
