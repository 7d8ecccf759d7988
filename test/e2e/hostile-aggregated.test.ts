// The aggregated API server under hostile input (issue #10): callers forging the front proxy's
// X-Remote-* headers, with every certificate short of the real one, called directly on its port.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { FRONT_PROXY_CLIENT_CN } from "../../src/devcluster/cluster.ts";
import { createCA, createClientCert, createServerCert, loadCA } from "../../src/pki/certificates.ts";
import { useCluster } from "../cluster/harness.ts";
import { aggregatedCorpus } from "../hostile/aggregated-cases.ts";
import { type Caller, runCorpus, summarize } from "../hostile/corpus.ts";
import { startKubegate } from "../support/gateway-process.ts";
import { installCrds } from "./gateway-env.ts";
import { kubectl, kubegate, ok } from "./run.ts";
import { makeUserKubeconfig } from "./users.ts";

const cluster = await useCluster();
const dir = await mkdtemp(join(tmpdir(), "kubegate-hx-agg-"));
const at = (n: string) => join(dir, n);
const admin = (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args);
const pem = (p: string) => readFileSync(p, "utf8");
const SERVER_USER = "kubegate-e2e-hx-aggregated";
// A namespace whose name may only appear in an answer that leaked it.
const HIDDEN = "hxz-hidden-ns";

await ok(kubegate("certs", "ca", "--cn", "hx-agg-ca", "--out-cert", at("ca.crt"), "--out-key", at("ca.key")));
await ok(
  kubegate(
    ...["certs", "server", "--ca-cert", at("ca.crt"), "--ca-key", at("ca.key"), "--cn", "localhost"],
    ...["--ip", "127.0.0.1", "--out-cert", at("tls.crt"), "--out-key", at("tls.key")],
  ),
);
const serverKubeconfig = await makeUserKubeconfig({
  dir,
  name: SERVER_USER,
  signer: cluster.ca,
  server: cluster.server,
  serverCa: cluster.ca.cert,
});
await writeFile(
  at("rbac.yaml"),
  `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${SERVER_USER} }
rules:
- { apiGroups: [""], resources: [namespaces], verbs: [get, list, watch] }
- { apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [list, watch] }
- { apiGroups: [tenancy.kubegate.dev], resources: [tenants, proxysettings], verbs: [list, watch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: ${SERVER_USER} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${SERVER_USER} }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: ${SERVER_USER} }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: ${SERVER_USER}-delegator }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:auth-delegator }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: ${SERVER_USER} }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: ${SERVER_USER}-auth-reader, namespace: kube-system }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: extension-apiserver-authentication-reader }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: ${SERVER_USER} }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: ${SERVER_USER}-readers }
rules: [{ apiGroups: [custom.api.local], resources: [whoami, mynamespace], verbs: [get, list] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: ${SERVER_USER}-readers }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${SERVER_USER}-readers }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: Group, name: hx-readers }]
---
apiVersion: v1
kind: Namespace
metadata: { name: ${HIDDEN}, labels: { team: hx-hidden-team } }
`,
);
await ok(admin("apply", "-f", at("rbac.yaml")));
await installCrds(cluster);

const server = await startKubegate("apiserver", [
  ...["--listen", "127.0.0.1:0", "--tls-cert", at("tls.crt"), "--tls-key", at("tls.key")],
  ...["--kubeconfig", serverKubeconfig, "--team-label", "team", "--tenancy"],
]);
after(() => server.stop());

const ca = pem(at("ca.crt"));
const caller = (c: { certPem: string; keyPem: string }): Caller => ({ ca, cert: c.certPem, key: c.keyPem });
const frontProxyCa = await loadCA(pem(cluster.frontProxyCa.cert), pem(cluster.frontProxyCa.key));
const clusterCa = await loadCA(pem(cluster.ca.cert), pem(cluster.ca.key));
const rogue = await createCA(FRONT_PROXY_CLIENT_CN);
const day = 24 * 3600 * 1000;
const direct = await createClientCert(clusterCa, { cn: "hx-zed", organizations: ["hx-team"] });

const corpus = aggregatedCorpus({
  anonymous: { ca },
  direct: caller(direct),
  directUser: "hx-zed",
  frontProxy: { ca, cert: pem(cluster.frontProxyClient.cert), key: pem(cluster.frontProxyClient.key) },
  notFrontProxy: {
    "front-proxy-ca-wrong-cn": caller(await createClientCert(frontProxyCa, { cn: "hx-not-the-aggregator" })),
    "front-proxy-ca-expired": caller(
      await createClientCert(frontProxyCa, {
        cn: FRONT_PROXY_CLIENT_CN,
        now: new Date(Date.now() - 10 * day),
        days: 1,
      }),
    ),
    "front-proxy-ca-not-yet-valid": caller(
      await createClientCert(frontProxyCa, {
        cn: FRONT_PROXY_CLIENT_CN,
        now: new Date(Date.now() + 10 * day),
      }),
    ),
    "front-proxy-ca-server-eku": caller(
      await createServerCert(frontProxyCa, { cn: FRONT_PROXY_CLIENT_CN, ipAddresses: ["127.0.0.1"] }),
    ),
    "rogue-ca-right-cn": caller(await createClientCert(rogue, { cn: FRONT_PROXY_CLIENT_CN })),
    "cluster-ca-right-cn": caller(await createClientCert(clusterCa, { cn: FRONT_PROXY_CLIENT_CN })),
    "cluster-ca-user": caller(direct),
  },
  // Certificates of the cluster's client CA are direct callers, believed as their CN and nothing more.
  directIdentity: { "cluster-ca-right-cn": FRONT_PROXY_CLIENT_CN, "cluster-ca-user": "hx-zed" },
});

describe("hostile input: the aggregated API server", () => {
  it(`answers each of the ${corpus.length} forged callers with zero bypasses`, async () => {
    const outcomes = await runCorpus(server.url, corpus, { secrets: [HIDDEN] });
    console.log(summarize("aggregated corpus", outcomes));
    assert.deepEqual(
      outcomes
        .filter((o) => o.mismatch || o.bypass)
        .map((o) => `${o.id}: ${o.bypass ? `BYPASS ${o.bypass}` : o.mismatch}`),
      [],
    );
  });

  it("is still serving afterwards", async () => {
    assert.equal(server.process.exitCode, null);
  });
});
