import type { RunningNginx } from "../nginx.ts";
import type { BenchOptions } from "../options.ts";
import type { BenchEnv } from "../setup.ts";

/** What every workload gets from the orchestrator. */
export interface WorkloadContext {
  env: BenchEnv;
  options: BenchOptions;
  /** Absent when nginx is not installed: its column is left empty. */
  nginx?: RunningNginx;
  /** Scratch directory of this run (profiles, logs). */
  workDir: string;
  log: (line: string) => void;
}

/** The processes whose CPU a phase accounts for. */
export function watchedPids(ctx: WorkloadContext, gatewayPid?: number): Record<string, number> {
  return {
    ...(gatewayPid ? { gateway: gatewayPid } : {}),
    ...(ctx.nginx?.workerPid ? { nginx: ctx.nginx.workerPid } : {}),
    apiserver: ctx.env.cluster.pids.apiserver,
    etcd: ctx.env.cluster.pids.etcd,
  };
}
