// kubegate's image as `npm run image` builds it, unpacked and read as a container runtime would: no
// cluster, only a temporary directory. The programs in it are started through the image's own dynamic
// loader, with its library directories in place of this machine's, so that a library the image lacks
// shows up as one found outside it instead of being borrowed from the host.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { dockerfileImage } from "../../src/devcluster/dockerfile.ts";
import { buildKubegateImage, kubegateImageRef } from "../../src/devcluster/kubegate-image.ts";
import { missingCommands } from "../support/system-packages.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const PACKAGE = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const LOCK = JSON.parse(readFileSync(join(REPO, "package-lock.json"), "utf8")) as {
  packages: Record<string, { dev?: boolean }>;
};
// The image is amd64 (src/devcluster/image.ts): its loader, and the directories that loader searches
// when the image has no ld.so.cache, which it has not.
const LOADER = "/lib64/ld-linux-x86-64.so.2";
const LIBRARY_DIRS = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"];

const missing = missingCommands(["tar", "git", "npm", "ldd", "ip", "iptables"]);
const skip =
  process.arch !== "x64"
    ? `the image is amd64 and this machine is ${process.arch}`
    : missing.length > 0 && `needs ${missing.join(", ")} to build and read the image`;

interface Config {
  config: { Env: string[]; Entrypoint: string[]; Cmd: string[]; User: string; WorkingDir: string };
}

