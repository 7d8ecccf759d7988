// Cluster-scoped kinds beyond the built-in table, named by a Tenant's spec.clusterResources (issue #20,
// part 2): a cluster-scoped CRD of this file's own, reached by tenant owners through the gateway with
// the real kubectl, each owner seeing what its Tenant's selection picks (regex and names, or a label
// selector) with the operations it grants, and nothing else.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { startGatewayProcess } from "../support/gateway-process.ts";
import { applyYaml, gatewayArgs, gatewayUser, prepareTenancyEnv } from "./gateway-env.ts";
import { kubectl, ok, run } from "./run.ts";

const { cluster, env, admin } = await prepareTenancyEnv();
const GROUP = "e2e-cr.kubegate.dev";
const KIND = `gizmos.${GROUP}`;
const GATEWAY_USER = "kubegate-e2e-gateway";

await applyYaml(
  cluster,
  env.dir,
  "cr-crd.yaml",
  `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: ${KIND} }
spec:
  group: ${GROUP}
  scope: Cluster
  names: { kind: Gizmo, listKind: GizmoList, plural: gizmos, singular: gizmo }
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: { type: object, properties: { size: { type: integer }, owner: { type: string } } }
---
# The gateway reads and writes the kind with its own identity: the shipped way is a ClusterRole with
# the aggregation label; bound directly too, so that no aggregation controller is needed here.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: cr-e2e-gizmos
  labels: { tenancy.kubegate.dev/aggregate-to-gateway: "true" }
rules: [{ apiGroups: [${GROUP}], resources: [gizmos], verbs: [get, list, watch, update, patch, delete] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: cr-e2e-gizmos }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cr-e2e-gizmos }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: ${GATEWAY_USER} }]
`,
);
await ok(admin("wait", "--for=condition=Established", `crd/${KIND}`, "--timeout=60s"));
const gizmo = (name: string, labels: Record<string, string> = {}) =>
  JSON.stringify({ apiVersion: `${GROUP}/v1`, kind: "Gizmo", metadata: { name, labels }, spec: { size: 1 } });
await applyYaml(
  cluster,
  env.dir,
  "cr-objects.yaml",
  [
    gizmo("cr-oil-1"),
    gizmo("cr-oil-2"),
    gizmo("cr-gas-1", { team: "cr-gas" }),
    gizmo("cr-shared", { team: "cr-gas" }),
    gizmo("cr-other"),
    `
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: cr-oil }
spec:
  owners: [{ kind: User, name: cr-alice }]
  clusterResources:
  - group: ${GROUP}
    resource: gizmos
    allowedRegex: "cr-oil-.*"
    operations: [List, Update, Delete]
    writable: [spec.size]
---
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: cr-gas }
spec:
  owners: [{ kind: User, name: cr-bob }]
  clusterResources:
  - { group: ${GROUP}, resource: gizmos, selector: { matchLabels: { team: cr-gas } }, allowed: [cr-other] }
`,
  ].join("\n---\n"),
);

const gateway = await startGatewayProcess(gatewayArgs(env, ["--tenancy"]));
const alice = await gatewayUser(env, gateway.url, "cr-alice");
const bob = await gatewayUser(env, gateway.url, "cr-bob");
const mallory = await gatewayUser(env, gateway.url, "cr-mallory");
after(() => gateway.stop());

const names = async (kubeconfig: string) =>
  (await ok(kubectl(kubeconfig, "get", "gizmos", "-o", "name")))
    .split("\n")
    .filter(Boolean)
    .map((n) => n.split("/")[1])
    .sort();

