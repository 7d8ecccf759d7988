// Issue #17, as an attacker tries it on the real apiserver: writes the gateway would make with its own
// identity (items 1-5), identities it must refuse (6, 7) and paths that are not API paths (10).
// alice owns tenant "wa" (Nodes List, StorageClasses List+Update); bob edits one of her namespaces
// through a RoleBinding and also holds an unrelated RoleBinding in kube-system; bert owns tenant "wb".
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createClientCert, loadCA } from "../../src/pki/certificates.ts";
import { startGatewayProcess } from "../support/gateway-process.ts";
import { rawRequest } from "../support/https-client.ts";
import { applyYaml, gatewayArgs, gatewayUser, prepareTenancyEnv } from "./gateway-env.ts";
import { kubectl, ok } from "./run.ts";

const { cluster, env, admin, pem } = await prepareTenancyEnv();

await applyYaml(
  cluster,
  env.dir,
  "wa.yaml",
  `
apiVersion: v1
kind: Namespace
metadata: { name: wa-dev, labels: { kubegate.dev/tenant: wa } }
---
apiVersion: v1
kind: Namespace
metadata: { name: wb-dev, labels: { kubegate.dev/tenant: wb } }
---
apiVersion: v1
kind: Node
metadata: { name: wa-node, labels: { pool: wa } }
---
apiVersion: v1
kind: Node
metadata: { name: wb-node, labels: { pool: wb } }
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: { name: wa-ssd }
provisioner: example.com/wa
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: { name: wb-sc }
provisioner: example.com/wb
---
apiVersion: v1
kind: PersistentVolume
metadata: { name: wa-pv, labels: { kubegate.dev/tenant: wa } }
spec: { capacity: { storage: 1Gi }, accessModes: [ReadWriteOnce], hostPath: { path: /tmp/wa } }
---
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: wa }
spec:
  owners:
  - kind: User
    name: wa-alice
    proxySettings: [{ kind: Nodes }, { kind: StorageClasses, operations: [List, Update, Delete] }]
  nodeSelector: { pool: wa }
  storageClasses: { allowed: [wa-ssd] }
---
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: wb }
spec:
  owners: [{ kind: User, name: wa-bert }]
---
# What a tenant owner might write in her own namespace: far more than her tenant holds.
apiVersion: tenancy.kubegate.dev/v1beta1
kind: ProxySetting
metadata: { name: greedy, namespace: wa-dev }
spec:
  subjects: [{ kind: User, name: wa-alice }, { kind: User, name: wa-eve }]
  proxySettings:
  - { kind: Nodes, operations: [List, Update, Delete] }
  - { kind: PersistentVolumes, operations: [List, Delete] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: wa-edit, namespace: wa-dev }
rules: [{ apiGroups: [""], resources: [configmaps], verbs: ["*"] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: wa-bob-edit, namespace: wa-dev }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: wa-edit }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: wa-bob }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: wa-unrelated, namespace: kube-system }
rules: [{ apiGroups: [""], resources: [configmaps], verbs: [get] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: wa-bob-unrelated, namespace: kube-system }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: wa-unrelated }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: wa-bob }]
---
# alice owns a namespace she may administer with her own RBAC: the gateway must leave that to the apiserver.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: wa-namespace-labeller }
rules: [{ apiGroups: [""], resources: [namespaces], verbs: [get, patch], resourceNames: [wa-own-rbac] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: wa-alice-namespace-labeller }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: wa-namespace-labeller }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: wa-alice }]
`,
);
await ok(admin("create", "namespace", "wa-own-rbac"));
await ok(admin("label", "namespace", "wa-own-rbac", "kubegate.dev/tenant=wa"));

const gw = await startGatewayProcess(gatewayArgs(env, ["--tenancy"]));
after(() => gw.stop());
const alice = await gatewayUser(env, gw.url, "wa-alice");
const bob = await gatewayUser(env, gw.url, "wa-bob");
const bert = await gatewayUser(env, gw.url, "wa-bert");
const eve = await gatewayUser(env, gw.url, "wa-eve");
const ca = pem(env.servingCa.cert);
const as = (name: string) => ({
  ca,
  cert: pem(join(env.dir, `${name}.crt`)),
  key: pem(join(env.dir, `${name}.key`)),
});
const labelsOf = async (ns: string) =>
  JSON.parse(await ok(admin("get", "namespace", ns, "-o", "jsonpath={.metadata.labels}"))) as Record<
    string,
    string
  >;
const refused = (r: { code: number; stderr: string }, why: RegExp) => {
  assert.notEqual(r.code, 0, "the write was refused");
  assert.match(r.stderr, why);
};

