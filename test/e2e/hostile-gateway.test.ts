// The gateway under hostile input (issue #10): a table of attacks on the real cluster, each judged for
// its answer and for any bypass; then the cluster is checked for anything the attacks changed.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createCA, createClientCert, createServerCert, loadCA } from "../../src/pki/certificates.ts";
import { useCluster } from "../cluster/harness.ts";
import { type Caller, type Outcome, runCorpus, summarize } from "../hostile/corpus.ts";
import { gatewayCorpus } from "../hostile/gateway-cases.ts";
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
const pem = (p: string) => readFileSync(p, "utf8");

// What alice must never receive: hxb's annotation, its configmap's value, the secret's value (base64).
const MARK = "MARK-B-7f3a9c";
const SECRET_VALUE = "hx-secret-value-0042";
const SECRET_B64 = Buffer.from(SECRET_VALUE).toString("base64").replace(/=+$/, "");

await installCrds(cluster);
await grantGatewayTenancy(cluster, env);

const anno = `annotations: { hx/secret: ${MARK} }`;
const objects = `
apiVersion: v1
kind: Namespace
metadata: { name: hxa-1, labels: { kubegate.dev/tenant: hxa, hx-tier: a } }
---
apiVersion: v1
kind: Namespace
metadata: { name: hxb-1, labels: { kubegate.dev/tenant: hxb, hx-tier: b }, ${anno} }
---
apiVersion: v1
kind: Namespace
metadata: { name: hxb-2, labels: { kubegate.dev/tenant: hxb, hx-tier: b }, ${anno} }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: hxb-cm, namespace: hxb-1 }
data: { value: ${MARK} }
---
apiVersion: v1
kind: Secret
metadata: { name: hx-secret, namespace: kube-system }
stringData: { value: ${SECRET_VALUE} }
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: { name: hxa-silver, labels: { hx-tier: a } }
provisioner: example.com/hx
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: { name: hxb-gold, labels: { hx-tier: b }, ${anno} }
provisioner: example.com/hx
---
apiVersion: v1
kind: Node
metadata: { name: hxa-node, labels: { pool: hxa } }
---
apiVersion: v1
kind: Node
metadata: { name: hxb-node, labels: { pool: hxb }, ${anno} }
---
apiVersion: v1
kind: PersistentVolume
metadata: { name: hxa-pv, labels: { kubegate.dev/tenant: hxa } }
spec: { capacity: { storage: 1Gi }, accessModes: [ReadWriteOnce], hostPath: { path: /tmp/hxa } }
---
apiVersion: v1
kind: PersistentVolume
metadata: { name: hxb-pv, labels: { kubegate.dev/tenant: hxb }, ${anno} }
spec: { capacity: { storage: 1Gi }, accessModes: [ReadWriteOnce], hostPath: { path: /tmp/hxb } }
---
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: hxa }
spec:
  owners:
  - kind: User
    name: hx-alice
    proxySettings:
    - { kind: StorageClasses }
    - { kind: Nodes }
    - { kind: PersistentVolumes }
  nodeSelector: { pool: hxa }
  storageClasses: { allowed: [hxa-silver] }
---
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: hxb }
spec:
  owners:
  - kind: User
    name: hx-bob
    proxySettings: [{ kind: StorageClasses }, { kind: Nodes }, { kind: PersistentVolumes }]
  nodeSelector: { pool: hxb }
  storageClasses: { allowed: [hxb-gold] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: hx-configmaps, namespace: hxa-1 }
rules: [{ apiGroups: [""], resources: [configmaps], verbs: [get, list, create] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: hx-alice-configmaps, namespace: hxa-1 }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: hx-configmaps }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: hx-alice }]
`;
await applyYaml(cluster, env.dir, "hostile.yaml", objects);
await ok(admin("create", "serviceaccount", "hx-robot", "-n", "hxa-1"));
await ok(admin("create", "serviceaccount", "hx-gone", "-n", "hxa-1"));
const token = (await ok(admin("create", "token", "hx-robot", "-n", "hxa-1"))).trim();
const deletedToken = (await ok(admin("create", "token", "hx-gone", "-n", "hxa-1"))).trim();
await ok(admin("delete", "serviceaccount", "hx-gone", "-n", "hxa-1"));

const gw = await startGatewayProcess(gatewayArgs(env, ["--tenancy"]));
after(() => gw.stop());
await gatewayUser(env, gw.url, "hx-alice");