describe("cluster-scoped kinds a Tenant names in clusterResources", () => {
  before(async () => {
    // The gateway's informers have the Tenants a moment after it starts.
    for (let i = 0; i < 50; i++) {
      if ((await kubectl(alice, "get", "gizmos", "-o", "name")).code === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it("each owner lists exactly what its Tenant selects, as names, JSON and kubectl's Table", async () => {
    assert.deepEqual(await names(alice), ["cr-oil-1", "cr-oil-2"]);
    // A label selector wins over allowed names, as for the class kinds.
    assert.deepEqual(await names(bob), ["cr-gas-1", "cr-shared"]);
    const json = JSON.parse(await ok(kubectl(alice, "get", "gizmos", "-o", "json"))) as {
      kind: string;
      items: { metadata: { name: string } }[];
    };
    assert.equal(json.kind, "List");
    assert.deepEqual(
      json.items.map((i) => i.metadata.name),
      ["cr-oil-1", "cr-oil-2"],
    );
    const table = await ok(kubectl(alice, "get", "gizmos"));
    assert.match(table, /^NAME\s+AGE\n/);
    assert.deepEqual(
      table
        .split("\n")
        .slice(1)
        .filter(Boolean)
        .map((l) => l.split(/\s+/)[0]),
      ["cr-oil-1", "cr-oil-2"],
    );
  });

  it("an object outside the selection answers exactly like one that does not exist", async () => {
    const hidden = await kubectl(alice, "get", "gizmo", "cr-gas-1");
    const missing = await kubectl(alice, "get", "gizmo", "cr-nope-1");
    assert.notEqual(hidden.code, 0);
    assert.equal(hidden.stderr.replace("cr-gas-1", "X"), missing.stderr.replace("cr-nope-1", "X"));
    assert.match(hidden.stderr, /NotFound.*gizmos\.e2e-cr\.kubegate\.dev "cr-gas-1" not found/);
    assert.match(await ok(kubectl(alice, "get", "gizmo", "cr-oil-1", "-o", "name")), /cr-oil-1/);
  });

  it("a watch shows what the selection picks as it is created, and nothing else", async () => {
    const watch = spawn(
      "kubectl",
      [
        "--kubeconfig",
        alice,
        "get",
        "gizmos",
        "-w",
        "--output-watch-events",
        "-o",
        "custom-columns=E:.type,N:.object.metadata.name",
        "--no-headers",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    watch.stdout.on("data", (d) => {
      out += d;
    });
    try {
      const until = async (pattern: RegExp) => {
        for (let i = 0; i < 200 && !pattern.test(out); i++) await new Promise((r) => setTimeout(r, 50));
        assert.match(out, pattern);
      };
      await until(/ADDED\s+cr-oil-2/);
      // The invisible one first, then a visible marker: once the marker is there, so would it be.
      await applyYaml(
        cluster,
        env.dir,
        "cr-watch.yaml",
        [gizmo("cr-gas-9"), gizmo("cr-oil-9")].join("\n---\n"),
      );
      await until(/ADDED\s+cr-oil-9/);
      assert.doesNotMatch(out, /cr-gas|cr-shared|cr-other/);
    } finally {
      watch.kill();
    }
  });

  it("an Update grant changes only the writable field; other fields and other owners are refused", async () => {
    await ok(kubectl(alice, "patch", "gizmo", "cr-oil-1", "--type=merge", "-p", '{"spec":{"size":5}}'));
    assert.equal((await ok(admin("get", "gizmo", "cr-oil-1", "-o", "jsonpath={.spec.size}"))).trim(), "5");
    const owner = await kubectl(
      alice,
      "patch",
      "gizmo",
      "cr-oil-1",
      "--type=merge",
      "-p",
      '{"spec":{"owner":"x"}}',
    );
    assert.notEqual(owner.code, 0);
    assert.match(
      owner.stderr,
      /Forbidden.*may not change spec \(writable: spec\.size\) through a tenant grant/,
    );
    assert.equal((await ok(admin("get", "gizmo", "cr-oil-1", "-o", "jsonpath={.spec.owner}"))).trim(), "");
    // bob's Tenant grants List only: his RBAC answers, and it has nothing for him.
    const bobs = await kubectl(
      bob,
      "patch",
      "gizmo",
      "cr-gas-1",
      "--type=merge",
      "-p",
      '{"spec":{"size":9}}',
    );
    assert.notEqual(bobs.code, 0);
    assert.match(bobs.stderr, /cannot patch resource "gizmos"/);
  });

  it("a Delete grant deletes a selected object, and an unselected one is not found", async () => {
    await ok(kubectl(alice, "delete", "gizmo", "cr-oil-2", "--wait=false"));
    assert.notEqual((await admin("get", "gizmo", "cr-oil-2")).code, 0);
    const other = await kubectl(alice, "delete", "gizmo", "cr-other");
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /NotFound/);
    assert.equal((await admin("get", "gizmo", "cr-other")).code, 0, "still there");
  });

  it("kubectl auth can-i says what the Tenant grants", async () => {
    const can = async (kubeconfig: string, ...args: string[]) =>
      (await kubectl(kubeconfig, "auth", "can-i", ...args)).stdout.trim();
    assert.equal(await can(alice, "list", KIND), "yes");
    assert.equal(await can(alice, "delete", `${KIND}/cr-oil-1`), "yes");
    assert.equal(await can(alice, "delete", `${KIND}/cr-gas-1`), "no");
    assert.equal(await can(bob, "update", KIND), "no");
    assert.equal(await can(mallory, "list", KIND), "no");
  });

  it("a user no Tenant grants the kind gets the apiserver's own 403", async () => {
    const r = await kubectl(mallory, "get", "gizmos");
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /User "cr-mallory" cannot list resource "gizmos" in API group "e2e-cr\.kubegate\.dev" at the cluster scope/,
    );
  });

  it("the Tenant CRD refuses a group that rules the cluster, with a message that says so", async () => {
    const bad = JSON.stringify({
      apiVersion: "tenancy.kubegate.dev/v1beta1",
      kind: "Tenant",
      metadata: { name: "cr-bad" },
      spec: {
        owners: [{ kind: "User", name: "cr-alice" }],
        clusterResources: [
          { group: "rbac.authorization.k8s.io", resource: "clusterroles", allowedRegex: ".*" },
        ],
      },
    });
    const refused = await run(
      "kubectl",
      ["--kubeconfig", cluster.adminKubeconfig, "create", "--dry-run=server", "-f", "-"],
      { input: bad },
    );
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /this API group rules the whole cluster and cannot be granted to a tenant/);
  });
});
