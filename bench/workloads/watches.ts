// Workload 3: 2,000 concurrent filtered namespace watches through the gateway in tenancy mode while
// namespaces are created: the gateway's memory and how late events arrive. The same watches direct and
// through nginx use the apiserver's labelSelector, the filter a tenant would otherwise need.
import { setTimeout as sleep } from "node:timers/promises";
import { runChild } from "../child.ts";
import { rssMb, startBenchGateway } from "../gateway.ts";
import type { WatchersResult, WatchersSpec } from "../loadgen/watchers.ts";
import { probe } from "../measure.ts";
import { TEAM_LABEL, teamLabels, VISIBLE_TEAM } from "../namespaces.ts";
import type { Row, WorkloadResult } from "../result.ts";
import { round } from "../stats.ts";
import type { Target } from "../tls-client.ts";
import type { WorkloadContext } from "./context.ts";

const SELECTOR_PATH = `/api/v1/namespaces?labelSelector=${TEAM_LABEL}%3D${VISIBLE_TEAM}`;

async function sampleRss(pid: number, stop: { done: boolean }): Promise<number[]> {
  const samples: number[] = [];
  while (!stop.done) {
    samples.push(await rssMb(pid).catch(() => Number.NaN));
    await sleep(250);
  }
  return samples;
}

/** How the watches reach the endpoint: a connection each, or multiplexed over HTTP/2. */
interface Shape {
  protocol: WatchersSpec["protocol"];
  label: string;
}

export async function watches(ctx: WorkloadContext): Promise<WorkloadResult> {
  const { options } = ctx;
  const shapes: Shape[] = [
    { protocol: "http/1.1", label: "one HTTP/1.1 connection each" },
    { protocol: "h2", label: `HTTP/2, ${options.watchStreams} per connection` },
  ];
  const rows: Row[] = [];
  const notes: string[] = [];
  const details: Record<string, unknown> = {};
  for (const shape of shapes) {
    const r = await watchRound(ctx, shape);
    rows.push(...r.rows);
    notes.push(...r.notes);
    details[shape.protocol] = r.details;
  }
  return { rows, details, notes };
}

