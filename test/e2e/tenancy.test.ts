import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, describe, it } from "node:test";
import { useCluster } from "../cluster/harness.ts";
import { startGatewayProcess } from "../support/gateway-process.ts";
import {
  applyYaml,
  gatewayArgs,
  gatewayUser,
  grantGatewayTenancy,
  installCrds,
  prepareGatewayEnv,
} from "./gateway-env.ts";
import { kubectl, ok } from "./run.ts";

const cluster = await useCluster();
const env = await prepareGatewayEnv(cluster);
const admin = (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args);
const apply = (name: string, yaml: string) => applyYaml(cluster, env.dir, name, yaml);

await installCrds(cluster);

await grantGatewayTenancy(cluster, env);

for (const [ns, labels] of [
  ["tn-oil-dev", "kubegate.dev/tenant=oil"],
  ["tn-oil-prod", "kubegate.dev/tenant=oil"],
  ["tn-gas-dev", "kubegate.dev/tenant=gas"],
  ["tn-team-ns", "team=tn-team"],
  ["tn-bound", ""],
]) {
  await ok(admin("create", "namespace", ns as string));
  if (labels) await ok(admin("label", "namespace", ns as string, labels));
}
for (const sc of ["cephfs", "glusterfs", "local-ssd", "standard"]) {
  await apply(
    `sc-${sc}.yaml`,
    `{ apiVersion: storage.k8s.io/v1, kind: StorageClass, metadata: { name: ${sc}, labels: { tier: ${sc === "local-ssd" ? "fast" : "slow"} } }, provisioner: example.com/${sc} }`,
  );
}
await apply(
  "tenants.yaml",
  `
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: oil }
spec:
  owners:
  - kind: User
    name: tn-alice
    proxySettings:
    - { kind: StorageClasses, operations: [List, Update] }
    - { kind: Nodes }
    - { kind: IngressClasses }
    - { kind: PriorityClasses }
    - { kind: RuntimeClasses }
    - { kind: PersistentVolumes }
  nodeSelector: { pool: oil }
  storageClasses: { allowed: [cephfs], allowedRegex: "\\\\w+fs" }
  ingressClasses: { allowedRegex: "\\\\w+-lb" }
  priorityClasses: { allowedRegex: "\\\\w+priority" }
  runtimeClasses:
    selector: { matchExpressions: [{ key: capsule.clastix.io/qos, operator: Exists }] }
---
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: gas }
spec:
  owners:
  - kind: Group
    name: tn-gas-owners
    proxySettings: [{ kind: StorageClasses }]
  storageClasses:
    allowed: [cephfs]
    selector: { matchLabels: { tier: fast } }
---
apiVersion: tenancy.kubegate.dev/v1beta1
kind: ProxySetting
metadata: { name: bob-sees-storage, namespace: tn-oil-dev }
spec:
  subjects: [{ kind: User, name: tn-bob }]
  proxySettings: [{ kind: StorageClasses, operations: [List] }]
`,
);
await ok(
  admin("create", "rolebinding", "tn-rob-view", "-n", "tn-bound", "--clusterrole=view", "--user=tn-rob"),
);

