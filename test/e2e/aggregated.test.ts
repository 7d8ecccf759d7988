import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { useCluster } from "../cluster/harness.ts";
import { startGatewayProcess, startKubegate } from "../support/gateway-process.ts";
import { rawRequest } from "../support/https-client.ts";
import { gatewayArgs, gatewayUser, installCrds, prepareGatewayEnv } from "./gateway-env.ts";
import { kubectl, kubegate, ok } from "./run.ts";
import { makeUserKubeconfig } from "./users.ts";

const cluster = await useCluster();
const dir = await mkdtemp(join(tmpdir(), "kubegate-agg-"));
const at = (n: string) => join(dir, n);
const admin = (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args);
const pem = (p: string) => readFileSync(p, "utf8");

// Serving certificate for the Service name the aggregator dials (<svc>.<ns>.svc), from our own CA.
await ok(
  kubegate("certs", "ca", "--cn", "custom-api-ca", "--out-cert", at("ca.crt"), "--out-key", at("ca.key")),
);
await ok(
  kubegate(
    ...[
      "certs",
      "server",
      "--ca-cert",
      at("ca.crt"),
      "--ca-key",
      at("ca.key"),
      "--cn",
      "custom-api.kubegate-system.svc",
    ],
    ...["--service", "custom-api.kubegate-system", "--dns", "localhost", "--ip", "127.0.0.1"],
    ...["--out-cert", at("tls.crt"), "--out-key", at("tls.key")],
  ),
);

// The server's own identity: a client certificate bound to what the seed's RBAC gives it.
const serverKubeconfig = await makeUserKubeconfig({
  dir,
  name: "kubegate-e2e-aggregated",
  signer: cluster.ca,
  server: cluster.server,
  serverCa: cluster.ca.cert,
});
await ok(
  admin(
    "create",
    "clusterrolebinding",
    "kubegate-e2e-aggregated-delegator",
    "--clusterrole=system:auth-delegator",
    "--user=kubegate-e2e-aggregated",
  ),
);
await writeFile(
  at("server-rbac.yaml"),
  `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: kubegate-e2e-aggregated-ns }
rules:
- { apiGroups: [""], resources: [namespaces], verbs: [get, list, watch] }
- { apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [list, watch] }
- { apiGroups: [tenancy.kubegate.dev], resources: [tenants, proxysettings], verbs: [list, watch] }
`,
);
await ok(admin("apply", "-f", at("server-rbac.yaml")));
await ok(
  admin(
    "create",
    "clusterrolebinding",
    "kubegate-e2e-aggregated-ns",
    "--clusterrole=kubegate-e2e-aggregated-ns",
    "--user=kubegate-e2e-aggregated",
  ),
);
await ok(
  admin(
    "create",
    "rolebinding",
    "kubegate-e2e-aggregated-auth-reader",
    "-n",
    "kube-system",
    "--role=extension-apiserver-authentication-reader",
    "--user=kubegate-e2e-aggregated",
  ),
);

await installCrds(cluster);
const server = await startKubegate("apiserver", [
  ...["--listen", "127.0.0.1:0", "--tls-cert", at("tls.crt"), "--tls-key", at("tls.key")],
  ...["--kubeconfig", serverKubeconfig, "--team-label", "team", "--tenancy"],
]);
after(() => server.stop());
const port = new URL(server.url).port;

const registration = `
apiVersion: v1
kind: Namespace
metadata: { name: kubegate-system }
---
apiVersion: v1
kind: Service
metadata: { name: custom-api, namespace: kubegate-system }
spec:
  type: ExternalName
  externalName: localhost
  ports: [{ name: https, port: ${port}, protocol: TCP }]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: { name: v1.custom.api.local }
spec:
  group: custom.api.local
  version: v1
  service: { name: custom-api, namespace: kubegate-system, port: ${port} }
  caBundle: ${Buffer.from(pem(at("ca.crt"))).toString("base64")}
  groupPriorityMinimum: 2000
  versionPriority: 10
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: custom-api-local-reader }
rules:
- apiGroups: [custom.api.local]
  resources: [whoami, mynamespace]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: custom-api-local-reader }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: custom-api-local-reader }
subjects:
- { apiGroup: rbac.authorization.k8s.io, kind: Group, name: agg-readers }
`;
await writeFile(at("registration.yaml"), registration);
await ok(admin("apply", "-f", at("registration.yaml")));

