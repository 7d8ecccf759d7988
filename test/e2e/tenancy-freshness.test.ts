// Issue #20, part 3: "create a namespace, then list" in a tight loop, the namespace created directly
// at the apiserver (not through the gateway, whose own creates the informer is made to wait for) and
// listed at once by the tenant through the gateway. With --consistent-namespace-lists the list is the
// apiserver's consistent read and never misses; the default (informer) answer's misses are reported.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startGatewayProcess } from "../support/gateway-process.ts";
import { rawRequest } from "../support/https-client.ts";
import { applyYaml, gatewayArgs, gatewayUser, prepareTenancyEnv } from "./gateway-env.ts";
import { kubectl } from "./run.ts";

const { cluster, env, pem } = await prepareTenancyEnv();
await applyYaml(
  cluster,
  env.dir,
  "fr.yaml",
  [
    "{ apiVersion: tenancy.kubegate.dev/v1beta1, kind: Tenant, metadata: { name: fr }, spec: { owners: [{ kind: User, name: fr-alice }] } }",
    "{ apiVersion: v1, kind: Namespace, metadata: { name: fr-bound } }",
    "{ apiVersion: v1, kind: Namespace, metadata: { name: fr-other, labels: { kubegate.dev/tenant: fr-not } } }",
    `{ apiVersion: rbac.authorization.k8s.io/v1, kind: RoleBinding, metadata: { name: view, namespace: fr-bound },
       roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view },
       subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: fr-alice }] }`,
  ].join("\n---\n"),
);

const consistent = await startGatewayProcess(gatewayArgs(env, ["--tenancy", "--consistent-namespace-lists"]));
const informer = await startGatewayProcess(gatewayArgs(env, ["--tenancy"]));
after(async () => {
  await consistent.stop();
  await informer.stop();
});
const aliceKubeconfig = await gatewayUser(env, consistent.url, "fr-alice");
const alice = {
  ca: pem(env.servingCa.cert),
  cert: pem(join(env.dir, "fr-alice.crt")),
  key: pem(join(env.dir, "fr-alice.key")),
};
const adminTls = { ca: pem(cluster.ca.cert), cert: pem(cluster.admin.cert), key: pem(cluster.admin.key) };

async function createNamespace(name: string): Promise<void> {
  const r = await rawRequest(cluster.server, {
    method: "POST",
    path: "/api/v1/namespaces",
    headers: [["Content-Type", "application/json"]],
    body: JSON.stringify({ metadata: { name, labels: { "kubegate.dev/tenant": "fr" } } }),
    ...adminTls,
  });
  assert.equal(r.status, 201, r.body);
}

/** A write elsewhere in the cluster, after the namespace's: its resourceVersion is a later revision. */
async function touchConfigMap(round: number): Promise<bigint> {
  const r = await rawRequest(cluster.server, {
    method: round === 0 ? "POST" : "PATCH",
    path:
      round === 0
        ? "/api/v1/namespaces/default/configmaps"
        : "/api/v1/namespaces/default/configmaps/fr-later",
    headers: [["Content-Type", round === 0 ? "application/json" : "application/merge-patch+json"]],
    body: JSON.stringify({ metadata: { name: "fr-later" }, data: { round: String(round) } }),
    ...adminTls,
  });
  assert.ok(r.status === 200 || r.status === 201, r.body);
  return BigInt((JSON.parse(r.body) as { metadata: { resourceVersion: string } }).metadata.resourceVersion);
}

async function listed(gatewayUrl: string): Promise<{ names: Set<string>; rv: string }> {
  const r = await rawRequest(gatewayUrl, { path: "/api/v1/namespaces", ...alice });
  assert.equal(r.status, 200, r.body);
  const body = JSON.parse(r.body) as {
    metadata: { resourceVersion: string };
    items: { metadata: { name: string } }[];
  };
  return { names: new Set(body.items.map((i) => i.metadata.name)), rv: body.metadata.resourceVersion };
}

describe("tenancy: a namespace list right after a create elsewhere", () => {
  it("--consistent-namespace-lists never misses the namespace just created; the informer's misses are counted", async (t) => {
    const rounds = 60;
    let informerMisses = 0;
    for (let i = 0; i < rounds; i++) {
      const name = `fr-loop-${i}`;
      await createNamespace(name);
      const later = await touchConfigMap(i);
      // Both at once, so that neither gateway's answer gets the other's round trip as a head start.
      const [c, d] = await Promise.all([listed(consistent.url), listed(informer.url)]);
      assert.ok(c.names.has(name), `round ${i}: the consistent list misses ${name} (rv ${c.rv})`);
      // As fresh as the apiserver's consistent read: at or past every write done before it, of any kind
      // (an informer's answer carries the last namespace event's revision).
      assert.ok(BigInt(c.rv) >= later, `round ${i}: list at ${c.rv}, a write before it at ${later}`);
      assert.ok(
        [...c.names].every((n) => n.startsWith("fr-")),
        "only the tenant's namespaces",
      );
      if (!d.names.has(name)) informerMisses++;
    }
    t.diagnostic(
      `informer-served lists missing the namespace created just before: ${informerMisses}/${rounds}`,
    );
    // The informer catches up within moments.
    let missing: string[] = [];
    for (let tries = 0; tries < 40; tries++) {
      const { names } = await listed(informer.url);
      missing = Array.from({ length: rounds }, (_, i) => `fr-loop-${i}`).filter((n) => !names.has(n));
      if (missing.length === 0) break;
      await sleep(50);
    }
    assert.deepEqual(missing, []);
  });

  it("kubectl get namespaces through --consistent-namespace-lists: the same names, as a Table", async () => {
    const r = await kubectl(aliceKubeconfig, "get", "namespaces", "-o", "name");
    assert.equal(r.code, 0, r.stderr);
    const names = r.stdout
      .trim()
      .split("\n")
      .map((l) => l.replace("namespace/", ""));
    assert.deepEqual(names, [...(await listed(consistent.url)).names]);
    assert.ok(names.includes("fr-bound") && names.includes("fr-loop-0") && !names.includes("fr-other"));
    const table = await kubectl(aliceKubeconfig, "get", "namespaces");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+STATUS\s+AGE\n/);
    assert.equal(table.stdout.trim().split("\n").length, names.length + 1);
  });
});
