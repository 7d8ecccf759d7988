// Workload 7 (issue #20, part 4): does a tenant's namespace list cost what the tenant sees, or what
// the cluster holds? The same tenant (100 visible namespaces) lists in a cluster of 10,000 namespaces,
// then of 100,000 with 2,000 Tenants, each time from a freshly started gateway, and once more while
// namespaces are being created (every change reaches the index). The cluster is this workload's own:
// 100,000 namespaces cannot be taken back without a namespace controller, and would skew every other
// workload, so it never touches the run's cluster.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { down, up } from "../../src/devcluster/cluster.ts";
import { rssMb, startBenchGateway } from "../gateway.ts";
import { adminClient, type KubeCall, pool } from "../kube-client.ts";
import { measuredLoad } from "../measure.ts";
import { namespaceObject, SEED_LABEL, seedNamespaces, TEAM_LABEL, TENANT_LABEL } from "../namespaces.ts";
import { type Row, ratioOf, type WorkloadResult } from "../result.ts";
import { type BenchEnv, prepareBenchEnv } from "../setup.ts";
import { round } from "../stats.ts";
import type { Target } from "../tls-client.ts";
import type { WorkloadContext } from "./context.ts";
import { TABLE_ACCEPT, TENANT_PATH, untilServed } from "./tenant-list.ts";

/** Namespaces created per second in the churn phase, each an ADDED event the index takes in. */
const CHURN_PER_SECOND = 50;

const tenantName = (i: number) => `bench-t-${String(i).padStart(4, "0")}`;
const scaleName = (i: number) => `bench-scale-${String(i).padStart(6, "0")}`;

interface Phase {
  /** Seconds from starting the gateway to its first full answer (informers listed and synced). */
  startupSeconds: number;
  rssMb: number;
  p50: { json: number; table: number };
}

async function measurePhase(
  ctx: WorkloadContext,
  env: BenchEnv,
  label: string,
  during?: () => { stop: () => Promise<void> },
  consistentNamespaceLists = false,
): Promise<Phase> {
  const started = performance.now();
  const gw = await startBenchGateway(env, { tenancy: true, consistentNamespaceLists });
  try {
    const t: Target = { name: "gateway", url: gw.url, tls: env.users.tenant };
    await untilServed(t, TENANT_PATH, ctx.options.visibleNamespaces, [], 100);
    const startupSeconds = (performance.now() - started) / 1000;
    const background = during?.();
    const p50: Phase["p50"] = { json: 0, table: 0 };
    try {
      for (const [format, accept] of [
        ["json", "application/json"],
        ["table", TABLE_ACCEPT],
      ] as const) {
        ctx.log(`  ${label} ${format}: latency, 1 connection, ${ctx.options.duration}s`);
        const r = await measuredLoad(
          t,
          { path: TENANT_PATH, connections: 1, duration: ctx.options.duration, headers: { accept } },
          { gateway: gw.pid },
        );
        if (r.ok === 0) throw new Error(`${label} ${format}: no successful request`);
        p50[format] = round(r.latencyMs.p50);
      }
    } finally {
      await background?.stop();
    }
    return { startupSeconds: round(startupSeconds, 1), rssMb: round(await rssMb(gw.pid), 0), p50 };
  } finally {
    await gw.stop();
  }
}

/** 2,000 Tenants, each with an owner of its own, and the namespaces beyond the first 10,000 spread over them. */
async function grow(call: KubeCall, namespaces: number, tenants: number, log: (l: string) => void) {
  const started = performance.now();
  await pool(tenants, 32, async (i) => {
    const body = {
      apiVersion: "tenancy.kubegate.dev/v1beta1",
      kind: "Tenant",
      metadata: { name: tenantName(i) },
      spec: { owners: [{ kind: "User", name: `bench-owner-${i}` }] },
    };
    const r = await call("POST", "/apis/tenancy.kubegate.dev/v1beta1/tenants", body);
    if (r.status !== 201 && r.status !== 409) throw new Error(`tenant ${i}: HTTP ${r.status} ${r.body}`);
  });
  let created = 0;
  await pool(namespaces, 32, async (i) => {
    const labels = { [TENANT_LABEL]: tenantName(i % tenants), [TEAM_LABEL]: `bench-other-${i % 50}` };
    const r = await call("POST", "/api/v1/namespaces", namespaceObject(scaleName(i), labels));
    if (r.status === 201) created++;
    else if (r.status !== 409) throw new Error(`creating ${scaleName(i)}: HTTP ${r.status} ${r.body}`);
    if (created > 0 && created % 10_000 === 0) log(`  ${created} more namespaces created`);
  });
  return { created, seconds: round((performance.now() - started) / 1000, 1) };
}