describe("issue #17 items 1-2: a RoleBinding or ownership is not a grant to change a namespace", () => {
  it("bob's RoleBinding in wa-dev does not let him patch its labels or finalizers (1)", async () => {
    refused(await kubectl(bob, "label", "namespace", "wa-dev", "owned=bob"), /Forbidden|forbidden/);
    refused(
      await kubectl(
        bob,
        "patch",
        "namespace",
        "wa-dev",
        "--type=merge",
        "-p",
        '{"metadata":{"finalizers":["x/y"]}}',
      ),
      /Forbidden|forbidden/,
    );
    assert.equal((await labelsOf("wa-dev")).owned, undefined);
    assert.equal((await kubectl(bob, "auth", "can-i", "patch", "namespace/wa-dev")).stdout.trim(), "no");
  });

  it("an unrelated RoleBinding in kube-system does not let bob label kube-system (1)", async () => {
    refused(await kubectl(bob, "label", "namespace", "kube-system", "pwned=1"), /Forbidden|forbidden/);
    assert.equal((await labelsOf("kube-system")).pwned, undefined);
  });

  it("alice may not patch her own namespace: no Tenant grants Update on namespaces (2)", async () => {
    refused(await kubectl(alice, "label", "namespace", "wa-dev", "x=y"), /Forbidden|forbidden/);
    assert.equal((await labelsOf("wa-dev")).x, undefined);
  });

  it("where her own RBAC allows the patch, the apiserver does it as her, not the gateway", async () => {
    await ok(kubectl(alice, "label", "namespace", "wa-own-rbac", "mine=yes"));
    const managers = JSON.parse(
      await ok(admin("get", "namespace", "wa-own-rbac", "--show-managed-fields", "-o", "json")),
    ) as { metadata: { labels: Record<string, string>; managedFields: { manager: string }[] } };
    assert.equal(managers.metadata.labels.mine, "yes");
  });
});

describe("issue #17 item 3: a ProxySetting never grants more than its tenant holds", () => {
  it("no cordon or delete of a node, though the ProxySetting names Update and Delete", async () => {
    // kubectl cordon exits 0 even when its patch is refused: the patch itself, and the stderr of cordon.
    refused(
      await kubectl(
        alice,
        "patch",
        "node",
        "wa-node",
        "--type=merge",
        "-p",
        '{"spec":{"unschedulable":true}}',
      ),
      /Forbidden|forbidden/,
    );
    assert.match((await kubectl(alice, "cordon", "wa-node")).stderr, /forbidden/);
    refused(await kubectl(alice, "delete", "node", "wa-node", "--dry-run=server"), /Forbidden|forbidden/);
    refused(await kubectl(eve, "delete", "node", "wa-node"), /Forbidden|forbidden/);
    assert.equal(
      (await ok(admin("get", "node", "wa-node", "-o", "jsonpath={.spec.unschedulable}"))).trim(),
      "",
    );
  });

  it("no persistent volumes listed or deleted: the tenant holds no PersistentVolumes grant", async () => {
    refused(await kubectl(alice, "get", "pv"), /Forbidden|forbidden/);
    refused(await kubectl(eve, "delete", "pv", "wa-pv", "--dry-run=server"), /Forbidden|forbidden|NotFound/);
    await ok(admin("get", "pv", "wa-pv"));
  });

  it("what the tenant does hold is shared: eve sees the tenant's node", async () => {
    assert.equal((await ok(kubectl(eve, "get", "nodes", "-o", "name"))).trim(), "node/wa-node");
  });
});

describe("issue #17 item 4: creating a namespace never adopts one that exists", () => {
  it("server-side apply --force-conflicts of bert's namespace by alice leaves it in wb", async () => {
    await ok(kubectl(bert, "create", "namespace", "wb-taken"));
    const file = join(env.dir, "wb-taken.yaml");
    await import("node:fs/promises").then((fs) =>
      fs.writeFile(file, "apiVersion: v1\nkind: Namespace\nmetadata: { name: wb-taken, labels: { x: y } }\n"),
    );
    const r = await kubectl(alice, "apply", "--server-side", "--force-conflicts", "-f", file);
    assert.notEqual(r.code, 0);
    assert.equal((await labelsOf("wb-taken"))["kubegate.dev/tenant"], "wb");
  });

  it("racing creates of one name: whoever wins keeps it, 20 times out of 20", async () => {
    const fs = await import("node:fs/promises");
    let wins = 0;
    for (let i = 0; i < 20; i++) {
      const name = `wa-race-${i}`;
      const file = join(env.dir, `${name}.yaml`);
      await fs.writeFile(file, `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${name} }\n`);
      const [a, b] = await Promise.all([
        kubectl(alice, "apply", "--server-side", "--force-conflicts", "-f", file),
        kubectl(bert, "create", "namespace", name),
      ]);
      const tenant = (await labelsOf(name))["kubegate.dev/tenant"];
      // Exactly one creation succeeds, and the namespace is in the winner's tenant.
      assert.equal(Number(a.code === 0) + Number(b.code === 0), 1, `${name}: ${a.stderr} | ${b.stderr}`);
      assert.equal(tenant, a.code === 0 ? "wa" : "wb", name);
      if (b.code === 0) wins++;
    }
    console.log(`# race: bert won ${wins} of 20, alice ${20 - wins}; no namespace changed tenant`);
  });
});