const ca = pem(env.servingCa.cert);
const caller = (c: { certPem: string; keyPem: string }): Caller => ({ ca, cert: c.certPem, key: c.keyPem });
const usersCa = await loadCA(pem(env.usersCa.cert), pem(env.usersCa.key));
const day = 24 * 3600 * 1000;
const rogue = await createCA("hx-rogue-ca");
const badCerts: Record<string, Caller> = {
  expired: caller(
    await createClientCert(usersCa, { cn: "hx-alice", now: new Date(Date.now() - 10 * day), days: 1 }),
  ),
  "not-yet-valid": caller(
    await createClientCert(usersCa, { cn: "hx-alice", now: new Date(Date.now() + 10 * day) }),
  ),
  "wrong-ca": caller(await createClientCert(rogue, { cn: "hx-alice" })),
  "cluster-ca": caller(
    await createClientCert(await loadCA(pem(cluster.ca.cert), pem(cluster.ca.key)), {
      cn: "hx-alice",
      organizations: ["system:masters"],
    }),
  ),
  "serving-ca": caller(
    await createClientCert(await loadCA(pem(env.servingCa.cert), pem(env.servingCa.key)), { cn: "hx-alice" }),
  ),
  "server-eku": caller(await createServerCert(usersCa, { cn: "hx-alice", ipAddresses: ["127.0.0.1"] })),
};
{
  // A rogue leaf sent together with its rogue CA: a chain that ends in a root the gateway does not trust.
  const leaf = await createClientCert(rogue, { cn: "hx-alice", organizations: ["system:masters"] });
  badCerts["rogue-chain"] = { ca, cert: leaf.certPem + rogue.certPem, key: leaf.keyPem };
}

const corpus = gatewayCorpus({
  alice: { ca, cert: pem(join(env.dir, "hx-alice.crt")), key: pem(join(env.dir, "hx-alice.key")) },
  anonymous: { ca },
  badCerts,
  token,
  tokenUser: "system:serviceaccount:hxa-1:hx-robot",
  deletedToken,
  victim: {
    namespaces: ["hxb-1", "hxb-2"],
    storageClass: "hxb-gold",
    node: "hxb-node",
    pv: "hxb-pv",
    configMap: "hxb-cm",
  },
  own: "hxa-1",
  secret: "hx-secret",
});

describe("hostile input: the gateway", () => {
  let outcomes: Outcome[] = [];

  it(`answers each of the ${corpus.length} hostile requests as kube-apiserver would, with zero bypasses`, async () => {
    outcomes = await runCorpus(gw.url, corpus, { secrets: [MARK, SECRET_B64, SECRET_VALUE] });
    console.log(summarize("gateway corpus", outcomes));
    const wrong = outcomes.filter((o) => o.mismatch || o.bypass);
    assert.deepEqual(
      wrong.map((o) => `${o.id}: ${o.bypass ? `BYPASS ${o.bypass}` : o.mismatch}`),
      [],
    );
    assert.ok(corpus.length >= 200, `the corpus has ${corpus.length} cases`);
  });

  it("left nothing behind: no namespace in the victim's tenant, no label changed", async () => {
    const victims = JSON.parse(
      await ok(admin("get", "namespaces", "-l", "kubegate.dev/tenant=hxb", "-o", "json")),
    ) as { items: { metadata: { name: string; labels: Record<string, string> } }[] };
    assert.deepEqual(victims.items.map((n) => n.metadata.name).sort(), ["hxb-1", "hxb-2"]);
    assert.equal(victims.items.find((n) => n.metadata.name === "hxb-1")?.metadata.labels.x, undefined);
    const own = JSON.parse(await ok(admin("get", "namespace", "hxa-1", "-o", "json")));
    assert.equal(own.metadata.labels["kubegate.dev/tenant"], "hxa");
    const evil = (await ok(admin("get", "namespaces", "-o", "name")))
      .split("\n")
      .filter((n) => /hx-evil|hx-v2|hx-podns/.test(n));
    assert.deepEqual(evil, []);
    const cm = await admin("get", "configmap", "hx-cross", "-n", "hxb-1");
    assert.notEqual(cm.code, 0, "no configmap was planted in the victim's namespace");
  });

  it("is still serving, and logged no credential or secret", async () => {
    assert.equal(gw.process.exitCode, null, "the gateway is still running");
    const logs = gw.logs();
    assert.ok(logs.length > 0);
    for (const secret of [token, deletedToken, SECRET_VALUE, SECRET_B64]) {
      assert.ok(!logs.includes(secret), "a credential or secret reached the log");
    }
  });
});