await apply(
  "cluster-objects.yaml",
  [
    "{ apiVersion: v1, kind: Node, metadata: { name: tn-node-oil, labels: { pool: oil } } }",
    "{ apiVersion: v1, kind: Node, metadata: { name: tn-node-gas, labels: { pool: gas } } }",
    "{ apiVersion: networking.k8s.io/v1, kind: IngressClass, metadata: { name: nginx-lb }, spec: { controller: example.com/nginx } }",
    "{ apiVersion: networking.k8s.io/v1, kind: IngressClass, metadata: { name: haproxy-lb }, spec: { controller: example.com/haproxy } }",
    "{ apiVersion: networking.k8s.io/v1, kind: IngressClass, metadata: { name: internal }, spec: { controller: example.com/internal } }",
    "{ apiVersion: scheduling.k8s.io/v1, kind: PriorityClass, metadata: { name: highpriority }, value: 1000 }",
    "{ apiVersion: scheduling.k8s.io/v1, kind: PriorityClass, metadata: { name: batch-low }, value: 10 }",
    "{ apiVersion: node.k8s.io/v1, kind: RuntimeClass, metadata: { name: gvisor, labels: { capsule.clastix.io/qos: low } }, handler: runsc }",
    "{ apiVersion: node.k8s.io/v1, kind: RuntimeClass, metadata: { name: kata }, handler: kata }",
    "{ apiVersion: v1, kind: PersistentVolume, metadata: { name: tn-pv-oil, labels: { kubegate.dev/tenant: oil } }, spec: { capacity: { storage: 1Gi }, accessModes: [ReadWriteOnce], hostPath: { path: /tmp/tn-oil } } }",
    "{ apiVersion: v1, kind: PersistentVolume, metadata: { name: tn-pv-gas, labels: { kubegate.dev/tenant: gas } }, spec: { capacity: { storage: 1Gi }, accessModes: [ReadWriteOnce], hostPath: { path: /tmp/tn-gas } } }",
  ].join("\n---\n"),
);
const gw = await startGatewayProcess(
  gatewayArgs(env, ["--tenancy", "--team-label", "team", "--ignored-group", "tn-platform"]),
);
after(() => gw.stop());
const alice = await gatewayUser(env, gw.url, "tn-alice");
const names = (out: string) =>
  out
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.replace(/^[^/]+\//, ""));

describe("tenancy: namespaces through the gateway", () => {
  it("kubectl get namespaces shows a tenant owner exactly the tenant's namespaces, with the apiserver's columns", async () => {
    const table = await ok(kubectl(alice, "get", "namespaces"));
    assert.match(table, /^NAME\s+STATUS\s+AGE\n/);
    assert.deepEqual(
      table
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
      ["tn-oil-dev", "tn-oil-prod"],
    );
    assert.deepEqual(names(await ok(kubectl(alice, "get", "namespaces", "-o", "name"))), [
      "tn-oil-dev",
      "tn-oil-prod",
    ]);
    const json = JSON.parse(await ok(kubectl(alice, "get", "namespaces", "-o", "json")));
    assert.deepEqual(
      json.items.map((n: { metadata: { name: string } }) => n.metadata.name),
      ["tn-oil-dev", "tn-oil-prod"],
    );
  });

  it("get by name: a visible namespace is shown, an invisible one is refused without its data", async () => {
    assert.match(await ok(kubectl(alice, "get", "namespace", "tn-oil-dev")), /tn-oil-dev\s+Active/);
    const other = await kubectl(alice, "get", "namespace", "tn-gas-dev", "-o", "json");
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /Forbidden|NotFound/);
    assert.doesNotMatch(other.stdout + other.stderr, /kubegate\.dev\/tenant/);
  });

  it("the team label and RoleBindings grant visibility too; admins and ignored groups see everything", async () => {
    const tina = await gatewayUser(env, gw.url, "tn-tina", ["tn-team"]);
    assert.deepEqual(names(await ok(kubectl(tina, "get", "namespaces", "-o", "name"))), ["tn-team-ns"]);
    const rob = await gatewayUser(env, gw.url, "tn-rob");
    assert.deepEqual(names(await ok(kubectl(rob, "get", "namespaces", "-o", "name"))), ["tn-bound"]);
    await ok(
      admin("create", "clusterrolebinding", "tn-admin-user", "--clusterrole=cluster-admin", "--user=tn-root"),
    );
    const root = await gatewayUser(env, gw.url, "tn-root");
    const all = names(await ok(kubectl(root, "get", "namespaces", "-o", "name")));
    assert.ok(all.includes("tn-gas-dev") && all.includes("kube-system"));
    // An ignored identity is passed through untouched: its own RBAC answers (here: forbidden to list).
    const platform = await gatewayUser(env, gw.url, "tn-plat", ["tn-platform"]);
    const r = await kubectl(platform, "get", "namespaces");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /User "tn-plat" cannot list resource "namespaces"/);
  });

  it("a user in 200 groups is filtered the same way", async () => {
    const groups = Array.from({ length: 199 }, (_, i) => `tn-many-${i}`);
    const many = await gatewayUser(env, gw.url, "tn-many", [...groups, "tn-team"]);
    assert.deepEqual(names(await ok(kubectl(many, "get", "namespaces", "-o", "name"))), ["tn-team-ns"]);
  });

  it("kubectl get namespaces -w shows only visible namespaces, including ones created later", async () => {
    const watcher = spawn("kubectl", ["--kubeconfig", alice, "get", "namespaces", "-w", "-o", "name"]);
    let seen = "";
    watcher.stdout.on("data", (d) => {
      seen += d;
    });
    const until = async (what: string) => {
      const t0 = Date.now();
      while (!seen.includes(what) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 25));
    };
    try {
      // The watch is running once its initial list has been printed.
      await until("tn-oil-dev");
      await ok(admin("create", "namespace", "tn-gas-late"));
      await ok(admin("label", "namespace", "tn-gas-late", "kubegate.dev/tenant=gas"));
      await ok(admin("create", "namespace", "tn-oil-late"));
      await ok(admin("label", "namespace", "tn-oil-late", "kubegate.dev/tenant=oil"));
      // Events come in resourceVersion order: once the later oil namespace is shown, a leaked event of
      // the earlier gas one would already be there. No sleep needed for the absence check.
      await until("tn-oil-late");
      assert.match(seen, /namespace\/tn-oil-dev/);
      assert.match(seen, /namespace\/tn-oil-late/);
      assert.doesNotMatch(seen, /tn-gas|kube-system|default/);
    } finally {
      watcher.kill();
    }
  });
});

