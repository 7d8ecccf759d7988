// Everything the workloads need in the cluster and on disk: the gateway's PKI and RBAC (the e2e
// helpers), the tenancy CRDs and the gateway's read access for --tenancy, a small ConfigMap, and the
// users. Direct users are signed by the cluster CA; gateway users by the gateway's users CA. Every
// reader gets its rights through the group bench-readers, so RBAC costs the same on every path.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ClusterInfo } from "../src/devcluster/cluster.ts";
import { type GatewayEnv, grantGatewayTenancy, prepareGatewayEnv } from "../test/e2e/gateway-env.ts";
import { kubectl, ok } from "../test/e2e/run.ts";
import { makeUserKubeconfig } from "../test/e2e/users.ts";
import { TENANT, VISIBLE_TEAM } from "./namespaces.ts";
import type { ClientTls } from "./tls-client.ts";

export const CONFIGMAP_PATH = "/api/v1/namespaces/bench/configmaps/small";
export const READERS_GROUP = "bench-readers";

const BENCH_OBJECTS = `
apiVersion: v1
kind: Namespace
metadata: { name: bench }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: small, namespace: bench }
data: { greeting: hello, size: small }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: bench-reader, namespace: bench }
rules: [{ apiGroups: [""], resources: [configmaps], verbs: [get, list] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: bench-readers, namespace: bench }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: bench-reader }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: Group, name: ${READERS_GROUP} }]
---
# The direct baseline of the tenant list is the apiserver's own labelSelector list: its user must be
# allowed to list namespaces. The tenant user (group ${VISIBLE_TEAM}) is not, so the gateway filters.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: bench-namespace-reader }
rules: [{ apiGroups: [""], resources: [namespaces], verbs: [get, list, watch] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: bench-namespace-readers }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: bench-namespace-reader }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: Group, name: ${READERS_GROUP} }]
`;

const TENANT_OBJECT = `
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: ${TENANT} }
spec:
  owners: [{ kind: Group, name: ${VISIBLE_TEAM} }]
`;

const CRDS = fileURLToPath(new URL("../deploy/base/crds.yaml", import.meta.url));

export interface BenchUsers {
  /** To kube-apiserver directly (cluster CA), in 1 and in N groups. */
  direct1: ClientTls;
  directMany: ClientTls;
  /** To the gateway or nginx (users CA), in 1 and in N groups. */
  proxied1: ClientTls;
  proxiedMany: ClientTls;
  /** The tenant user: only the team group, no RBAC on namespaces. */
  tenant: ClientTls;
  /** nginx's own identity towards kube-apiserver: the direct 1-group user, so RBAC matches direct. */
  nginxUpstream: ClientTls;
}

export interface BenchEnv {
  cluster: ClusterInfo;
  gateway: GatewayEnv;
  users: BenchUsers;
}

async function user(
  dir: string,
  name: string,
  groups: string[],
  signer: { cert: string; key: string },
  serverCa: string,
): Promise<ClientTls> {
  // Only the certificate and key are used; the kubeconfig is a by-product of the shared helper.
  await makeUserKubeconfig({ dir, name, groups, signer, server: "https://127.0.0.1:1", serverCa });
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`), ca: serverCa };
}

export async function prepareBenchEnv(cluster: ClusterInfo, groupCount: number): Promise<BenchEnv> {
  const gateway = await prepareGatewayEnv(cluster);
  const file = join(gateway.dir, "bench-objects.yaml");
  await writeFile(file, BENCH_OBJECTS);
  await ok(kubectl(cluster.adminKubeconfig, "apply", "-f", CRDS));
  await ok(kubectl(cluster.adminKubeconfig, "apply", "-f", file));
  // What the gateway reads with its own identity in --tenancy mode: the shipped RBAC.
  await grantGatewayTenancy(cluster, gateway);
  await ok(
    kubectl(
      cluster.adminKubeconfig,
      ...["wait", "--for=condition=Established", "--timeout=60s"],
      ...["crd/tenants.tenancy.kubegate.dev", "crd/proxysettings.tenancy.kubegate.dev"],
    ),
  );
  const tenantFile = join(gateway.dir, "bench-tenant.yaml");
  await writeFile(tenantFile, TENANT_OBJECT);
  await ok(kubectl(cluster.adminKubeconfig, "apply", "-f", tenantFile));
  const many = [...Array.from({ length: groupCount - 1 }, (_, i) => `bench-extra-${i}`), READERS_GROUP];
  const d = gateway.dir;
  const [direct1, directMany, proxied1, proxiedMany, tenant] = await Promise.all([
    user(d, "bench-direct-1g", [READERS_GROUP], cluster.ca, cluster.ca.cert),
    user(d, "bench-direct-many", many, cluster.ca, cluster.ca.cert),
    user(d, "bench-proxied-1g", [READERS_GROUP], gateway.usersCa, gateway.servingCa.cert),
    user(d, "bench-proxied-many", many, gateway.usersCa, gateway.servingCa.cert),
    user(d, "bench-tenant", [VISIBLE_TEAM], gateway.usersCa, gateway.servingCa.cert),
  ]);
  return {
    cluster,
    gateway,
    users: { direct1, directMany, proxied1, proxiedMany, tenant, nginxUpstream: direct1 },
  };
}