async function watchRound(ctx: WorkloadContext, shape: Shape): Promise<WorkloadResult> {
  const { options, env } = ctx;
  const gw = await startBenchGateway(env, { tenancy: true });
  const results: Record<string, WatchersResult> = {};
  const errors: string[] = [];
  const run = `${Date.now().toString(36)}-${shape.protocol === "h2" ? "m" : "s"}`;
  let rssBefore = Number.NaN;
  let rssPeak = Number.NaN;
  try {
    const deadline = Date.now() + 120_000;
    while ((await probe(gw.url, "/api/v1/namespaces", env.users.tenant)).status !== 200) {
      if (Date.now() > deadline) throw new Error("the tenancy gateway never answered the tenant's list");
      await sleep(500);
    }
    const cases: [Target, string][] = [
      [{ name: "direct", url: env.cluster.server, tls: env.users.direct1 }, SELECTOR_PATH],
      [{ name: "gateway", url: gw.url, tls: env.users.tenant }, "/api/v1/namespaces"],
    ];
    // nginx only in the connection-per-watch round: over HTTP/2, nginx 1.22 left most watch streams
    // unanswered here ("client terminated stream ... while reading upstream" after 10 s), and it
    // would proxy each stream as an HTTP/1.1 connection of its own anyway.
    if (ctx.nginx && shape.protocol === "http/1.1")
      cases.push([{ name: "nginx", url: ctx.nginx.url, tls: env.users.proxied1 }, SELECTOR_PATH]);
    for (const [t, path] of cases) {
      ctx.log(
        `  ${t.name}: ${options.watches} watches (${shape.label}), ${options.watchCreates} namespaces created`,
      );
      const spec: WatchersSpec = {
        url: t.url,
        path,
        tls: t.tls,
        count: options.watches,
        apiserver: env.cluster.server,
        admin: { cert: env.cluster.admin.cert, key: env.cluster.admin.key, ca: env.cluster.ca.cert },
        prefix: `bench-w-${t.name}-${run}-`,
        creates: options.watchCreates,
        intervalMs: 100,
        visibleLabels: { ...teamLabels(true, ""), "kubegate-bench": "watch" },
        hiddenLabels: { ...teamLabels(false, "bench-other-watch"), "kubegate-bench": "watch" },
        connectTimeoutMs: 30_000,
        protocol: shape.protocol,
        streamsPerConnection: options.watchStreams,
      };
      const isGateway = t.name === "gateway";
      if (isGateway) rssBefore = await rssMb(gw.pid);
      const stop = { done: !isGateway };
      const sampling = sampleRss(gw.pid, stop);
      try {
        results[t.name] = await runChild<WatchersResult>("./loadgen/watchers.ts", spec, 300_000);
      } catch (err) {
        // One endpoint's failure leaves its cell empty, not the whole workload.
        errors.push(`${t.name}: ${(err as Error).message.split("\n")[0]}`);
        continue;
      } finally {
        stop.done = true;
      }
      if (isGateway) rssPeak = Math.max(...(await sampling).filter(Number.isFinite), rssBefore);
      const r = results[t.name] as WatchersResult;
      ctx.log(
        `    ${r.established}/${options.watches} established, ${r.delivered}/${r.expectedDeliveries} events, p99 ${round(r.latencyMs.p99)} ms`,
      );
    }
  } finally {
    await gw.stop();
  }
  const p99 = (n: string) => {
    const v = results[n]?.latencyMs.p99;
    return v !== undefined && Number.isFinite(v) ? round(v) : undefined;
  };
  const est = (n: string) => results[n]?.established;
  const all = (n: string) => results[n] !== undefined && results[n].established === options.watches;
  const complete = (n: string) =>
    results[n] !== undefined && results[n].delivered >= results[n].expectedDeliveries;
  const g = results.gateway;
  const coverage = (n: string) => {
    const r = results[n];
    if (!r) return undefined;
    const why = Object.entries(r.failures ?? {})
      .map(([k, v]) => `${v} ${k}`)
      .join(", ");
    return `${r.established}/${options.watches} up${why ? ` (refused: ${why})` : ""}, ${r.delivered}/${r.expectedDeliveries} events`;
  };
  const workload = `3. ${options.watches} filtered namespace watches, ${shape.label}`;
  const rows: Row[] = [
    {
      workload,
      metric: "gateway RSS, peak while watching",
      unit: "MB",
      gateway: round(rssPeak, 1),
      ratio: round(rssPeak, 1),
      ratioKind: "absolute",
      target: "≤ 300 MB",
      met: Number.isFinite(rssPeak) ? rssPeak <= 300 && all("gateway") : undefined,
      note: `RSS before the watches: ${round(rssBefore, 1)} MB${all("gateway") ? "" : `; only ${est("gateway")} watches were established, so the peak understates the load`}`,
    },
    {
      workload,
      metric: "event delivery p99 (create response → event)",
      unit: "ms",
      direct: p99("direct"),
      gateway: p99("gateway"),
      nginx: p99("nginx"),
      cells: {
        ...(coverage("direct") ? { direct: `${p99("direct") ?? "–"} (${coverage("direct")})` } : {}),
        ...(coverage("gateway") ? { gateway: `${p99("gateway") ?? "–"} (${coverage("gateway")})` } : {}),
        ...(coverage("nginx") ? { nginx: `${p99("nginx") ?? "–"} (${coverage("nginx")})` } : {}),
      },
      ratio: p99("gateway"),
      ratioKind: "absolute",
      target: "≤ 50 ms, every watch served",
      met: g ? g.latencyMs.p99 <= 50 && all("gateway") && complete("gateway") && g.leaked === 0 : undefined,
      note: g?.leaked ? `LEAK: ${g.leaked} events of invisible namespaces reached the tenant` : undefined,
    },
  ];
  return {
    rows,
    details: { results, rssBeforeMb: rssBefore, rssPeakMb: rssPeak, errors },
    notes: errors.map((e) => `${workload}: ${e}`),
  };
}
