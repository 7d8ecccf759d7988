// Workload 1: GET of a small ConfigMap, passed through untouched. Throughput with several connections
// (closed loop: every path gets the same offered concurrency), then latency with one connection so
// that queueing does not hide the per-request cost the gateway adds.

import { join } from "node:path";
import { startBenchGateway } from "../gateway.ts";
import { cpuNote, type MeasuredLoad, measuredLoad, probe } from "../measure.ts";
import { readProfile } from "../profile.ts";
import { type Row, ratioOf, type WorkloadResult } from "../result.ts";
import { CONFIGMAP_PATH } from "../setup.ts";
import { round } from "../stats.ts";
import { type WorkloadContext, watchedPids } from "./context.ts";
import { targets } from "./targets.ts";

export async function passthrough(ctx: WorkloadContext): Promise<WorkloadResult> {
  const { options, env } = ctx;
  const profileDir = options.profile ? join(ctx.workDir, "profile-passthrough") : undefined;
  const gw = await startBenchGateway(env, { tenancy: false, ...(profileDir ? { profileDir } : {}) });
  const throughput: Record<string, MeasuredLoad> = {};
  const latency: Record<string, MeasuredLoad> = {};
  let profileFile: string | undefined;
  try {
    const list = targets(ctx, gw.url, { direct: env.users.direct1, proxied: env.users.proxied1 });
    for (const t of list) {
      const r = await probe(t.url, CONFIGMAP_PATH, t.tls);
      if (r.status !== 200) throw new Error(`${t.name} GET ${CONFIGMAP_PATH}: HTTP ${r.status} ${r.body}`);
    }
    for (const t of list) {
      ctx.log(`  ${t.name}: throughput, ${options.connections} connections, ${options.duration}s`);
      throughput[t.name] = await measuredLoad(
        t,
        { path: CONFIGMAP_PATH, connections: options.connections, duration: options.duration },
        watchedPids(ctx, gw.pid),
      );
    }
    for (const t of list) {
      ctx.log(`  ${t.name}: latency, 1 connection, ${options.duration}s`);
      latency[t.name] = await measuredLoad(
        t,
        { path: CONFIGMAP_PATH, connections: 1, duration: options.duration },
        watchedPids(ctx, gw.pid),
      );
    }
  } finally {
    profileFile = await gw.stop();
  }
  const rps = (n: string) => (throughput[n] ? round(throughput[n].rps, 1) : undefined);
  const lat = (n: string, p: "p50" | "p99") => (latency[n] ? round(latency[n].latencyMs[p]) : undefined);
  const added = (n: string, p: "p50" | "p99") => {
    const a = lat(n, p);
    const d = lat("direct", p);
    return a !== undefined && d !== undefined ? round(a - d) : undefined;
  };
  const tputRatio = ratioOf(rps("gateway"), rps("direct"));
  const rows: Row[] = [
    {
      workload: "1. passthrough GET",
      metric: `throughput (${options.connections} connections)`,
      unit: "req/s",
      direct: rps("direct"),
      gateway: rps("gateway"),
      nginx: rps("nginx"),
      ratio: tputRatio,
      ratioKind: "ratio",
      nginxRatio: ratioOf(rps("nginx"), rps("direct")),
      target: "≥ 0.85×",
      met: tputRatio === undefined ? undefined : tputRatio >= 0.85,
    },
    ...(["p50", "p99"] as const).map((p): Row => {
      const add = added("gateway", p);
      const limit = p === "p50" ? 0.5 : 2;
      return {
        workload: "1. passthrough GET",
        metric: `latency ${p} (1 connection)`,
        unit: "ms",
        direct: lat("direct", p),
        gateway: lat("gateway", p),
        nginx: lat("nginx", p),
        ratio: add,
        ratioKind: "added-ms",
        nginxRatio: added("nginx", p),
        target: `≤ +${limit} ms`,
        met: add === undefined ? undefined : add <= limit,
      };
    }),
  ];
  const result: WorkloadResult = {
    rows,
    details: { throughput, latency },
    notes: [cpuNote("1. passthrough throughput", throughput), cpuNote("1. passthrough latency", latency)],
  };
  if (profileFile) result.profile = await readProfile("passthrough", profileFile);
  return result;
}