/** Creates namespaces of other tenants at a steady rate until stopped. */
function churn(call: KubeCall, tenants: number): { stop: () => Promise<void>; created: () => number } {
  let stopped = false;
  let n = 0;
  const loop = (async () => {
    while (!stopped) {
      const tick = performance.now();
      await pool(CHURN_PER_SECOND, 8, async () => {
        const i = n++;
        const labels = { [TENANT_LABEL]: tenantName(i % tenants), [SEED_LABEL]: "churn" };
        await call("POST", "/api/v1/namespaces", namespaceObject(`bench-churn-${i}`, labels));
      });
      await sleep(Math.max(0, 1000 - (performance.now() - tick)));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
    created: () => n,
  };
}

export async function scale(ctx: WorkloadContext): Promise<WorkloadResult> {
  const { options } = ctx;
  const total = options.scaleNamespaces;
  const base = Math.min(options.namespaces, total);
  ctx.log(`  starting this workload's own cluster`);
  const dir = join(ctx.workDir, "scale-cluster");
  const cluster = await up({ dir, log: ctx.log });
  const client = adminClient(cluster);
  try {
    const env = await prepareBenchEnv(cluster, 1);
    ctx.log(`  seeding ${base} namespaces, ${options.visibleNamespaces} visible to the tenant`);
    await seedNamespaces(client.call, base, options.visibleNamespaces, ctx.log);
    const small = await measurePhase(ctx, env, `${base}`);
    const smallConsistent = await measurePhase(ctx, env, `${base} consistent`, undefined, true);
    ctx.log(`  growing to ${total} namespaces and ${options.scaleTenants} Tenants`);
    const growth = await grow(client.call, total - base, options.scaleTenants, ctx.log);
    const large = await measurePhase(ctx, env, `${total}`);
    const largeConsistent = await measurePhase(ctx, env, `${total} consistent`, undefined, true);
    let churned = 0;
    const busy = await measurePhase(ctx, env, `${total} + churn`, () => {
      const c = churn(client.call, options.scaleTenants);
      return {
        stop: async () => {
          await c.stop();
          churned = c.created();
        },
      };
    });
    const workload = `7. scale: tenant namespace list (${options.visibleNamespaces} visible), ${base} vs ${total} namespaces, ${options.scaleTenants} Tenants`;
    const p50Row = (format: "json" | "table", at: Phase, what: string): Row => {
      const ratio = ratioOf(at.p50[format], small.p50[format]);
      return {
        workload,
        metric: `${format === "json" ? "NamespaceList" : "Table"} p50, ${what} (1 connection)`,
        unit: "ms",
        direct: small.p50[format],
        gateway: at.p50[format],
        ratio,
        ratioKind: "ratio",
        target: "≤ 1.5×",
        met: ratio === undefined ? undefined : ratio <= 1.5,
        note: `direct column: the same gateway and tenant in the ${base}-namespace cluster`,
      };
    };
    const stated = (metric: string, unit: string, a: number, b: number): Row => ({
      workload,
      metric,
      unit,
      direct: a,
      gateway: b,
      ratio: ratioOf(b, a),
      ratioKind: "ratio",
      target: "(stated)",
      note: `direct column: at ${base} namespaces; gateway column: at ${total}`,
    });
    const rows: Row[] = [
      p50Row("json", large, `${total} namespaces`),
      p50Row("table", large, `${total} namespaces`),
      p50Row("json", busy, `${total} namespaces, ${CHURN_PER_SECOND} created/s`),
      p50Row("table", busy, `${total} namespaces, ${CHURN_PER_SECOND} created/s`),
      ...(["json", "table"] as const).map((format) =>
        stated(
          `--consistent-namespace-lists: ${format === "json" ? "NamespaceList" : "Table"} p50 (1 connection)`,
          "ms",
          smallConsistent.p50[format],
          largeConsistent.p50[format],
        ),
      ),
      stated("gateway start-up until the first tenant list", "s", small.startupSeconds, large.startupSeconds),
      stated("gateway resident memory after the phase", "MB", small.rssMb, large.rssMb),
    ];
    const perNamespace = ((large.rssMb - small.rssMb) * 1024 * 1024) / (total - base);
    return {
      rows,
      details: { small, large, busy, smallConsistent, largeConsistent, growth, churned },
      notes: [
        `7. scale: growing the cluster took ${growth.seconds} s; the churn phase created ${churned} namespaces; ` +
          `the gateway's memory grew by about ${Math.round(perNamespace / 1024)} KiB per namespace ` +
          "(the informer's whole objects plus the index), measured as resident memory.",
      ],
    };
  } finally {
    client.close();
    await down(dir).catch(() => undefined);
  }
}