describe("issue #17 item 5: what a tenant write may set", () => {
  it("a granted StorageClass update may not make it the cluster's default", async () => {
    refused(
      await kubectl(
        alice,
        "annotate",
        "storageclass",
        "wa-ssd",
        "storageclass.kubernetes.io/is-default-class=true",
      ),
      /prefixed/,
    );
    await ok(kubectl(alice, "label", "storageclass", "wa-ssd", "wa-tier=fast"));
    assert.match(await ok(admin("get", "storageclass", "wa-ssd", "--show-labels")), /wa-tier=fast/);
  });

  it("a new namespace may not carry pod-security labels, ownerReferences or finalizers", async () => {
    const fs = await import("node:fs/promises");
    const node = JSON.parse(await ok(admin("get", "node", "wb-node", "-o", "json"))) as {
      metadata: { uid: string };
    };
    for (const [name, metadata] of [
      ["wa-priv", "labels: { pod-security.kubernetes.io/enforce: privileged }"],
      [
        "wa-owned",
        `ownerReferences: [{ apiVersion: v1, kind: Node, name: wb-node, uid: ${node.metadata.uid} }]`,
      ],
      ["wa-held", "finalizers: [example.com/hold]"],
    ] as const) {
      const file = join(env.dir, `${name}.yaml`);
      await fs.writeFile(file, `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${name}, ${metadata} }\n`);
      refused(await kubectl(alice, "create", "-f", file), /forbidden|Forbidden/);
      refused(await kubectl(alice, "apply", "--server-side", "-f", file), /forbidden|Forbidden/);
      assert.notEqual((await admin("get", "namespace", name)).code, 0, `${name} was not created`);
    }
    await ok(kubectl(alice, "create", "namespace", "wa-plain"));
  });
});

const usersCa = await loadCA(pem(env.usersCa.cert), pem(env.usersCa.key));