const zed = await makeUserKubeconfig({
  dir,
  name: "agg-zed",
  groups: ["agg-team-z", "agg-dev", "agg-readers"],
  signer: cluster.ca,
  server: cluster.server,
  serverCa: cluster.ca.cert,
});
for (const [ns, team] of [
  ["agg-z-one", "agg-team-z"],
  ["agg-z-two", "agg-team-z"],
  ["agg-y-one", "agg-team-y"],
]) {
  await ok(admin("create", "namespace", ns as string));
  await ok(admin("label", "namespace", ns as string, `team=${team}`));
}

describe("aggregated API server behind the real kube-apiserver", () => {
  it("becomes Available through an APIService with caBundle", async () => {
    const out = await ok(
      admin("wait", "--for=condition=Available", "apiservice/v1.custom.api.local", "--timeout=60s"),
    );
    assert.match(out, /condition met/);
  });

  it("serves discovery: kubectl api-resources lists whoami and mynamespace", async () => {
    const out = await ok(admin("api-resources", "--api-group=custom.api.local", "-o", "wide"));
    assert.match(out, /^mynamespace\s+custom\.api\.local\/v1\s+false\s+Namespace\s+get,list\b/m);
    assert.match(out, /^whoami\s+custom\.api\.local\/v1\s+false\s+WhoAmI\s+get,list\b/m);
  });

  it("serves the aggregated discovery form and OpenAPI the aggregator loads (kubectl explain)", async () => {
    const r = await rawRequest(server.url, {
      path: "/apis",
      headers: [
        ["Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"],
      ],
      ca: pem(at("ca.crt")),
      cert: pem(join(dir, "agg-zed.crt")),
      key: pem(join(dir, "agg-zed.key")),
    });
    assert.equal(r.status, 200, r.body);
    assert.match(String(r.headers["content-type"]), /as="?APIGroupDiscoveryList\b/);
    const doc = JSON.parse(r.body);
    assert.equal(doc.kind, "APIGroupDiscoveryList");
    assert.deepEqual(
      doc.items[0].versions[0].resources.map((x: { resource: string }) => x.resource),
      ["whoami", "mynamespace"],
    );
    // kubectl explain reads the aggregator's merged OpenAPI v3: our document must have loaded cleanly.
    let explained = { code: 1, stdout: "", stderr: "" };
    const t0 = Date.now();
    while (explained.code !== 0 && Date.now() - t0 < 20_000) {
      explained = await admin("explain", "whoami.custom.api.local");
      if (explained.code !== 0) await new Promise((res) => setTimeout(res, 500));
    }
    const aggregatorLog = () =>
      readFileSync(cluster.logs.apiserver, "utf8")
        .split("\n")
        .filter((l) => /custom\.api\.local/.test(l))
        .slice(-5)
        .join("\n");
    assert.equal(explained.code, 0, `${explained.stderr}\n${aggregatorLog()}`);
    assert.match(explained.stdout, /KIND:\s+WhoAmI/);
    assert.match(explained.stdout, /The caller as kube-apiserver's aggregation layer presented it/);
  });

  it("authenticates a direct caller's bearer token through TokenReview", async () => {
    await ok(admin("create", "serviceaccount", "agg-robot", "-n", "default"));
    await ok(
      admin(
        "create",
        "clusterrolebinding",
        "agg-robot-reads",
        "--clusterrole=custom-api-local-reader",
        "--serviceaccount=default:agg-robot",
      ),
    );
    const token = (await ok(admin("create", "token", "agg-robot", "-n", "default"))).trim();
    const r = await rawRequest(server.url, {
      path: "/apis/custom.api.local/v1/whoami",
      headers: [["Authorization", `Bearer ${token}`]],
      ca: pem(at("ca.crt")),
    });
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).status.userInfo.username, "system:serviceaccount:default:agg-robot");
    const bad = await rawRequest(server.url, {
      path: "/apis/custom.api.local/v1/whoami",
      headers: [["Authorization", "Bearer not-a-token"]],
      ca: pem(at("ca.crt")),
    });
    assert.equal(bad.status, 401);
  });

  it("logs requests but not the aggregator's discovery and OpenAPI probes", async () => {
    const requests = () =>
      server
        .logs()
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { msg: string; url?: string })
        .filter((l) => l.msg === "request");
    const t0 = Date.now();
    while (
      !requests().some((l) => l.url?.startsWith("/apis/custom.api.local/v1/whoami")) &&
      Date.now() - t0 < 3000
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(
      requests().some((l) => l.url?.startsWith("/apis/custom.api.local/v1/whoami")),
      "resource requests are logged",
    );
    assert.ok(!requests().some((l) => l.url === "/apis" || l.url?.startsWith("/openapi")), "probes are not");
  });

  it("whoami shows the caller as the aggregator presented it", async () => {
    const w = JSON.parse(await ok(kubectl(zed, "get", "--raw", "/apis/custom.api.local/v1/whoami")));
    assert.equal(w.kind, "WhoAmI");
    assert.equal(w.status.userInfo.username, "agg-zed");
    assert.ok(w.status.userInfo.groups.includes("agg-team-z"));
    assert.ok(w.status.userInfo.groups.includes("system:authenticated"));
    const legacy = JSON.parse(
      await ok(kubectl(zed, "get", "--raw", "/apis/custom.api.local/v1/whoami?view=namespacelist")),
    );
    assert.equal(legacy.kind, "NamespaceList");
    assert.equal(legacy.items[0].metadata.name, "agg-zed");
  });

  it("mynamespace lists only the team's namespaces for a user who may not list namespaces", async () => {
    const list = JSON.parse(await ok(kubectl(zed, "get", "--raw", "/apis/custom.api.local/v1/mynamespace")));
    assert.equal(list.kind, "NamespaceList");
    assert.deepEqual(
      list.items.map((n: { metadata: { name: string } }) => n.metadata.name),
      ["agg-z-one", "agg-z-two"],
    );
    const table = await ok(kubectl(zed, "get", "mynamespace"));
    assert.match(table, /^NAME\s+STATUS\s+AGE\n/);
    assert.match(table, /^agg-z-one\s+Active\s+\d+s\n/m);
    assert.doesNotMatch(table, /agg-y-one/);
    const page = JSON.parse(
      await ok(kubectl(zed, "get", "--raw", "/apis/custom.api.local/v1/mynamespace?limit=1")),
    );
    assert.equal(page.items.length, 1);
    assert.ok(page.metadata.continue);
    const next = JSON.parse(
      await ok(
        kubectl(
          zed,
          "get",
          "--raw",
          `/apis/custom.api.local/v1/mynamespace?limit=1&continue=${page.metadata.continue}`,
        ),
      ),
    );
    assert.equal(next.items[0].metadata.name, "agg-z-two");
    const selected = JSON.parse(
      await ok(
        kubectl(
          zed,
          "get",
          "--raw",
          "/apis/custom.api.local/v1/mynamespace?labelSelector=team%20in%20(agg-team-y)",
        ),
      ),
    );
    assert.equal(selected.items.length, 0);
  });

  it("mynamespace adds what the tenancy model grants: tenants owned and RoleBindings", async () => {
    await ok(admin("create", "namespace", "agg-t-one"));
    await ok(admin("label", "namespace", "agg-t-one", "kubegate.dev/tenant=aggt"));
    await ok(admin("create", "namespace", "agg-bound"));
    await ok(
      admin(
        "create",
        "rolebinding",
        "agg-tom-view",
        "-n",
        "agg-bound",
        "--clusterrole=view",
        "--user=agg-tom",
      ),
    );
    await writeFile(
      at("tenant.yaml"),
      "{ apiVersion: tenancy.kubegate.dev/v1beta1, kind: Tenant, metadata: { name: aggt }, spec: { owners: [{ kind: User, name: agg-tom }] } }",
    );
    await ok(admin("apply", "-f", at("tenant.yaml")));
    const tom = await makeUserKubeconfig({
      dir,
      name: "agg-tom",
      groups: ["agg-readers"],
      signer: cluster.ca,
      server: cluster.server,
      serverCa: cluster.ca.cert,
    });
    const t0 = Date.now();
    let got: string[] = [];
    while (got.length < 2 && Date.now() - t0 < 5000) {
      const list = JSON.parse(
        await ok(kubectl(tom, "get", "--raw", "/apis/custom.api.local/v1/mynamespace")),
      );
      got = list.items.map((n: { metadata: { name: string } }) => n.metadata.name);
    }
    assert.deepEqual(got, ["agg-bound", "agg-t-one"]);
  });

  it("mynamespace lists everything for a user RBAC lets list namespaces", async () => {
    await ok(
      admin(
        "create",
        "clusterrolebinding",
        "agg-admin-reads",
        "--clusterrole=custom-api-local-reader",
        "--user=kubegate-admin",
      ),
    );
    const list = JSON.parse(await ok(admin("get", "--raw", "/apis/custom.api.local/v1/mynamespace")));
    const names = list.items.map((n: { metadata: { name: string } }) => n.metadata.name);
    assert.ok(names.includes("agg-y-one") && names.includes("kube-system"));
  });

  it("refuses a direct caller forging X-Remote-User (the seed's Flask app accepted it)", async () => {
    const r = await rawRequest(server.url, {
      path: "/apis/custom.api.local/v1/whoami",
      headers: [
        ["X-Remote-User", "system:admin"],
        ["X-Remote-Group", "system:masters"],
      ],
      ca: pem(at("ca.crt")),
    });
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body).reason, "Unauthorized");
    // Even with a valid client certificate from the client CA, X-Remote-* headers mean nothing.
    const direct = await rawRequest(server.url, {
      path: "/apis/custom.api.local/v1/whoami",
      headers: [["X-Remote-User", "system:admin"]],
      ca: pem(at("ca.crt")),
      cert: pem(join(dir, "agg-zed.crt")),
      key: pem(join(dir, "agg-zed.key")),
    });
    assert.equal(direct.status, 200, direct.body);
    assert.equal(JSON.parse(direct.body).status.userInfo.username, "agg-zed");
  });

  it("trusts X-Remote-* only with the request-header CA's certificate and an allowed CN", async () => {
    const { createClientCert, loadCA } = await import("../../src/pki/certificates.ts");
    const frontProxyCa = await loadCA(pem(cluster.frontProxyCa.cert), pem(cluster.frontProxyCa.key));
    const wrongCn = await createClientCert(frontProxyCa, { cn: "not-the-aggregator" });
    const forged = await rawRequest(server.url, {
      path: "/apis/custom.api.local/v1/whoami",
      headers: [
        ["X-Remote-User", "agg-zed"],
        ["X-Remote-Group", "agg-readers"],
      ],
      ca: pem(at("ca.crt")),
      cert: wrongCn.certPem,
      key: wrongCn.keyPem,
    });
    assert.equal(forged.status, 401, forged.body);
    const real = await rawRequest(server.url, {
      path: "/apis/custom.api.local/v1/whoami",
      headers: [
        ["X-Remote-User", "agg-proxied"],
        ["X-Remote-Group", "agg-readers"],
        ["x-remote-group", "system:authenticated"],
        ["X-Remote-Extra-Example.com%2FScope", "one"],
        ["X-Remote-Extra-example.com%2fscope", "two"],
      ],
      ca: pem(at("ca.crt")),
      cert: pem(cluster.frontProxyClient.cert),
      key: pem(cluster.frontProxyClient.key),
    });
    assert.equal(real.status, 200, real.body);
    const info = JSON.parse(real.body).status.userInfo;
    assert.equal(info.username, "agg-proxied");
    assert.deepEqual(info.groups, ["agg-readers", "system:authenticated"]);
    assert.deepEqual(info.extra, { "example.com/scope": ["one", "two"] });
  });

  it("answers health without authentication and 403 as a Status for a user without RBAC", async () => {
    const h = await rawRequest(server.url, { path: "/healthz", ca: pem(at("ca.crt")) });
    assert.equal(h.status, 200);
    await makeUserKubeconfig({
      dir,
      name: "agg-nobody",
      signer: cluster.ca,
      server: cluster.server,
      serverCa: cluster.ca.cert,
    });
    const denied = await rawRequest(server.url, {
      path: "/apis/custom.api.local/v1/mynamespace",
      ca: pem(at("ca.crt")),
      cert: pem(join(dir, "agg-nobody.crt")),
      key: pem(join(dir, "agg-nobody.key")),
    });
    assert.equal(denied.status, 403);
    const s = JSON.parse(denied.body);
    assert.equal(s.reason, "Forbidden");
    assert.equal(
      s.message,
      'mynamespace.custom.api.local is forbidden: User "agg-nobody" cannot list resource "mynamespace" in API group "custom.api.local" at the cluster scope',
    );
  });

  it("gateway --namespaces=aggregated: kubectl get namespaces shows exactly the team's namespaces", async () => {
    const env = await prepareGatewayEnv(cluster);
    const gw = await startGatewayProcess(gatewayArgs(env, ["--namespaces", "aggregated"]));
    after(() => gw.stop());
    const zz = await gatewayUser(env, gw.url, "agg-zed", ["agg-team-z", "agg-readers"]);
    const table = await ok(kubectl(zz, "get", "namespaces"));
    const names = table
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(names, ["agg-z-one", "agg-z-two"]);
    assert.match(table, /^NAME\s+STATUS\s+AGE\n/);
    const json = JSON.parse(await ok(kubectl(zz, "get", "namespaces", "-o", "json")));
    assert.deepEqual(
      json.items.map((n: { metadata: { name: string } }) => n.metadata.name),
      ["agg-z-one", "agg-z-two"],
    );
    const limited = await ok(kubectl(zz, "get", "namespaces", "--chunk-size=1", "-o", "name"));
    assert.deepEqual(limited.trim().split("\n"), ["namespace/agg-z-one", "namespace/agg-z-two"]);
  });
});
