// The gateway under test, started as users start it (a separate `kubegate gateway` process) and as
// the container image runs it: compiled by tsc, without tsx's loader thread and helpers in the
// process. Optionally under the V8 CPU profiler.
import { execFile } from "node:child_process";
import { copyFile, mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseDockerfile } from "../src/devcluster/dockerfile.ts";
import { gatewayArgs } from "../test/e2e/gateway-env.ts";
import { startGatewayProcess } from "../test/support/gateway-process.ts";
import { TEAM_LABEL } from "./namespaces.ts";
import type { BenchEnv } from "./setup.ts";

const REPO = fileURLToPath(new URL("../", import.meta.url));
/** Inside the repository, so the compiled code resolves the same node_modules; ignored by git. */
const BUILD_DIR = join(REPO, "bench", ".build");
let compiled: Promise<string> | undefined;

/** The node flags of the image's exec-form ENTRYPOINT (between node and the kubegate script). */
export function imageNodeFlags(dockerfile: string): string[] {
  const argv = parseDockerfile(dockerfile).at(-1)?.entrypoint ?? [];
  const script = argv.findIndex((a) => a.endsWith("/bin/kubegate.js"));
  if (!/(^|\/)node$/.test(argv[0] ?? "") || script < 1) {
    throw new Error('the Dockerfile has no ENTRYPOINT ["node", ...flags, ".../bin/kubegate.js"]');
  }
  return argv.slice(1, script);
}

/** Compiles src once per run (as the Dockerfile does) and returns the entry point to start. */
export function compiledKubegate(): Promise<string> {
  compiled ??= (async () => {
    await rm(BUILD_DIR, { recursive: true, force: true });
    const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
    await promisify(execFile)(
      process.execPath,
      [tsc, "-p", "tsconfig.build.json", "--outDir", join(BUILD_DIR, "dist")],
      {
        cwd: REPO,
      },
    );
    await mkdir(join(BUILD_DIR, "bin"), { recursive: true });
    // bin/kubegate.js runs ../dist/cli/main.js when it exists: the copy finds the build beside it.
    await copyFile(join(REPO, "bin", "kubegate.js"), join(BUILD_DIR, "bin", "kubegate.js"));
    return join(BUILD_DIR, "bin", "kubegate.js");
  })();
  return compiled;
}

export interface BenchGateway {
  url: string;
  pid: number;
  /** Stops it; returns the path of the main thread's CPU profile when one was asked for. */
  stop(): Promise<string | undefined>;
}

export interface GatewayMode {
  tenancy: boolean;
  /** --upstream-identity front-proxy with the test cluster's front-proxy client certificate. */
  frontProxy?: boolean;
  /** --consistent-namespace-lists (with tenancy). */
  consistentNamespaceLists?: boolean;
  /** Directory for `node --cpu-prof` output; absent = no profiling. */
  profileDir?: string;
}

export async function startBenchGateway(env: BenchEnv, mode: GatewayMode): Promise<BenchGateway> {
  const extra = [
    // The e2e default (200ms) polls certificate files often enough to show up in a profile.
    ...["--reload-interval", "30s"],
    // One bench user on one address holds thousands of watches (workload 3): the per-user and
    // per-address caps that keep one client from starving others (defaults 100 watches, 512
    // connections) are not what is measured here.
    ...["--max-long-running-per-user", "0", "--max-connections-per-ip", "0"],
    ...(mode.tenancy ? ["--tenancy", "--team-label", TEAM_LABEL] : []),
    ...(mode.consistentNamespaceLists ? ["--consistent-namespace-lists"] : []),
    ...(mode.frontProxy
      ? [
          ...["--upstream-identity", "front-proxy"],
          ...["--front-proxy-cert", env.cluster.frontProxyClient.cert],
          ...["--front-proxy-key", env.cluster.frontProxyClient.key],
        ]
      : []),
  ];
  if (mode.profileDir) {
    await rm(mode.profileDir, { recursive: true, force: true });
    await mkdir(mode.profileDir, { recursive: true });
  }
  const gw = await startGatewayProcess(gatewayArgs(env.gateway, extra), {
    timeoutMs: 60_000,
    bin: await compiledKubegate(),
    nodeArgs: [
      // As the container image starts it.
      ...imageNodeFlags(await readFile(join(REPO, "Dockerfile"), "utf8")),
      ...(mode.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${mode.profileDir}`] : []),
    ],
  });
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

/** node writes one profile per thread; the main thread's is the biggest. */
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

/**
 * A CPU profile of the gateway under `drive`, from an instance of its own: the profiler's sampling
 * thread costs CPU even while the process idles, so the gateway whose numbers the table judges is
 * never the profiled one.
 */
export async function profiledPhase(
  env: BenchEnv,
  mode: Omit<GatewayMode, "profileDir">,
  profileDir: string,
  drive: (gatewayUrl: string) => Promise<unknown>,
): Promise<string | undefined> {
  const gw = await startBenchGateway(env, { ...mode, profileDir });
  try {
    await drive(gw.url);
  } catch (err) {
    await gw.stop();
    throw err;
  }
  // node writes the profile as the process exits.
  return gw.stop();
}