describe("issue #17, review: the checks cannot be steered by Accept or by the name's bytes", () => {
  const TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
  const sc = "/apis/storage.k8s.io/v1/storageclasses";

  it("a Table Accept does not make another tenant's object deletable or patchable", async () => {
    const del = await rawRequest(gw.url, {
      method: "DELETE",
      path: `${sc}/wb-sc`,
      headers: [["Accept", TABLE]],
      ...as("wa-alice"),
    });
    assert.equal(del.status, 404, del.body);
    const patch = await rawRequest(gw.url, {
      method: "PATCH",
      path: `${sc}/wb-sc`,
      headers: [
        ["Accept", TABLE],
        ["Content-Type", "application/merge-patch+json"],
      ],
      body: '{"metadata":{"labels":{"owned":"wa"}}}',
      ...as("wa-alice"),
    });
    assert.equal(patch.status, 404, patch.body);
    const still = JSON.parse(await ok(admin("get", "storageclass", "wb-sc", "-o", "json")));
    assert.equal(still.metadata.labels?.owned, undefined);
  });

  it("an encoded '?' in the name cannot turn the dry run into a real write", async () => {
    const r = await rawRequest(gw.url, {
      method: "PATCH",
      path: `${sc}/wa-ssd%3F`,
      headers: [["Content-Type", "application/merge-patch+json"]],
      body: '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}}',
      ...as("wa-alice"),
    });
    assert.notEqual(r.status, 200, r.body);
    const annotations = await ok(
      admin("get", "storageclass", "wa-ssd", "-o", "jsonpath={.metadata.annotations}"),
    );
    assert.doesNotMatch(annotations, /is-default-class/);
  });

  it("a granted delete of the tenant's own class still works, with its preconditions", async () => {
    await applyYaml(
      cluster,
      env.dir,
      "wa-gone.yaml",
      "{ apiVersion: storage.k8s.io/v1, kind: StorageClass, metadata: { name: wa-ssd-gone }, provisioner: example.com/wa }",
    );
    // The Tenant allows wa-ssd only: widen it to the class about to be deleted.
    await ok(
      admin(
        "patch",
        "tenant",
        "wa",
        "--type=merge",
        "-p",
        '{"spec":{"storageClasses":{"allowed":["wa-ssd","wa-ssd-gone"]}}}',
      ),
    );
    for (let i = 0; i < 50; i++) {
      if ((await kubectl(alice, "get", "storageclass", "wa-ssd-gone")).code === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await ok(kubectl(alice, "delete", "storageclass", "wa-ssd-gone"));
    assert.notEqual((await admin("get", "storageclass", "wa-ssd-gone")).code, 0);
  });
});

describe("issue #17 items 6-7: identities the gateway refuses", () => {
  const review = (c: { certPem: string; keyPem: string }) =>
    rawRequest(gw.url, {
      method: "POST",
      path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
      headers: [["Content-Type", "application/json"]],
      body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }),
      ca,
      cert: c.certPem,
      key: c.keyPem,
    });

  it("a users-CA certificate for a reserved group or name is a 401 that says why (6)", async () => {
    for (const spec of [
      { cn: "wa-mallory", organizations: ["system:masters"] } as { cn: string; organizations?: string[] },
      { cn: "wa-mallory", organizations: ["system:nodes"] },
      { cn: "wa-mallory", organizations: ["system:serviceaccounts:kube-system"] },
      { cn: "system:admin" },
      { cn: "system:node:wa-node", organizations: ["team"] },
    ]) {
      const r = await review(await createClientCert(usersCa, spec));
      assert.equal(r.status, 401, JSON.stringify(spec));
      assert.match(JSON.parse(r.body).message, /reserved/);
    }
    const masters = await createClientCert(usersCa, { cn: "wa-m", organizations: ["system:masters"] });
    const secrets = await rawRequest(gw.url, {
      path: "/api/v1/namespaces/kube-system/secrets",
      ca,
      cert: masters.certPem,
      key: masters.keyPem,
    });
    assert.equal(secrets.status, 401);
  });

  it("the escape hatch --allow-reserved-identity lets an operator accept them", async () => {
    const open = await startGatewayProcess(gatewayArgs(env, ["--allow-reserved-identity"]));
    try {
      const c = await createClientCert(usersCa, { cn: "wa-ops", organizations: ["system:masters"] });
      const r = await rawRequest(open.url, {
        method: "POST",
        path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        headers: [["Content-Type", "application/json"]],
        body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }),
        ca,
        cert: c.certPem,
        key: c.keyPem,
      });
      assert.equal(r.status, 201);
      assert.ok(JSON.parse(r.body).status.userInfo.groups.includes("system:masters"));
    } finally {
      await open.stop();
    }
  });

  it("a CN with a newline is a clear 401, not a 503; a non-Latin-1 CN arrives as it is (7)", async () => {
    const bad = await review(await createClientCert(usersCa, { cn: "wa-eve\nX-Injected: 1" }));
    assert.equal(bad.status, 401);
    assert.match(JSON.parse(bad.body).message, /cannot be carried/);
    const padded = await review(await createClientCert(usersCa, { cn: " wa-alice" }));
    assert.equal(padded.status, 401, "a name the apiserver would trim into another is refused");
    const good = await review(
      await createClientCert(usersCa, { cn: "wa-名前-José", organizations: ["équipe"] }),
    );
    assert.equal(good.status, 201, good.body);
    const u = JSON.parse(good.body).status.userInfo;
    assert.equal(u.username, "wa-名前-José");
    assert.ok(u.groups.includes("équipe"));
  });
});

describe("issue #17 item 10: paths that are not API paths are 404, never a tenant handler", () => {
  it("a namespace list under a namespace, and a namespace created under one", async () => {
    for (const path of [
      "/api/v1/namespaces/wb-dev/namespaces",
      "/api/v1/namespaces/wa-dev/namespaces",
      "/api/v1/namespaces/wa-dev/nodes",
      "/api/v1/namespaces/wa-dev/nodes/wa-node",
      "/apis/storage.k8s.io/v1/namespaces/wa-dev/storageclasses",
    ]) {
      const r = await rawRequest(gw.url, { path, ...as("wa-alice") });
      assert.equal(r.status, 404, `${path}: ${r.body.slice(0, 200)}`);
      assert.doesNotMatch(r.body, /wa-dev"|wb-dev"|wa-node"/);
    }
    const made = await rawRequest(gw.url, {
      method: "POST",
      path: "/api/v1/namespaces/wa-dev/namespaces",
      headers: [["Content-Type", "application/json"]],
      body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "wa-sneaky" } }),
      ...as("wa-alice"),
    });
    assert.equal(made.status, 404, made.body);
    assert.notEqual((await admin("get", "namespace", "wa-sneaky")).code, 0);
  });
});
