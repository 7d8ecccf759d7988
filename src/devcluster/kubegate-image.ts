// kubegate's container image without a Docker engine (none runs on these machines): the content the
// Dockerfile describes, assembled from this checkout and this machine into a docker-archive that
// containerd imports. Same layout as the Dockerfile's image: /app with package.json, bin/, deploy/,
// dist/ (tsc, production build) and the production node_modules; Node 24 (the project's own `node`
// package) as /usr/local/bin/node; `ip` and `iptables` for the node agent; user 65532; the same
// entrypoint and flags (kubegate-image.test.ts holds the two together). System files (glibc, the
// programs' libraries) come from this machine, found by following `ldd`: the image is as Debian
// bookworm as the machine it was built on, without the shell and package manager the Dockerfile's
// base image brings.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
} from "node:fs";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { ClusterSetupError } from "./build.ts";
import { dockerArchive, type Entry, type ImageConfig } from "./image.ts";

/** How the image runs; the Dockerfile's final stage says the same (its comments give the reasons). */
export const KUBEGATE_IMAGE_CONFIG: Readonly<Required<Omit<ImageConfig, "ref">>> = {
  entrypoint: ["/usr/local/bin/node", "--max-semi-space-size=2", "/app/bin/kubegate.js"],
  cmd: ["--help"],
  user: "65532:65532",
  env: ["NODE_ENV=production"],
  workingDir: "/app",
};

/**
 * The entries of /app taken from the checkout: only the files git tracks there, so that a manifest
 * rendered into deploy/ or a key left beside them does not ship.
 */
export const APP_FROM_CHECKOUT = ["package.json", "bin", "deploy"] as const;

/** The entries of /app the build makes, as the Dockerfile's build stage does. */
export const APP_BUILT = ["dist", "node_modules"] as const;

/** The tsc project dist/ is compiled with: it leaves out the tests and the dev tooling. */
export const BUILD_TSCONFIG = "tsconfig.build.json";

/** The Node the image runs: the checkout's `node` devDependency, the one the npm scripts run on. */
export function imageNode(repo: string): { binary: string; version: string } {
  const dir = join(repo, "node_modules", "node");
  if (!existsSync(join(dir, "bin", "node")))
    throw new ClusterSetupError(`${dir}/bin/node is missing: run npm ci first`);
  const { version } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string };
  return { binary: join(dir, "bin", "node"), version };
}

/** The reference deploy/ names (the package version), so the shipped manifests run it unchanged. */
export function kubegateImageRef(repo: string): string {
  const { version } = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string };
  return `ghcr.io/kubegate/kubegate:${version}`;
}

/** What the image's layer holds, keyed by path inside the image (no leading slash). */
class Layer {
  readonly entries = new Map<string, Entry>();

  dir(name: string, mode = 0o755): void {
    const parts = name.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const path = parts.slice(0, i).join("/");
      if (!this.entries.has(path))
        this.entries.set(path, { kind: "dir", name: path, mode: i === parts.length ? mode : 0o755 });
    }
  }

  file(name: string, data: Buffer, mode = 0o644): void {
    this.dir(dirname(name));
    this.entries.set(name, { kind: "file", name, data, mode });
  }

  symlink(name: string, target: string): void {
    this.dir(dirname(name));
    this.entries.set(name, { kind: "symlink", name, target });
  }

  /** A host file at the same path, symlinks kept as symlinks (and their targets added). */
  hostFile(path: string): void {
    const name = path.replace(/^\//, "");
    if (this.entries.has(name)) return;
    const st = lstatSync(path);
    if (st.isSymbolicLink()) {
      const target = readlinkSync(path);
      this.symlink(name, target);
      this.hostFile(target.startsWith("/") ? target : join(dirname(path), target));
    } else {
      this.file(name, readFileSync(path), st.mode & 0o7777);
    }
  }

  /** A host tree copied under `to`, whole (npm's .package-lock.json too: the Dockerfile's COPY keeps it). */
  tree(from: string, to: string): void {
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, e.name);
        const rel = relative(from, path);
        const name = join(to, rel);
        if (e.isSymbolicLink()) this.symlink(name, readlinkSync(path));
        else if (e.isDirectory()) {
          this.dir(name);
          walk(path);
        } else this.file(name, readFileSync(path), statSync(path).mode & 0o7777);
      }
    };
    this.dir(to);
    walk(from);
  }

  /** A program and every shared library it loads, as `ldd` resolves them on this machine. */
  program(path: string): void {
    this.hostFile(path);
    this.libraries(path);
  }

  /** Only the shared libraries a program loads: for one that goes elsewhere in the image. */
  libraries(path: string): void {
    const ldd = spawnSync("ldd", [realpathSync(path)], { encoding: "utf8" });
    if (ldd.status !== 0) return; // statically linked
    for (const m of ldd.stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) this.hostFile(m[1] as string);
  }
}

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0)
    throw new ClusterSetupError(
      `${cmd} ${args.join(" ")} failed: ${(r.stderr || r.stdout || "").trim().slice(-2000)}`,
    );
  return r.stdout;
}

