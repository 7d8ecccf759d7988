import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BINARIES } from "./versions.ts";

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

const ldflagsOf = (b: (typeof BINARIES)[number]) => ["-s", "-w", ...b.ldflags].join(" ");
const stampOf = (b: (typeof BINARIES)[number]) => `${b.pkg}@${b.version} ${ldflagsOf(b)}`;

/**
 * Returns the paths of kube-apiserver and etcd, building whichever is missing or was built from another
 * version. A warm cache builds nothing.
 */
export async function ensureBinaries(options: BuildOptions = {}): Promise<Binaries> {
  const cache = options.cache ?? cacheDir();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const bin = join(cache, "bin");
  await mkdir(bin, { recursive: true });
  for (const b of BINARIES) {
    const target = join(bin, b.name);
    const stampFile = `${target}.version`;
    const stamp = existsSync(stampFile) ? (await readFile(stampFile, "utf8")).trim() : "";
    if (existsSync(target) && stamp === stampOf(b)) continue;
    await goBuild(b, target, cache, options, log);
    await writeFile(stampFile, `${stampOf(b)}\n`);
  }
  return { kubeApiserver: join(bin, "kube-apiserver"), etcd: join(bin, "etcd") };
}

async function goBuild(
  b: (typeof BINARIES)[number],
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
        `Install Go 1.24 or newer, or put prebuilt ${b.name} ${b.version} at ${target}.`,
    );
  }
  const started = Date.now();
  log(`building ${b.name} ${b.version} with ${go} (first run only; several minutes on 2 cores)...`);
  const tmp = `${target}.tmp`;
  const args = ["build", `-ldflags=${ldflagsOf(b)}`, "-o", tmp, b.pkg];
  const child = spawn(go, args, {
    cwd: options.module ?? BUILD_MODULE,
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
