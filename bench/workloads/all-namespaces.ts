// Workload 5 (issue #20): `kubectl get pods -A` by a tenant who sees 100 namespaces, in a cluster of
// 10,000 pods. The gateway answers from one list per visible namespace, read as the tenant; the
// baseline is an admin's direct cluster-wide list of all 10,000, which the issue names. Pods carry a
// scheduling gate: nothing runs them.
import { startBenchGateway } from "../gateway.ts";
import { adminClient, type KubeCall, pool } from "../kube-client.ts";
import { cpuNote, type MeasuredLoad, measuredLoad, probe } from "../measure.ts";
import { seedName } from "../namespaces.ts";
import { type Row, ratioOf, type WorkloadResult } from "../result.ts";
import { round } from "../stats.ts";
import type { Target } from "../tls-client.ts";
import { type WorkloadContext, watchedPids } from "./context.ts";
import { TABLE_ACCEPT } from "./tenant-list.ts";

const PODS_TOTAL = 10_000;
const PODS_PER_VISIBLE = 10;
const PODS_PER_OTHER = 100;
/** kubectl get's own query: pages of 500. */
const PATH = "/api/v1/pods?limit=500";

const pod = (namespace: string, name: string) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace, labels: { app: "bench" } },
  spec: {
    schedulingGates: [{ name: "kubegate.dev/bench" }],
    containers: [{ name: "c", image: "busybox", imagePullPolicy: "Never" }],
  },
});

async function must(call: KubeCall, method: string, path: string, body: unknown, ok: number[]) {
  const r = await call(method, path, body);
  if (!ok.includes(r.status)) throw new Error(`${method} ${path}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
}

/** 10 pods in each visible namespace, the rest 100 to a namespace elsewhere; RBAC to list them. */
async function seedPods(ctx: WorkloadContext, call: KubeCall): Promise<number> {
  const visible = ctx.options.visibleNamespaces;
  const others = Math.ceil((PODS_TOTAL - visible * PODS_PER_VISIBLE) / PODS_PER_OTHER);
  if (visible + others > ctx.options.namespaces) throw new Error("not enough seeded namespaces for the pods");
  const started = performance.now();
  await must(
    call,
    "POST",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "bench-pod-reader" },
      rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }],
    },
    [201, 409],
  );
  const pods: [string, string][] = [];
  for (let i = 0; i < visible; i++)
    for (let j = 0; j < PODS_PER_VISIBLE; j++) pods.push([seedName(i), `pod-${j}`]);
  for (let i = 0; i < others; i++)
    for (let j = 0; j < PODS_PER_OTHER && pods.length < PODS_TOTAL; j++)
      pods.push([seedName(visible + i), `pod-${j}`]);
  // Pods need the namespace's default service account (no controller manager makes it here).
  const namespaces = [...new Set(pods.map(([ns]) => ns))];
  await pool(namespaces.length, 16, async (i) => {
    const ns = namespaces[i] as string;
    await must(
      call,
      "POST",
      `/api/v1/namespaces/${ns}/serviceaccounts`,
      { metadata: { name: "default" } },
      [201, 409],
    );
    if (i < visible)
      await must(
        call,
        "POST",
        `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`,
        {
          metadata: { name: "bench-pod-readers" },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "bench-pod-reader" },
          subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "bench-team" }],
        },
        [201, 409],
      );
  });
  let done = 0;
  await pool(pods.length, 32, async (i) => {
    const [ns, name] = pods[i] as [string, string];
    await must(call, "POST", `/api/v1/namespaces/${ns}/pods`, pod(ns, name), [201, 409]);
    if (++done % 2000 === 0) ctx.log(`  ${done} pods`);
  });
  return (performance.now() - started) / 1000;
}

const count = (body: string) => {
  const parsed = JSON.parse(body) as { items?: unknown[]; rows?: unknown[] };
  return (parsed.items ?? parsed.rows ?? []).length;
};

export async function allNamespaces(ctx: WorkloadContext): Promise<WorkloadResult> {
  const { env, options } = ctx;
  const admin = adminClient(env.cluster);
  let seeded: number;
  try {
    seeded = await seedPods(ctx, admin.call);
  } finally {
    admin.close();
  }
  ctx.log(`  10,000 pods seeded in ${seeded.toFixed(0)} s`);
  const gw = await startBenchGateway(env, { tenancy: true });
  const results: Record<string, MeasuredLoad> = {};
  const admins: Target = {
    name: "direct",
    url: env.cluster.server,
    tls: { ...env.cluster.admin, ca: env.cluster.ca.cert },
  };
  const tenant: Target = { name: "gateway", url: gw.url, tls: env.users.tenant };
  try {
    // The tenant's list is served once the index has synced: wait for its 1,000 pods.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const r = await probe(tenant.url, "/api/v1/pods", tenant.tls);
      if (r.status === 200 && count(r.body) === options.visibleNamespaces * PODS_PER_VISIBLE) break;
      if (Date.now() > deadline) throw new Error(`tenant pods -A: HTTP ${r.status} ${r.body.slice(0, 300)}`);
      await new Promise((res) => setTimeout(res, 500));
    }
    for (const [format, accept] of [
      ["json", "application/json"],
      ["table", TABLE_ACCEPT],
    ] as const) {
      for (const [name, t] of [
        ["direct", admins],
        ["gateway", tenant],
      ] as const) {
        ctx.log(`  ${name} get pods -A ${format}: latency, 1 connection, ${options.duration}s`);
        results[`${name}-${format}`] = await measuredLoad(
          t,
          { path: PATH, connections: 1, duration: options.duration, headers: { accept } },
          watchedPids(ctx, name === "gateway" ? gw.pid : undefined),
        );
      }
    }
  } finally {
    await gw.stop();
  }
  const p50 = (k: string) => (results[k] ? round(results[k].latencyMs.p50) : undefined);
  const apiserverCpu = (k: string) => results[k]?.cpuMsPerRequest.apiserver;
  const rows: Row[] = (["json", "table"] as const).flatMap((format): Row[] => [
    {
      workload: `5. tenant get pods -A (${options.visibleNamespaces} visible namespaces, 1,000 of ${PODS_TOTAL} pods)`,
      metric: `${format === "json" ? "PodList" : "Table"} p50 (1 connection)`,
      unit: "ms",
      direct: p50(`direct-${format}`),
      gateway: p50(`gateway-${format}`),
      ratio: ratioOf(p50(`gateway-${format}`), p50(`direct-${format}`)),
      ratioKind: "ratio",
      target: "report",
      note: "direct: an admin's cluster-wide list of all 10,000 pods; gateway: 100 per-namespace lists as the tenant",
    },
    {
      workload: `5. tenant get pods -A (${options.visibleNamespaces} visible namespaces)`,
      metric: `kube-apiserver CPU per ${format} list`,
      unit: "ms",
      direct: apiserverCpu(`direct-${format}`),
      gateway: apiserverCpu(`gateway-${format}`),
      ratio: ratioOf(apiserverCpu(`gateway-${format}`), apiserverCpu(`direct-${format}`)),
      ratioKind: "ratio",
      target: "report",
    },
  ]);
  return {
    rows,
    details: { results, seededSeconds: seeded },
    notes: [cpuNote("5. tenant get pods -A", results)],
  };
}
