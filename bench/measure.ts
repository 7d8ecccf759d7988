// One measured phase against one target, in the load-generator child process.
import { readFile } from "node:fs/promises";
import { rawRequest } from "../test/support/https-client.ts";
import { runChild } from "./child.ts";
import { measureCpu } from "./cpu.ts";
import type { HttpLoadResult, HttpLoadSpec } from "./loadgen/http-load.ts";
import type { ClientTls, Target } from "./tls-client.ts";

export interface Phase {
  path: string;
  connections: number;
  duration: number;
  headers?: Record<string, string>;
}

/** Connections, JIT and caches warm up before measuring; a fifth of the phase, 1 to 3 s. */
const warmupSeconds = (duration: number) => Math.min(3, Math.max(1, Math.round(duration / 5)));

export interface MeasuredLoad extends HttpLoadResult {
  /** CPU ms per successful request, per watched process (gateway, kube-apiserver, etcd). */
  cpuMsPerRequest: Record<string, number>;
}

/** `load`, with the CPU each of `pids` spent on it (warm-up included, so slightly high). */
export async function measuredLoad(
  target: Target,
  phase: Phase,
  pids: Record<string, number>,
): Promise<MeasuredLoad> {
  const { result, cpuMs } = await measureCpu(pids, () => load(target, phase));
  const total = result.ok * (1 + warmupSeconds(phase.duration) / phase.duration);
  const perRequest: Record<string, number> = {};
  for (const [name, ms] of Object.entries(cpuMs)) perRequest[name] = Math.round((1000 * ms) / total) / 1000;
  return { ...result, cpuMsPerRequest: perRequest };
}

export async function load(target: Target, phase: Phase): Promise<HttpLoadResult> {
  const spec: HttpLoadSpec = {
    url: new URL(phase.path, target.url).toString(),
    tls: target.tls,
    connections: phase.connections,
    duration: phase.duration,
    warmup: warmupSeconds(phase.duration),
    ...(phase.headers ? { headers: phase.headers } : {}),
  };
  const r = await runChild<HttpLoadResult>("./loadgen/http-load.ts", spec, (phase.duration + 120) * 1000);
  if (r.ok === 0) {
    throw new Error(
      `${target.name} ${phase.path}: no successful response (status codes ${JSON.stringify(r.statusCodes)}, ${r.errors} errors)`,
    );
  }
  return r;
}

/** One request, to check a target answers what the workload expects before loading it. */
export async function probe(
  base: string,
  path: string,
  tls: ClientTls,
  headers: [string, string][] = [],
): Promise<{ status: number; body: string }> {
  const [ca, cert, key] = await Promise.all([tls.ca, tls.cert, tls.key].map((f) => readFile(f, "utf8")));
  return rawRequest(base, {
    path,
    ca,
    cert,
    key,
    headers: headers.length ? headers : [["Accept", "application/json"]],
  });
}

/** One line per phase: CPU ms per request of each process, e.g. "gateway: gateway 0.21, apiserver 0.40". */
export function cpuNote(title: string, phases: Record<string, MeasuredLoad | undefined>): string {
  const parts = Object.entries(phases)
    .filter((e): e is [string, MeasuredLoad] => e[1] !== undefined)
    .map(
      ([name, r]) =>
        `${name}: ${Object.entries(r.cpuMsPerRequest)
          .map(([p, ms]) => `${p} ${ms}`)
          .join(", ")}`,
    );
  return `${title} — CPU ms per request (warm-up included): ${parts.join("; ")}`;
}
