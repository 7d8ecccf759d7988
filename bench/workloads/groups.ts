// Workload 4: the same GET as a user in N groups and as a user in 1 group. Through the gateway every
// group becomes an Impersonate-Group header the apiserver authorizes one by one; the direct pair
// (the same groups in a cluster-CA certificate) shows how much of the cost is the apiserver's own.
// The pair through a gateway with --upstream-identity front-proxy shows the way around that cost.

import { startBenchGateway } from "../gateway.ts";
import { cpuNote, type MeasuredLoad, measuredLoad, probe } from "../measure.ts";
import { ratioOf, type WorkloadResult } from "../result.ts";
import { CONFIGMAP_PATH } from "../setup.ts";
import { round } from "../stats.ts";
import type { Target } from "../tls-client.ts";
import { type WorkloadContext, watchedPids } from "./context.ts";

export async function groups(ctx: WorkloadContext): Promise<WorkloadResult> {
  const { options, env } = ctx;
  const n = options.groups;
  const gw = await startBenchGateway(env, { tenancy: false });
  const fp = await startBenchGateway(env, { tenancy: false, frontProxy: true });
  const results: Record<string, MeasuredLoad> = {};
  try {
    const cases: [string, Target][] = [
      ["direct-1", { name: "direct", url: env.cluster.server, tls: env.users.direct1 }],
      [`direct-${n}`, { name: "direct", url: env.cluster.server, tls: env.users.directMany }],
      ["gateway-1", { name: "gateway", url: gw.url, tls: env.users.proxied1 }],
      [`gateway-${n}`, { name: "gateway", url: gw.url, tls: env.users.proxiedMany }],
      ["front-proxy-1", { name: "gateway", url: fp.url, tls: env.users.proxied1 }],
      [`front-proxy-${n}`, { name: "gateway", url: fp.url, tls: env.users.proxiedMany }],
    ];
    for (const [label, t] of cases) {
      const r = await probe(t.url, CONFIGMAP_PATH, t.tls);
      if (r.status !== 200) throw new Error(`${label} GET ${CONFIGMAP_PATH}: HTTP ${r.status} ${r.body}`);
    }
    for (const [label, t] of cases) {
      ctx.log(`  ${label} groups: latency, 1 connection, ${options.duration}s`);
      results[label] = await measuredLoad(
        t,
        { path: CONFIGMAP_PATH, connections: 1, duration: options.duration },
        watchedPids(ctx, label.startsWith("front-proxy") ? fp.pid : gw.pid),
      );
    }
  } finally {
    await gw.stop();
    await fp.stop();
  }
  const p50 = (k: string) => (results[k] ? round(results[k].latencyMs.p50) : undefined);
  const gwRatio = ratioOf(p50(`gateway-${n}`), p50("gateway-1"));
  const directRatio = ratioOf(p50(`direct-${n}`), p50("direct-1"));
  const fpRatio = ratioOf(p50(`front-proxy-${n}`), p50("front-proxy-1"));
  const cell = (who: string) => `1g ${p50(`${who}-1`)} / ${n}g ${p50(`${who}-${n}`)}`;
  return {
    rows: [
      {
        workload: `4. user in ${n} groups vs 1`,
        metric: `GET p50 of the ${n}-group user (1 connection)`,
        unit: "ms",
        direct: p50(`direct-${n}`),
        gateway: p50(`gateway-${n}`),
        cells: {
          direct: `${cell("direct")} (${directRatio?.toFixed(2)}×)`,
          gateway: cell("gateway"),
          nginx: "n/a (one identity)",
        },
        ratio: gwRatio,
        ratioKind: "ratio",
        target: "≤ 1.5×",
        met: gwRatio === undefined ? undefined : gwRatio <= 1.5,
        note: `ratio = gateway ${n}-group p50 / gateway 1-group p50; the direct pair shows the apiserver's own cost`,
      },
      {
        workload: `4. user in ${n} groups vs 1, --upstream-identity front-proxy`,
        metric: `GET p50 of the ${n}-group user (1 connection)`,
        unit: "ms",
        direct: p50(`direct-${n}`),
        gateway: p50(`front-proxy-${n}`),
        cells: {
          direct: `${cell("direct")} (${directRatio?.toFixed(2)}×)`,
          gateway: cell("front-proxy"),
          nginx: "n/a (one identity)",
        },
        ratio: fpRatio,
        ratioKind: "ratio",
        target: "≤ 1.5×",
        met: fpRatio === undefined ? undefined : fpRatio <= 1.5,
        note: `ratio = front-proxy gateway ${n}-group p50 / its 1-group p50`,
      },
    ],
    details: { results },
    notes: [cpuNote(`4. groups`, results)],
  };
}
