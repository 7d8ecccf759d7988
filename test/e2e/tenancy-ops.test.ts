// Tenancy beyond read filtering: namespace creation by tenant owners, the routes `kubectl describe
// node` needs, and `kubectl auth can-i`, all with the real kubectl through the gateway.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
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
import { defaultServiceAccount, kubectl, ok } from "./run.ts";

const cluster = await useCluster();
const env = await prepareGatewayEnv(cluster);
const admin = (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args);
const file = async (name: string, yaml: string) => {
  const path = join(env.dir, name);
  await writeFile(path, yaml);
  return path;
};
const apply = (name: string, yaml: string) => applyYaml(cluster, env.dir, name, yaml);

await installCrds(cluster);

await grantGatewayTenancy(cluster, env);

for (const [ns, tenant] of [
  ["to-water-a", "water"],
  ["to-water-b", "water"],
  ["to-fire-a", "fire"],
]) {
  await ok(admin("create", "namespace", ns as string));
  await ok(admin("label", "namespace", ns as string, `kubegate.dev/tenant=${tenant}`));
  // No controller-manager runs in the test cluster: the ServiceAccount admission plugin needs "default".
  await defaultServiceAccount(cluster.adminKubeconfig, ns as string);
}
await apply(
  "to-tenants.yaml",
  `
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: water }
spec:
  owners:
  - { kind: User, name: to-ann, proxySettings: [{ kind: Nodes }] }
  - { kind: User, name: to-max }
  nodeSelector: { pool: to-water }
---
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: fire }
spec:
  owners:
  - { kind: User, name: to-max }
  nodeSelector: { pool: to-fire }
---
apiVersion: tenancy.kubegate.dev/v1beta1
kind: ProxySetting
metadata: { name: bob-sees-nodes, namespace: to-water-a }
spec:
  subjects: [{ kind: User, name: to-bob }]
  proxySettings: [{ kind: Nodes, operations: [List] }]
`,
);
const now = new Date().toISOString().replace(/\.\d+Z$/, ".000000Z");
const pod = (name: string, ns: string, node: string) =>
  `{ apiVersion: v1, kind: Pod, metadata: { name: ${name}, namespace: ${ns} }, spec: { nodeName: ${node}, containers: [{ name: c, image: nginx }] } }`;
const lease = (node: string) =>
  `{ apiVersion: coordination.k8s.io/v1, kind: Lease, metadata: { name: ${node}, namespace: kube-node-lease }, spec: { holderIdentity: ${node}, leaseDurationSeconds: 40, renewTime: "${now}" } }`;
await apply(
  "to-nodes.yaml",
  [
    "{ apiVersion: v1, kind: Node, metadata: { name: to-node-water, labels: { pool: to-water } } }",
    "{ apiVersion: v1, kind: Node, metadata: { name: to-node-fire, labels: { pool: to-fire } } }",
    lease("to-node-water"),
    lease("to-node-fire"),
    pod("to-pod-water", "to-water-a", "to-node-water"),
    pod("to-pod-water-b", "to-water-b", "to-node-water"),
    pod("to-pod-fire", "to-fire-a", "to-node-water"),
  ].join("\n---\n"),
);
// ann may read pods in one of her two namespaces only: RBAC still decides inside a namespace.
// (No controller-manager: the aggregated "view" ClusterRole is empty here, so a Role of its own.)
await ok(admin("create", "role", "to-pod-reader", "-n", "to-water-a", "--verb=get,list", "--resource=pods"));
await ok(
  admin("create", "rolebinding", "to-ann-pods", "-n", "to-water-a", "--role=to-pod-reader", "--user=to-ann"),
);

const gw = await startGatewayProcess(gatewayArgs(env, ["--tenancy", "--ignored-group", "to-platform"]));
after(() => gw.stop());
const ann = await gatewayUser(env, gw.url, "to-ann");
const max = await gatewayUser(env, gw.url, "to-max");
const bob = await gatewayUser(env, gw.url, "to-bob");
const nobody = await gatewayUser(env, gw.url, "to-nobody");
const namespaceYaml = (name: string, labels = "{}") =>
  `{ apiVersion: v1, kind: Namespace, metadata: { name: ${name}, labels: ${labels} } }`;
const tenantOf = async (ns: string) =>
  (await ok(admin("get", "namespace", ns, "-o", "jsonpath={.metadata.labels.kubegate\\.dev/tenant}"))).trim();
const names = async (kubeconfig: string) =>
  (await ok(kubectl(kubeconfig, "get", "namespaces", "-o", "name"))).trim().split("\n");