describe("kubegate's image, as npm run image builds it", {
  skip,
}, () => {
  let dir: string;
  let root: string;
  let tags: string[];
  let config: Config["config"];
  let seconds: number;

  /** A path in the image as this machine can open it: symlinks followed inside the image, not out of it. */
  const inImage = (path: string, hops = 0): string => {
    assert.ok(hops < 40, `symlink loop at ${path}`);
    const parts = path.split("/").filter(Boolean);
    let at = "/";
    for (const [i, part] of parts.entries()) {
      const next = posix.join(at, part);
      const st = lstatSync(join(root, next), { throwIfNoEntry: false });
      assert.ok(st, `${next} is not in the image`);
      if (st.isSymbolicLink()) {
        const target = readlinkSync(join(root, next));
        const followed = posix.join(
          target.startsWith("/") ? target : posix.join(at, target),
          ...parts.slice(i + 1),
        );
        return inImage(followed, hops + 1);
      }
      at = next;
    }
    return join(root, at);
  };

  /** The image's loader on the image's libraries only. */
  const loader = (args: string[], env: Record<string, string> = {}) => {
    const dirs = LIBRARY_DIRS.filter((d) => existsSync(join(root, d))).map((d) => inImage(d));
    return spawnSync(inImage(LOADER), ["--inhibit-cache", "--library-path", dirs.join(":"), ...args], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", ...env },
    });
  };
  // --argv0: iptables is one binary that acts on the name it was started by.
  const runInImage = (program: string, args: string[], env: Record<string, string> = {}) =>
    loader(["--argv0", posix.basename(program), inImage(program), ...args], env);

  /** Every library the program loads, and where the image's loader found it. */
  const assertLibrariesInImage = (program: string) => {
    const listed = loader(["--list", inImage(program)]);
    assert.equal(listed.status, 0, `${program}: ${listed.stderr}`);
    assert.doesNotMatch(listed.stdout, /not found/, `${program} lacks a library:\n${listed.stdout}`);
    const found = [...listed.stdout.matchAll(/=>\s*(\S+)\s+\(0x/g)].map((m) => m[1] as string);
    assert.ok(
      found.some((p) => p.endsWith("/libc.so.6")),
      `${program}: no libc in\n${listed.stdout}`,
    );
    for (const path of found)
      assert.ok(path.startsWith(`${root}/`), `${program} loads ${path}, outside the image`);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kubegate-image-contents-"));
    const built = await buildKubegateImage(REPO, join(dir, "kubegate.tar"));
    seconds = built.seconds;
    const archive = join(dir, "archive");
    root = join(dir, "root");
    await mkdir(archive);
    await mkdir(root);
    const tar = (args: string[]) => {
      const r = spawnSync("tar", args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
      assert.equal(r.status, 0, `tar ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };
    tar(["-xf", built.path, "-C", archive]);
    const [manifest] = JSON.parse(readFileSync(join(archive, "manifest.json"), "utf8")) as {
      Config: string;
      RepoTags: string[];
      Layers: string[];
    }[];
    assert.ok(manifest, "manifest.json names no image");
    tags = manifest.RepoTags;
    config = (JSON.parse(readFileSync(join(archive, manifest.Config), "utf8")) as Config).config;
    for (const layer of manifest.Layers) tar(["-xf", join(archive, layer), "-C", root, "--no-same-owner"]);
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("is tagged as the manifests name it and runs as the Dockerfile says, as 65532:65532", () => {
    process.stderr.write(`# image-contents: built in ${seconds.toFixed(1)} s\n`);
    const dockerfile = dockerfileImage(readFileSync(join(REPO, "Dockerfile"), "utf8"));
    assert.deepEqual(tags, [kubegateImageRef(REPO)]);
    assert.equal(config.User, "65532:65532");
    assert.deepEqual(config.Entrypoint, dockerfile.entrypoint);
    assert.deepEqual(config.Cmd, dockerfile.cmd);
    assert.equal(config.WorkingDir, dockerfile.workingDir);
    for (const e of dockerfile.env) assert.ok(config.Env.includes(e), `${e} in ${config.Env.join(" ")}`);
    const passwd = readFileSync(inImage("/etc/passwd"), "utf8");
    assert.match(passwd, /^\w+:x:65532:65532:[^:]*:\/home\/nonroot:/m);
    assert.ok(lstatSync(inImage("/home/nonroot")).isDirectory());
  });

  it("holds Node of the major package.json's engines ask for, with its libraries", () => {
    const node = config.Entrypoint[0] as string;
    assert.ok(lstatSync(inImage(node)).isFile(), `${node} is a file`);
    const version = runInImage(node, ["--version"]);
    assert.equal(version.status, 0, version.stderr);
    const major = /^>=\s*(\d+)/.exec(PACKAGE.engines.node)?.[1];
    assert.ok(major, `engines.node ${PACKAGE.engines.node} names a major`);
    assert.match(version.stdout.trim(), new RegExp(`^v${major}\\.\\d+\\.\\d+$`));
    assertLibrariesInImage(node);
  });

  it("starts its entrypoint from the compiled dist, the gateway's command among the ones it lists", () => {
    const [node, ...args] = [...config.Entrypoint, ...config.Cmd];
    const script = args.findIndex((a) => a.startsWith("/"));
    assert.ok(script >= 0, `a script in ${args.join(" ")}`);
    for (const entry of ["cli/main.js", "cli/gateway.js", "gateway"])
      assert.ok(existsSync(inImage(posix.join(config.WorkingDir, "dist", entry))), `dist/${entry}`);
    // tsx is not in the image: had dist been missing, bin/kubegate.js would have failed to load it.
    args[script] = inImage(args[script] as string);
    const help = runInImage(node as string, args);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^\s+gateway\b/m);
    const gateway = runInImage(node as string, [args[script] as string, "gateway", "--help"]);
    assert.equal(gateway.status, 0, gateway.stderr);
  });

  it("ships no dev tooling: no src/dev or src/devcluster, no tests, no devDependencies", () => {
    const dist = inImage(posix.join(config.WorkingDir, "dist"));
    for (const tooling of ["dev", "devcluster"])
      assert.ok(!existsSync(join(dist, tooling)), `dist/${tooling}`);
    const tests = readdirSync(dist, { recursive: true, encoding: "utf8" }).filter((f) =>
      /\.test\.js$/.test(f),
    );
    assert.deepEqual(tests, []);
    const app = inImage(config.WorkingDir);
    const dev = Object.keys(PACKAGE.devDependencies);
    assert.ok(
      ["tsx", "typescript", "@biomejs/biome"].every((d) => dev.includes(d)),
      "the examples are devDependencies",
    );
    for (const name of dev) assert.ok(!existsSync(join(app, "node_modules", name)), `devDependency ${name}`);
    // Their own dependencies too, wherever npm would have put them.
    const devOnly = Object.entries(LOCK.packages).filter(([path, p]) => path && p.dev);
    assert.ok(devOnly.length > dev.length);
    for (const [path] of devOnly) assert.ok(!existsSync(join(app, path)), `${path} is a dev-only package`);
    for (const name of Object.keys(PACKAGE.dependencies))
      assert.ok(existsSync(join(app, "node_modules", name, "package.json")), `dependency ${name}`);
    // Nothing of the checkout the image was built from, by its path on this machine.
    assert.ok(!existsSync(join(root, REPO)), `${REPO} in the image`);
  });

  it("holds ip and iptables with the libraries they load, and the extensions the node agent's rules use", () => {
    for (const program of ["/usr/sbin/ip", "/usr/sbin/iptables", "/usr/sbin/ip6tables"]) {
      assert.ok(lstatSync(inImage(program)).isFile(), program);
      assertLibrariesInImage(program);
    }
    const ip = runInImage("/usr/sbin/ip", ["-V"]);
    assert.equal(ip.status, 0, ip.stderr);
    assert.match(ip.stdout, /iproute2/);
    // The extensions are loaded at run time from XTABLES_LIBDIR: the image's, and the match and target
    // the node agent's rules use (src/node/iptables.ts).
    const xtables = "/usr/lib/x86_64-linux-gnu/xtables";
    const help = runInImage("/usr/sbin/iptables", ["-p", "tcp", "-m", "tcp", "-j", "NOTRACK", "-h"], {
      XTABLES_LIBDIR: inImage(xtables),
    });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /tcp match options/);
    for (const so of readdirSync(inImage(xtables))) assertLibrariesInImage(posix.join(xtables, so));
  });
});
