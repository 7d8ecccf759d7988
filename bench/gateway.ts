// The gateway under test, started as users start it (bin/kubegate.js gateway, a separate process),
// optionally under the V8 CPU profiler.
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { gatewayArgs } from "../test/e2e/gateway-env.ts";
import { type GatewayProcess, startGatewayProcess } from "../test/support/gateway-process.ts";
import { TEAM_LABEL } from "./namespaces.ts";
import type { BenchEnv } from "./setup.ts";

export interface BenchGateway {
  url: string;
  pid: number;
  /** Stops it; returns the path of the main thread's CPU profile when one was asked for. */
  stop(): Promise<string | undefined>;
}

export interface GatewayMode {
  tenancy: boolean;
  /** Directory for `node --cpu-prof` output; absent = no profiling. */
  profileDir?: string;
}

export async function startBenchGateway(env: BenchEnv, mode: GatewayMode): Promise<BenchGateway> {
  const extra = [
    // The e2e default (200ms) polls certificate files often enough to show up in a profile.
    ...["--reload-interval", "30s"],
    ...(mode.tenancy ? ["--tenancy", "--team-label", TEAM_LABEL] : []),
  ];
  if (mode.profileDir) {
    await rm(mode.profileDir, { recursive: true, force: true });
    await mkdir(mode.profileDir, { recursive: true });
  }
  // The shared helper spawns with the parent's environment: NODE_OPTIONS is how a flag reaches node.
  const saved = process.env.NODE_OPTIONS;
  if (mode.profileDir) process.env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${mode.profileDir}`;
  let gw: GatewayProcess;
  try {
    const started = startGatewayProcess(gatewayArgs(env.gateway, extra), { timeoutMs: 60_000 });
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
    gw = await started;
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
  const pid = gw.process.pid as number;
  return {
    url: gw.url,
    pid,
    stop: async () => {
      await gw.stop();
      if (!mode.profileDir) return undefined;
      return largestProfile(mode.profileDir);
    },
  };
}

/** node writes one profile per thread (tsx's loader has one); the main thread's is the biggest. */
async function largestProfile(dir: string): Promise<string | undefined> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".cpuprofile"));
  let best: { file: string; size: number } | undefined;
  for (const f of files) {
    const size = (await readFile(join(dir, f))).length;
    if (!best || size > best.size) best = { file: join(dir, f), size };
  }
  return best?.file;
}

/** Resident set size of a process in MB, from /proc (Linux). */
export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}
