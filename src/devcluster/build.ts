import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BINARIES, type BinarySpec } from "./versions.ts";

export class ClusterSetupError extends Error {
  override name = "ClusterSetupError";
  readonly code = "KUBEGATE_CLUSTER_SETUP";
}

/** Where built binaries and the Go caches live: outside the repository, reused across runs. */
export function cacheDir(): string {
  return (
    process.env.KUBEGATE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "kubegate")
  );
}

export const BUILD_MODULE = fileURLToPath(new URL("./build/", import.meta.url));
/** The clients' module: helm needs newer k8s.io modules than the cluster's release. */
export const CLIENTS_MODULE = fileURLToPath(new URL("./build-tools/", import.meta.url));

const USUAL_GO = ["/usr/local/go/bin/go"];

/** Finds the Go toolchain: $KUBEGATE_GO, then PATH, then the usual install location. */
export function findGo(
  env: NodeJS.ProcessEnv = process.env,
  usual: readonly string[] = USUAL_GO,
): string | undefined {
  const candidates = [
    env.KUBEGATE_GO,
    ...(env.PATH ?? "").split(delimiter).map((dir) => (dir ? join(dir, "go") : undefined)),
    ...usual,
  ];
  for (const candidate of candidates) {
    if (candidate && existsSync(candidate) && spawnSync(candidate, ["version"]).status === 0)
      return candidate;
  }
  return undefined;
}

export interface BuildOptions {
  cache?: string;
  /** Also the node's binaries (kubelet, scheduler, controller manager) and the pause program. */
  node?: boolean;
  module?: string;
  env?: NodeJS.ProcessEnv;
  /** Where to look for Go after $KUBEGATE_GO and PATH. */
  usualGo?: readonly string[];
  log?: (line: string) => void;
}

export interface Binaries {
  kubeApiserver: string;
  etcd: string;
}

export interface NodeBinaries {
  kubelet: string;
  kubeProxy: string;
  kubeScheduler: string;
  kubeControllerManager: string;
  /** The pod sandbox's init (kubernetes' build/pause/linux/pause.c, linked statically). */
  pause: string;
}

const ldflagsOf = (b: BinarySpec) => ["-s", "-w", ...b.ldflags].join(" ");
const stampOf = (b: BinarySpec) => `${b.pkg}@${b.version} ${ldflagsOf(b)}`;

/**
 * Returns the paths of kube-apiserver and etcd, building whichever is missing or was built from another
 * version. A warm cache builds nothing.
 */
export async function ensureBinaries(options: BuildOptions = {}): Promise<Binaries> {
  await buildMissing(options, "control");
  const bin = join(options.cache ?? cacheDir(), "bin");
  return { kubeApiserver: join(bin, "kube-apiserver"), etcd: join(bin, "etcd") };
}

/** The node's programs, built like the control plane's (measured warm: kubelet 139 s, scheduler 9 s, controller manager 56 s). */
export async function ensureNodeBinaries(options: BuildOptions = {}): Promise<NodeBinaries> {
  const cache = options.cache ?? cacheDir();
  await buildMissing(options, "node");
  const bin = join(cache, "bin");
  return {
    kubelet: join(bin, "kubelet"),
    kubeProxy: join(bin, "kube-proxy"),
    kubeScheduler: join(bin, "kube-scheduler"),
    kubeControllerManager: join(bin, "kube-controller-manager"),
    pause: await buildPause(cache, options.log),
  };
}

/** The clients the e2e suite drives (helm, k9s, Dex as the identity provider), built like the cluster's programs and cached beside them. */
export async function ensureClientBinaries(
  options: BuildOptions = {},
): Promise<{ helm: string; informers: string; dex: string; k9s: string }> {
  await buildMissing(options, "clients");
  const bin = join(options.cache ?? cacheDir(), "bin");
  return {
    helm: join(bin, "helm"),
    informers: join(bin, "kubegate-e2e-informers"),
    dex: join(bin, "dex"),
    k9s: join(bin, "k9s"),
  };
}