describe("tenancy: tenant owners create namespaces through the gateway", () => {
  it("kubectl create ns lands in the owner's tenant, and the owner then sees it", async () => {
    assert.match(await ok(kubectl(ann, "create", "namespace", "to-water-created")), /created/);
    assert.equal(await tenantOf("to-water-created"), "water");
    assert.ok((await names(ann)).includes("namespace/to-water-created"));
  });

  it("kubectl apply (client-side) creates, then finds it unchanged", async () => {
    const path = await file("to-ns-applied.yaml", namespaceYaml("to-water-applied"));
    assert.match(await ok(kubectl(ann, "apply", "-f", path)), /namespace\/to-water-applied created/);
    assert.equal(await tenantOf("to-water-applied"), "water");
    assert.match(await ok(kubectl(ann, "apply", "-f", path)), /namespace\/to-water-applied unchanged/);
  });

  it("kubectl apply --server-side creates a new namespace in the tenant", async () => {
    const path = await file("to-ns-ssa.yaml", namespaceYaml("to-water-ssa", "{ purpose: ssa }"));
    assert.match(await ok(kubectl(ann, "apply", "--server-side", "-f", path)), /serverside-applied/);
    assert.equal(await tenantOf("to-water-ssa"), "water");
    assert.match(await ok(admin("get", "namespace", "to-water-ssa", "--show-labels")), /purpose=ssa/);
  });

  it("another tenant's label is a 403; nothing is created", async () => {
    const path = await file(
      "to-ns-foreign.yaml",
      namespaceYaml("to-foreign", "{ kubegate.dev/tenant: fire }"),
    );
    const r = await kubectl(ann, "apply", "-f", path);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Forbidden.*does not own tenant "fire"/);
    const ssa = await kubectl(ann, "apply", "--server-side", "-f", path);
    assert.match(ssa.stderr, /Forbidden.*does not own tenant "fire"/);
    assert.notEqual((await admin("get", "namespace", "to-foreign")).code, 0);
  });

  it("an owner of several tenants must name one with the label", async () => {
    const r = await kubectl(max, "create", "namespace", "to-unsure");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /BadRequest|owns several tenants \(fire, water\)/);
    assert.notEqual((await admin("get", "namespace", "to-unsure")).code, 0);
    const path = await file("to-ns-fire.yaml", namespaceYaml("to-fire-new", "{ kubegate.dev/tenant: fire }"));
    await ok(kubectl(max, "apply", "-f", path));
    assert.equal(await tenantOf("to-fire-new"), "fire");
  });

  it("a user who owns no tenant gets the apiserver's answer", async () => {
    const r = await kubectl(nobody, "create", "namespace", "to-nobodys");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /User "to-nobody" cannot create resource "namespaces"/);
  });
});

describe("tenancy: kubectl describe node for a tenant", () => {
  it("describes a visible node with its lease and the pods the tenant may see on it", async () => {
    const out = await ok(kubectl(ann, "describe", "node", "to-node-water"));
    assert.match(out, /Name:\s+to-node-water/);
    assert.match(out, /HolderIdentity:\s+to-node-water/);
    assert.match(out, /to-water-a\s+to-pod-water/);
    assert.doesNotMatch(out, /to-pod-fire|to-pod-water-b/);
  });

  it("an invisible node is refused, and so are its routes", async () => {
    assert.notEqual((await kubectl(ann, "describe", "node", "to-node-fire")).code, 0);
    const pods = await kubectl(
      ann,
      "get",
      "--raw",
      "/api/v1/pods?fieldSelector=spec.nodeName%3Dto-node-fire",
    );
    assert.match(pods.stderr, /Forbidden/);
    const l = await kubectl(ann, "get", "lease", "to-node-fire", "-n", "kube-node-lease");
    assert.match(l.stderr, /User "to-ann" cannot get resource "leases"/);
    assert.match(
      await ok(kubectl(ann, "get", "lease", "to-node-water", "-n", "kube-node-lease", "-o", "name")),
      /lease.coordination.k8s.io\/to-node-water/,
    );
  });

  it("without a metrics API, metrics.k8s.io answers as the apiserver does (404)", async () => {
    const r = await kubectl(ann, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /NotFound|could not find the requested resource/);
  });
});

describe("tenancy: kubectl auth can-i reflects the gateway's grants", () => {
  const canI = async (kubeconfig: string, ...args: string[]) =>
    (await kubectl(kubeconfig, "auth", "can-i", ...args)).stdout.trim();

  it("a ProxySetting's Nodes List is a yes for list/get/watch nodes, not for delete", async () => {
    assert.equal(await canI(bob, "list", "nodes"), "yes");
    assert.equal(await canI(bob, "get", "nodes"), "yes");
    assert.equal(await canI(bob, "watch", "nodes"), "yes");
    assert.equal(await canI(bob, "delete", "nodes"), "no");
    assert.equal(await canI(bob, "list", "storageclasses"), "no");
  });

  it("no grant, no yes; an owner may create namespaces; a named node follows visibility", async () => {
    assert.equal(await canI(nobody, "list", "nodes"), "no");
    assert.equal(await canI(ann, "create", "namespaces"), "yes");
    assert.equal(await canI(ann, "get", "nodes/to-node-water"), "yes");
    assert.equal(await canI(ann, "get", "nodes/to-node-fire"), "no");
  });

  it("kubectl auth can-i --list adds the granted rules", async () => {
    const table = await ok(kubectl(bob, "auth", "can-i", "--list"));
    assert.match(table, /^nodes\s+\[\]\s+\[\]\s+\[get list watch\]$/m);
    const none = await ok(kubectl(nobody, "auth", "can-i", "--list"));
    assert.doesNotMatch(none, /^nodes\s/m);
  });
});
