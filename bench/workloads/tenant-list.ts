// Workload 2: a tenant lists namespaces in a cluster of 10,000, 100 of them its team's. The baseline
// is what the apiserver does for the same answer on its own: a labelSelector list of those 100.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { profiledPhase, startBenchGateway } from "../gateway.ts";
import { cpuNote, load, type MeasuredLoad, measuredLoad, probe } from "../measure.ts";
import { TEAM_LABEL, VISIBLE_TEAM } from "../namespaces.ts";
import { readProfile } from "../profile.ts";
import { type Row, ratioOf, type WorkloadResult } from "../result.ts";
import { round } from "../stats.ts";
import type { Target } from "../tls-client.ts";
import { type WorkloadContext, watchedPids } from "./context.ts";

export const TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
const SELECTOR_PATH = `/api/v1/namespaces?labelSelector=${TEAM_LABEL}%3D${VISIBLE_TEAM}`;
export const TENANT_PATH = "/api/v1/namespaces";

function count(body: string): number {
  const parsed = JSON.parse(body) as { items?: unknown[]; rows?: unknown[] };
  return (parsed.items ?? parsed.rows ?? []).length;
}

/**
 * The gateway answers 503 until its informers have listed 10,000 namespaces; wait for that, asking every
 * `pollMs` (workload 7 times start-up with it).
 */
export async function untilServed(
  t: Target,
  path: string,
  expected: number,
  headers: [string, string][],
  pollMs = 500,
) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = await probe(t.url, path, t.tls, headers);
    if (r.status === 200) {
      const n = count(r.body);
      if (n !== expected) throw new Error(`${t.name} ${path}: ${n} namespaces listed, expected ${expected}`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`${t.name} ${path}: HTTP ${r.status} ${r.body}`);
    await sleep(pollMs);
  }
}

export async function tenantList(ctx: WorkloadContext): Promise<WorkloadResult> {
  const { options, env } = ctx;
  const gw = await startBenchGateway(env, { tenancy: true });
  const consistent = await startBenchGateway(env, { tenancy: true, consistentNamespaceLists: true });
  const results: Record<string, MeasuredLoad> = {};
  let profileFile: string | undefined;
  const cases: [string, Target, string][] = [
    ["direct", { name: "direct", url: env.cluster.server, tls: env.users.direct1 }, SELECTOR_PATH],
    ["gateway", { name: "gateway", url: gw.url, tls: env.users.tenant }, TENANT_PATH],
    ["consistent", { name: "gateway", url: consistent.url, tls: env.users.tenant }, TENANT_PATH],
  ];
  if (ctx.nginx)
    cases.push(["nginx", { name: "nginx", url: ctx.nginx.url, tls: env.users.proxied1 }, SELECTOR_PATH]);
  try {
    for (const [format, accept] of [
      ["json", "application/json"],
      ["table", TABLE_ACCEPT],
    ] as const) {
      for (const [name, t, path] of cases) {
        await untilServed(t, path, options.visibleNamespaces, [["Accept", accept]]);
        ctx.log(`  ${name} ${format}: latency, 1 connection, ${options.duration}s`);
        results[`${name}-${format}`] = await measuredLoad(
          t,
          { path, connections: 1, duration: options.duration, headers: { accept } },
          watchedPids(ctx, name === "consistent" ? consistent.pid : gw.pid),
        );
      }
    }
  } finally {
    await gw.stop();
    await consistent.stop();
  }
  if (options.profile) {
    profileFile = await profiledPhase(
      env,
      { tenancy: true },
      join(ctx.workDir, "profile-tenant-list"),
      async (url) => {
        const t: Target = { name: "gateway", url, tls: env.users.tenant };
        // Half the phase each, as JSON and as Table, the two the table measures.
        const duration = Math.max(2, options.duration / 2);
        for (const accept of ["application/json", TABLE_ACCEPT]) {
          await untilServed(t, TENANT_PATH, options.visibleNamespaces, [["Accept", accept]]);
          await load(t, { path: TENANT_PATH, connections: 1, duration, headers: { accept } });
        }
      },
    );
  }
  const p50 = (k: string) => (results[k] ? round(results[k].latencyMs.p50) : undefined);
  const rows = (["json", "table"] as const).map((format): Row => {
    const ratio = ratioOf(p50(`gateway-${format}`), p50(`direct-${format}`));
    return {
      workload: `2. tenant namespace list (${options.namespaces} in cluster, ${options.visibleNamespaces} visible)`,
      metric: `${format === "json" ? "NamespaceList" : "Table"} p50 (1 connection)`,
      unit: "ms",
      direct: p50(`direct-${format}`),
      gateway: p50(`gateway-${format}`),
      nginx: p50(`nginx-${format}`),
      ratio,
      ratioKind: "ratio",
      nginxRatio: ratioOf(p50(`nginx-${format}`), p50(`direct-${format}`)),
      target: "≤ 1.2×",
      met: ratio === undefined ? undefined : ratio <= 1.2,
      note: "direct and nginx: the apiserver's own labelSelector list of the visible namespaces",
    };
  });
  for (const format of ["json", "table"] as const) {
    const ratio = ratioOf(p50(`consistent-${format}`), p50(`direct-${format}`));
    rows.push({
      workload: `2. tenant namespace list, --consistent-namespace-lists (${options.namespaces} in cluster, ${options.visibleNamespaces} visible)`,
      metric: `${format === "json" ? "NamespaceList" : "Table"} p50 (1 connection)`,
      unit: "ms",
      direct: p50(`direct-${format}`),
      gateway: p50(`consistent-${format}`),
      ratio,
      ratioKind: "ratio",
      target: "none (opt-in exactness)",
      note: "the namespaces the tenant's grants select (tenant and team label selectors, RoleBinding names), read upstream as the gateway without a resourceVersion (consistent reads), merged, filtered",
    });
  }
  const result: WorkloadResult = { rows, details: { results }, notes: [cpuNote("2. tenant list", results)] };
  if (profileFile) result.profile = await readProfile("tenant-list", profileFile);
  return result;
}
