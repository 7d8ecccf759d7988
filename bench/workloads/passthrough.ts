// Workload 1: GET of a small ConfigMap, passed through untouched. Throughput with several connections
// (closed loop: every path gets the same offered concurrency), then latency with one connection so
// that queueing does not hide the per-request cost the gateway adds.

import { join } from "node:path";
import { startFloorProxy } from "../floor.ts";
import { profiledPhase, startBenchGateway } from "../gateway.ts";
import { cpuNote, load, type MeasuredLoad, measuredLoad, probe } from "../measure.ts";
import { readProfile } from "../profile.ts";
import { type Row, ratioOf, type WorkloadResult } from "../result.ts";
import { CONFIGMAP_PATH } from "../setup.ts";
import { round } from "../stats.ts";
import type { Target } from "../tls-client.ts";
import { type WorkloadContext, watchedPids } from "./context.ts";
import { targets } from "./targets.ts";

const FRONT_PROXY = "gateway-front-proxy";
const FLOOR = "node-floor";

export async function passthrough(ctx: WorkloadContext): Promise<WorkloadResult> {
  const { options, env } = ctx;
  const gw = await startBenchGateway(env, { tenancy: false });
  // The same gateway forwarding with --upstream-identity front-proxy instead of impersonating.
  const fp = await startBenchGateway(env, { tenancy: false, frontProxy: true });
  // What any Node.js proxy costs: the gateway's transport alone (bench/floor-proxy.ts).
  const floor = await startFloorProxy(env);
  const pidOf = (key: string) => (key === FRONT_PROXY ? fp.pid : key === FLOOR ? floor.pid : gw.pid);
  const throughput: Record<string, MeasuredLoad> = {};
  const latency: Record<string, MeasuredLoad> = {};
  let profileFile: string | undefined;
  try {
    const list: [string, Target][] = [
      ...targets(ctx, gw.url, { direct: env.users.direct1, proxied: env.users.proxied1 }).map(
        (t): [string, Target] => [t.name, t],
      ),
      [FRONT_PROXY, { name: "gateway", url: fp.url, tls: env.users.proxied1 }],
      [FLOOR, { name: "gateway", url: floor.url, tls: env.users.proxied1 }],
    ];
    for (const [key, t] of list) {
      const r = await probe(t.url, CONFIGMAP_PATH, t.tls);
      if (r.status !== 200) throw new Error(`${key} GET ${CONFIGMAP_PATH}: HTTP ${r.status} ${r.body}`);
    }
    for (const [key, t] of list) {
      ctx.log(`  ${key}: throughput, ${options.connections} connections, ${options.duration}s`);
      throughput[key] = await measuredLoad(
        t,
        { path: CONFIGMAP_PATH, connections: options.connections, duration: options.duration },
        watchedPids(ctx, pidOf(key)),
      );
    }
    for (const [key, t] of list) {
      ctx.log(`  ${key}: latency, 1 connection, ${options.duration}s`);
      latency[key] = await measuredLoad(
        t,
        { path: CONFIGMAP_PATH, connections: 1, duration: options.duration },
        watchedPids(ctx, pidOf(key)),
      );
    }
  } finally {
    await gw.stop();
    await fp.stop();
    await floor.stop();
  }
  if (options.profile) {
    profileFile = await profiledPhase(
      env,
      { tenancy: false },
      join(ctx.workDir, "profile-passthrough"),
      (url) =>
        load(
          { name: "gateway", url, tls: env.users.proxied1 },
          { path: CONFIGMAP_PATH, connections: options.connections, duration: options.duration },
        ),
    );
  }
  const rps = (n: string) => (throughput[n] ? round(throughput[n].rps, 1) : undefined);
  const lat = (n: string, p: "p50" | "p99") => (latency[n] ? round(latency[n].latencyMs[p]) : undefined);
  const added = (n: string, p: "p50" | "p99") => {
    const a = lat(n, p);
    const d = lat("direct", p);
    return a !== undefined && d !== undefined ? round(a - d) : undefined;
  };
  /**
   * Throughput and the two latency rows of one proxy (by its key), nginx beside it when asked. A
   * reference row shows the targets but is not judged by them.
   */
  const rowsOf = (workload: string, key: string, withNginx: boolean, reference = false): Row[] => {
    const ratio = ratioOf(rps(key), rps("direct"));
    return [
      {
        workload,
        metric: `throughput (${options.connections} connections)`,
        unit: "req/s",
        direct: rps("direct"),
        gateway: rps(key),
        ...(withNginx ? { nginx: rps("nginx"), nginxRatio: ratioOf(rps("nginx"), rps("direct")) } : {}),
        ratio,
        ratioKind: "ratio",
        target: reference ? "(reference for ≥ 0.85×)" : "≥ 0.85×",
        met: ratio === undefined || reference ? undefined : ratio >= 0.85,
      },
      ...(["p50", "p99"] as const).map((p): Row => {
        const add = added(key, p);
        const limit = p === "p50" ? 0.5 : 2;
        return {
          workload,
          metric: `latency ${p} (1 connection)`,
          unit: "ms",
          direct: lat("direct", p),
          gateway: lat(key, p),
          ...(withNginx ? { nginx: lat("nginx", p), nginxRatio: added("nginx", p) } : {}),
          ratio: add,
          ratioKind: "added-ms",
          target: reference ? `(reference for ≤ +${limit} ms)` : `≤ +${limit} ms`,
          met: add === undefined || reference ? undefined : add <= limit,
        };
      }),
    ];
  };
  const rows = [
    ...rowsOf("1. passthrough GET", "gateway", true),
    ...rowsOf("1. passthrough GET, --upstream-identity front-proxy", FRONT_PROXY, false),
    ...rowsOf("1. passthrough GET, bare Node.js TLS proxy (floor)", FLOOR, false, true),
  ];
  const result: WorkloadResult = {
    rows,
    details: { throughput, latency },
    notes: [cpuNote("1. passthrough throughput", throughput), cpuNote("1. passthrough latency", latency)],
  };
  if (profileFile) result.profile = await readProfile("passthrough", profileFile);
  return result;
}
