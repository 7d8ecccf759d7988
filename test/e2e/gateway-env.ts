import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";
import type { ClusterInfo } from "../../src/devcluster/cluster.ts";
import { kubectl, kubegate } from "./run.ts";
import { makeUserKubeconfig } from "./users.ts";

const GATEWAY_USER = "kubegate-e2e-gateway";

/** The RBAC a gateway needs: impersonate anyone, and ask for token and access reviews. */
const GATEWAY_RBAC = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: kubegate-e2e-gateway }
rules:
- apiGroups: [""]
  resources: [users, groups, serviceaccounts]
  verbs: [impersonate]
- apiGroups: [authentication.k8s.io]
  # uids, and userextras/<key> for every key (RBAC has no wildcard for a subresource of one resource).
  resources: ["*"]
  verbs: [impersonate]
- apiGroups: [authentication.k8s.io]
  resources: [tokenreviews]
  verbs: [create]
- apiGroups: [authorization.k8s.io]
  resources: [subjectaccessreviews]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: kubegate-e2e-gateway }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kubegate-e2e-gateway }
subjects:
- { apiGroup: rbac.authorization.k8s.io, kind: User, name: kubegate-e2e-gateway }
`;

export interface GatewayEnv {
  dir: string;
  /** CA of the gateway's serving certificate (users trust it). */
  servingCa: { cert: string; key: string };
  serving: { cert: string; key: string };
  /** CA that signs users' client certificates, separate from the cluster's. */
  usersCa: { cert: string; key: string };
  /** The gateway's own identity towards kube-apiserver (least privilege, above). */
  upstreamKubeconfig: string;
}

/** PKI and RBAC for a gateway in front of the test cluster, made with the kubegate CLI. */
export async function prepareGatewayEnv(cluster: ClusterInfo): Promise<GatewayEnv> {
  const dir = await mkdtemp(join(tmpdir(), "kubegate-gw-"));
  const at = (n: string) => join(dir, n);
  const servingCa = { cert: at("serving-ca.crt"), key: at("serving-ca.key") };
  const serving = { cert: at("gateway.crt"), key: at("gateway.key") };
  const usersCa = { cert: at("users-ca.crt"), key: at("users-ca.key") };
  for (const args of [
    ["certs", "ca", "--cn", "gateway-serving-ca", "--out-cert", servingCa.cert, "--out-key", servingCa.key],
    ["certs", "ca", "--cn", "gateway-users-ca", "--out-cert", usersCa.cert, "--out-key", usersCa.key],
    ["certs", "server", "--ca-cert", servingCa.cert, "--ca-key", servingCa.key, "--cn", "localhost"],
  ]) {
    const extra =
      args[1] === "server" ? ["--ip", "127.0.0.1", "--out-cert", serving.cert, "--out-key", serving.key] : [];
    const r = await kubegate(...args, ...extra);
    assert.equal(r.code, 0, r.stderr);
  }
  const upstreamKubeconfig = await makeUserKubeconfig({
    dir,
    name: GATEWAY_USER,
    signer: cluster.ca,
    server: cluster.server,
    serverCa: cluster.ca.cert,
  });
  await applyYaml(cluster, dir, "rbac.yaml", GATEWAY_RBAC);
  return { dir, servingCa, serving, usersCa, upstreamKubeconfig };
}

/** Writes YAML into the environment's directory and applies it as the cluster admin. */
export async function applyYaml(
  cluster: ClusterInfo,
  dir: string,
  name: string,
  yaml: string,
): Promise<void> {
  const file = join(dir, name);
  await writeFile(file, yaml);
  let applied = await kubectl(cluster.adminKubeconfig, "apply", "-f", file);
  // Right after a CRD is established, kubectl's cached discovery may not know its kind yet; it then
  // fails with "no matches for kind" or, for flow-style YAML, a misleading JSON "error parsing".
  // Its cache refreshes on a miss: a few tries, a second apart.
  for (
    let i = 0;
    i < 5 && applied.code !== 0 && /no matches for kind|error parsing/.test(applied.stderr);
    i++
  ) {
    await new Promise((r) => setTimeout(r, 1000));
    applied = await kubectl(cluster.adminKubeconfig, "apply", "-f", file);
  }
  assert.equal(applied.code, 0, applied.stderr);
}

const CRDS = fileURLToPath(new URL("../../deploy/base/crds.yaml", import.meta.url));

/** kubegate's CRDs (Tenant, ProxySetting) applied and established, as every tenancy test needs them. */
export async function installCrds(cluster: ClusterInfo): Promise<void> {
  for (const args of [
    ["apply", "-f", CRDS],
    ["wait", "--for=condition=Established", "crd/tenants.tenancy.kubegate.dev"],
    ["wait", "--for=condition=Established", "crd/proxysettings.tenancy.kubegate.dev"],
  ]) {
    const r = await kubectl(
      cluster.adminKubeconfig,
      ...args,
      ...(args[0] === "wait" ? ["--timeout=30s"] : []),
    );
    assert.equal(r.code, 0, r.stderr);
  }
}

const TENANCY_RBAC = fileURLToPath(
  new URL("../../deploy/components/tenancy/gateway-tenancy-rbac.yaml", import.meta.url),
);

/**
 * The shipped tenancy RBAC (what `--tenancy` needs the gateway to read and write), bound to this
 * environment's gateway user instead of the service account, under names of its own so that tests of
 * the deploy manifests can apply and remove theirs independently.
 */
export async function grantGatewayTenancy(cluster: ClusterInfo, env: GatewayEnv): Promise<void> {
  const objects = parseAllDocuments(await readFile(TENANCY_RBAC, "utf8")).map(
    (d) => d.toJS() as { metadata: { name: string }; roleRef?: { name: string }; subjects?: unknown[] },
  );
  for (const o of objects) {
    o.metadata.name = `${o.metadata.name}-e2e`;
    if (o.roleRef) o.roleRef.name = `${o.roleRef.name}-e2e`;
    if (o.subjects)
      o.subjects = [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: GATEWAY_USER }];
  }
  await applyYaml(cluster, env.dir, "tenancy-rbac.yaml", objects.map((o) => stringify(o)).join("---\n"));
}

/** Arguments for `kubegate gateway` in this environment. */
export function gatewayArgs(env: GatewayEnv, extra: readonly string[] = []): string[] {
  return [
    ...["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"],
    ...["--tls-cert", env.serving.cert, "--tls-key", env.serving.key, "--client-ca", env.usersCa.cert],
    ...["--upstream-kubeconfig", env.upstreamKubeconfig, "--reload-interval", "200ms"],
    ...extra,
  ];
}

/** A user whose certificate the gateway accepts, with a kubeconfig pointing at the gateway. */
export function gatewayUser(
  env: GatewayEnv,
  url: string,
  name: string,
  groups: string[] = [],
): Promise<string> {
  return makeUserKubeconfig({
    dir: env.dir,
    name,
    groups,
    signer: env.usersCa,
    server: url,
    serverCa: env.servingCa.cert,
  });
}

/** A kubeconfig that presents a bearer token to the gateway. */
export async function tokenKubeconfig(
  env: GatewayEnv,
  url: string,
  name: string,
  token: string,
): Promise<string> {
  const out = join(env.dir, `${name}.token.kubeconfig`);
  const r = await kubegate(
    ...["kubeconfig", "--server", url, "--ca-cert", env.servingCa.cert, "--token", token],
    ...["--user", name, "--out", out, "--force"],
  );
  assert.equal(r.code, 0, r.stderr);
  return out;
}

export const readText = (path: string) => readFile(path, "utf8");

/**
 * What every tenancy e2e file starts with: the shared cluster, a gateway environment with kubegate's
 * CRDs and the shipped tenancy RBAC, an admin kubectl, and a PEM reader.
 */
export async function prepareTenancyEnv() {
  const { useCluster } = await import("../cluster/harness.ts");
  const cluster = await useCluster();
  const env = await prepareGatewayEnv(cluster);
  await installCrds(cluster);
  await grantGatewayTenancy(cluster, env);
  return {
    cluster,
    env,
    admin: (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args),
    pem: (path: string) => readFileSync(path, "utf8"),
  };
}