const PAUSE_SOURCE = (cache: string, version: string) =>
  join(cache, "gomod", "k8s.io", `kubernetes@${version}`, "build", "pause", "linux", "pause.c");

/** kubernetes' pause program from the module already downloaded for the build, linked statically with gcc. */
async function buildPause(cache: string, log?: (line: string) => void): Promise<string> {
  const target = join(cache, "bin", "pause");
  const version = BINARIES[0].version;
  const stampFile = `${target}.version`;
  if (existsSync(target) && existsSync(stampFile) && (await readFile(stampFile, "utf8")).trim() === version)
    return target;
  const source = PAUSE_SOURCE(cache, version);
  if (!existsSync(source))
    throw new ClusterSetupError(`${source} is missing: the kubernetes module should have brought it`);
  log?.(`building pause from ${source}`);
  const cc = spawnSync("gcc", ["-Os", "-static", "-o", target, source], { encoding: "utf8" });
  if (cc.error || cc.status !== 0)
    throw new ClusterSetupError(
      `building pause with gcc failed (install gcc and libc6-dev): ${cc.error?.message ?? cc.stderr.trim()}`,
    );
  await writeFile(stampFile, `${version}\n`);
  return target;
}

async function buildMissing(options: BuildOptions, role: "control" | "node" | "clients"): Promise<void> {
  const cache = options.cache ?? cacheDir();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const bin = join(cache, "bin");
  await mkdir(bin, { recursive: true });
  for (const b of BINARIES) {
    if (b.role !== role) continue;
    const target = join(bin, b.name);
    const stampFile = `${target}.version`;
    const stamp = existsSync(stampFile) ? (await readFile(stampFile, "utf8")).trim() : "";
    if (existsSync(target) && stamp === stampOf(b)) continue;
    await goBuild(b, target, cache, options, log);
    await writeFile(stampFile, `${stampOf(b)}\n`);
  }
}

/** The directory whose go.mod pins a binary's build. */
function moduleOf(b: BinarySpec, options: BuildOptions): string {
  if (b.role !== "clients") return options.module ?? BUILD_MODULE;
  return b.module ? join(CLIENTS_MODULE, b.module) : CLIENTS_MODULE;
}

async function goBuild(
  b: BinarySpec,
  target: string,
  cache: string,
  options: BuildOptions,
  log: (line: string) => void,
): Promise<void> {
  const env = options.env ?? process.env;
  const go = findGo(env, options.usualGo);
  if (!go) {
    throw new ClusterSetupError(
      "the Go toolchain was not found (looked at $KUBEGATE_GO, PATH and /usr/local/go/bin/go). " +
        `Install Go ${b.role === "clients" ? "1.26" : "1.24"} or newer, or put prebuilt ${b.name} ${b.version} at ${target}.`,
    );
  }
  const started = Date.now();
  log(`building ${b.name} ${b.version} with ${go} (first run only; several minutes on 2 cores)...`);
  const tmp = `${target}.tmp`;
  const args = ["build", `-ldflags=${ldflagsOf(b)}`, "-o", tmp, b.pkg];
  const child = spawn(go, args, {
    cwd: moduleOf(b, options),
    env: {
      ...env,
      GOMODCACHE: join(cache, "gomod"),
      GOCACHE: join(cache, "gocache"),
      GOFLAGS: "-mod=readonly",
      GOTOOLCHAIN: "local",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const ticker = setInterval(
    () => log(`  ...still building ${b.name} (${Math.round((Date.now() - started) / 1000)} s)`),
    30_000,
  );
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (line.trim()) output.push(line);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const code = await new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (c) => resolve(c ?? 1));
  }).finally(() => clearInterval(ticker));
  if (code !== 0) {
    await rm(tmp, { force: true });
    throw new ClusterSetupError(
      `building ${b.name} failed (go ${args.join(" ")} exited ${code}):\n${output.slice(-25).join("\n")}`,
    );
  }
  await rename(tmp, target);
  log(`built ${b.name} in ${Math.round((Date.now() - started) / 1000)} s`);
}