describe("tenancy: storage classes (the seed's name + regex table)", () => {
  it("an owner with StorageClasses proxySettings sees the allowed names and the \\w+fs regex", async () => {
    assert.deepEqual(names(await ok(kubectl(alice, "get", "storageclasses", "-o", "name"))), [
      "cephfs",
      "glusterfs",
    ]);
    const table = await ok(kubectl(alice, "get", "storageclasses"));
    assert.match(table, /^NAME\s+PROVISIONER/);
    assert.doesNotMatch(table, /local-ssd|standard/);
    assert.equal((await kubectl(alice, "get", "storageclass", "local-ssd")).code === 0, false);
  });

  it("a label selector wins over names; a user the model grants nothing gets the apiserver's answer", async () => {
    const gasOwner = await gatewayUser(env, gw.url, "tn-gus", ["tn-gas-owners"]);
    assert.deepEqual(names(await ok(kubectl(gasOwner, "get", "storageclasses", "-o", "name"))), [
      "local-ssd",
    ]);
    const rob = await gatewayUser(env, gw.url, "tn-rob");
    const r = await kubectl(rob, "get", "storageclasses", "-o", "name");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /User "tn-rob" cannot list resource "storageclasses"/);
  });

  it("a ProxySetting grants a non-owner the same view", async () => {
    const bob = await gatewayUser(env, gw.url, "tn-bob");
    assert.deepEqual(names(await ok(kubectl(bob, "get", "storageclasses", "-o", "name"))), [
      "cephfs",
      "glusterfs",
    ]);
    // A ProxySetting grants the kinds it names, not the tenant's namespaces.
    const ns = await kubectl(bob, "get", "namespaces", "-o", "name");
    assert.notEqual(ns.code, 0);
    assert.match(ns.stderr, /User "tn-bob" cannot list resource "namespaces"/);
  });
});

describe("tenancy: the seed's other tables, nodes and persistent volumes", () => {
  it("ingress classes by \\w+-lb, priority classes by \\w+priority, runtime classes by label Exists", async () => {
    assert.deepEqual(names(await ok(kubectl(alice, "get", "ingressclasses", "-o", "name"))), [
      "haproxy-lb",
      "nginx-lb",
    ]);
    assert.deepEqual(names(await ok(kubectl(alice, "get", "priorityclasses", "-o", "name"))), [
      "highpriority",
    ]);
    assert.deepEqual(names(await ok(kubectl(alice, "get", "runtimeclasses", "-o", "name"))), ["gvisor"]);
  });

  it("nodes by the tenant's nodeSelector, persistent volumes by the tenant label", async () => {
    assert.deepEqual(names(await ok(kubectl(alice, "get", "nodes", "-o", "name"))), ["tn-node-oil"]);
    assert.match(await ok(kubectl(alice, "get", "node", "tn-node-oil")), /tn-node-oil/);
    assert.notEqual((await kubectl(alice, "get", "node", "tn-node-gas")).code, 0);
    assert.deepEqual(names(await ok(kubectl(alice, "get", "persistentvolumes", "-o", "name"))), [
      "tn-pv-oil",
    ]);
  });

  it("Update is done when granted; Delete, not granted, is the apiserver's 403", async () => {
    await ok(kubectl(alice, "label", "storageclass", "cephfs", "owner=oil"));
    assert.match(await ok(admin("get", "storageclass", "cephfs", "--show-labels")), /owner=oil/);
    const denied = await kubectl(alice, "delete", "storageclass", "glusterfs");
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /User "tn-alice" cannot delete resource "storageclasses"/);
    assert.equal((await admin("get", "storageclass", "glusterfs")).code, 0, "still there");
    const invisible = await kubectl(alice, "label", "storageclass", "standard", "owner=oil");
    assert.notEqual(invisible.code, 0, "an invisible class is not updated by the gateway");
  });
});
