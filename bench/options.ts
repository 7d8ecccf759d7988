// Command-line flags and environment variables of `npm run bench`. Flags win over the environment so a
// CI job can set defaults and a person can still narrow one run.
import { parseArgs } from "node:util";

export const WORKLOADS = [
  "passthrough",
  "tenant-list",
  "watches",
  "groups",
  "all-namespaces",
  "tunnels",
  "scale",
] as const;
/** Run when --only is not given: all but scale, which builds a cluster of 100,000 namespaces (minutes). */
export const DEFAULT_WORKLOADS: readonly WorkloadName[] = WORKLOADS.filter((w) => w !== "scale");
export type WorkloadName = (typeof WORKLOADS)[number];

export interface BenchOptions {
  only: Set<WorkloadName>;
  /** Seconds of measurement per phase (each target, each connection count). */
  duration: number;
  /** Connections for the throughput phase; latency phases always use one. */
  connections: number;
  namespaces: number;
  visibleNamespaces: number;
  watches: number;
  /** Namespaces created while the watches run (half visible to the watching user). */
  watchCreates: number;
  /** Watches per HTTP/2 connection in the multiplexed round of workload 3. */
  watchStreams: number;
  groups: number;
  /** Workload 7: namespaces and Tenants of its own cluster at the large end. */
  scaleNamespaces: number;
  scaleTenants: number;
  /** Reuse a running cluster (`npm run cluster -- up --dir D`) instead of starting and stopping one. */
  clusterDir?: string;
  outDir: string;
  profile: boolean;
}

export const USAGE = `usage: npm run bench -- [--only passthrough,tenant-list,watches,groups,all-namespaces,tunnels,scale] [--duration S]
  [--connections N] [--namespaces N] [--visible N] [--watches N] [--watch-creates N]
  [--watch-streams N] [--groups N] [--scale-namespaces N] [--scale-tenants N]
  (default --only: every workload but scale)
  [--cluster-dir DIR] [--out DIR] [--no-profile]
environment: BENCH_ONLY, BENCH_DURATION, BENCH_CONNECTIONS, BENCH_NAMESPACES, BENCH_WATCHES, BENCH_CLUSTER_DIR`;

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${value}`);
  return n;
}

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      only: { type: "string" },
      duration: { type: "string" },
      connections: { type: "string" },
      namespaces: { type: "string" },
      visible: { type: "string" },
      watches: { type: "string" },
      "watch-creates": { type: "string" },
      "watch-streams": { type: "string" },
      groups: { type: "string" },
      "scale-namespaces": { type: "string" },
      "scale-tenants": { type: "string" },
      "cluster-dir": { type: "string" },
      out: { type: "string" },
      "no-profile": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const onlyText = values.only ?? env.BENCH_ONLY ?? DEFAULT_WORKLOADS.join(",");
  const only = new Set<WorkloadName>();
  for (const w of onlyText
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!(WORKLOADS as readonly string[]).includes(w))
      throw new Error(`unknown workload ${w}; choose from ${WORKLOADS.join(", ")}`);
    only.add(w as WorkloadName);
  }
  const namespaces = positive("--namespaces", values.namespaces ?? env.BENCH_NAMESPACES, 10_000);
  const visibleNamespaces = positive("--visible", values.visible, 100);
  if (visibleNamespaces > namespaces) throw new Error("--visible cannot exceed --namespaces");
  const clusterDir = values["cluster-dir"] ?? env.BENCH_CLUSTER_DIR;
  return {
    only,
    duration: positive("--duration", values.duration ?? env.BENCH_DURATION, 10),
    connections: positive("--connections", values.connections ?? env.BENCH_CONNECTIONS, 16),
    namespaces,
    visibleNamespaces,
    watches: positive("--watches", values.watches ?? env.BENCH_WATCHES, 2000),
    watchCreates: positive("--watch-creates", values["watch-creates"], 40),
    watchStreams: positive("--watch-streams", values["watch-streams"], 100),
    groups: positive("--groups", values.groups, 200),
    scaleNamespaces: positive("--scale-namespaces", values["scale-namespaces"], 100_000),
    scaleTenants: positive("--scale-tenants", values["scale-tenants"], 2000),
    ...(clusterDir ? { clusterDir } : {}),
    outDir: values.out ?? new URL("./results", import.meta.url).pathname,
    profile: !values["no-profile"],
  };
}