export interface ImageBuild {
  ref: string;
  path: string;
  bytes: number;
  files: number;
  seconds: number;
}

/** Builds the image from the checkout at `repo` into `out` (a docker-archive tarball). */
export async function buildKubegateImage(
  repo: string,
  out: string,
  log: (line: string) => void = () => undefined,
): Promise<ImageBuild> {
  const started = Date.now();
  const node = imageNode(repo).binary;
  const stage = await mkdtemp(join(tmpdir(), "kubegate-image-"));
  const app = KUBEGATE_IMAGE_CONFIG.workingDir.replace(/^\//, "");
  try {
    const built: Record<(typeof APP_BUILT)[number], () => Promise<string>> = {
      dist: async () => {
        log(`compiling (tsc -p ${BUILD_TSCONFIG})`);
        const dist = join(stage, "dist");
        run(join(repo, "node_modules", ".bin", "tsc"), ["-p", BUILD_TSCONFIG, "--outDir", dist], repo);
        return dist;
      },
      // The production dependencies installed afresh from the lock file, as the Dockerfile's npm ci and
      // prune do: not the checkout's node_modules, which may hold local edits or stray files.
      node_modules: async () => {
        log("installing the production node_modules (npm ci --omit=dev)");
        const install = join(stage, "install");
        await mkdir(install);
        for (const f of ["package.json", "package-lock.json"])
          await copyFile(join(repo, f), join(install, f));
        run(
          "npm",
          ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"],
          install,
        );
        return join(install, "node_modules");
      },
    };
    const layer = new Layer();
    layer.dir("tmp", 0o1777);
    layer.file(
      "etc/passwd",
      Buffer.from(
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
      ),
    );
    layer.file("etc/group", Buffer.from("root:x:0:\nnonroot:x:65532:\n"));
    layer.dir("home/nonroot");
    // Node 24: the same binary the npm scripts run on, and nothing of the checkout's path around it.
    layer.file("usr/local/bin/node", readFileSync(node), 0o755);
    layer.libraries(node);
    // ip and iptables for the node agent, with iptables' extensions.
    layer.program("/usr/sbin/ip");
    for (const name of [
      "iptables",
      "iptables-save",
      "iptables-restore",
      "ip6tables",
      "ip6tables-save",
      "ip6tables-restore",
    ])
      if (existsSync(`/usr/sbin/${name}`)) layer.hostFile(`/usr/sbin/${name}`);
    layer.program(realpathSync("/usr/sbin/iptables"));
    const xtables = "/usr/lib/x86_64-linux-gnu/xtables";
    if (existsSync(xtables)) for (const so of readdirSync(xtables)) layer.program(join(xtables, so));

    for (const name of APP_BUILT) layer.tree(await built[name](), join(app, name));
    for (const file of run("git", ["ls-files", "-z", "--", ...APP_FROM_CHECKOUT], repo)
      .split("\0")
      .filter(Boolean)) {
      const st = statSync(join(repo, file));
      layer.file(join(app, file), readFileSync(join(repo, file)), st.mode & 0o7777);
    }

    const entries = [...layer.entries.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    log(`writing ${entries.length} files to ${out}`);
    const archive = dockerArchive(entries, {
      ...KUBEGATE_IMAGE_CONFIG,
      ref: kubegateImageRef(repo),
    });
    await writeFile(out, archive);
    return {
      ref: kubegateImageRef(repo),
      path: out,
      bytes: archive.length,
      files: entries.length,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
