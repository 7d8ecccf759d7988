// Container images for the test node, built here: no registry is reachable. Each is a docker-archive
// (the `docker save` layout: manifest.json, a config, one layer tarball) that `ctr images import`
// takes. The layer is written with a small ustar writer, so no docker, no tar binary, reproducible bytes.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { ClusterSetupError } from "./build.ts";

export type Entry =
  | { kind: "dir"; name: string; mode?: number }
  | { kind: "file"; name: string; data: Buffer; mode?: number }
  | { kind: "symlink"; name: string; target: string };

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, "0")}\0`;
}

/** ustar's two name fields: up to 155 bytes of directories in `prefix`, the rest (≤ 100) in `name`. */
function splitName(path: string): { prefix: string; name: string } {
  if (Buffer.byteLength(path) <= 100) return { prefix: "", name: path };
  for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name) return { prefix, name };
  }
  throw new ClusterSetupError(`image path too long for ustar: ${path}`);
}

/** One 512-byte ustar header. */
function header(e: Entry, size: number): Buffer {
  const h = Buffer.alloc(512);
  const { prefix, name } = splitName(e.kind === "dir" ? `${e.name}/` : e.name);
  h.write(name, 0, 100, "utf8");
  if (prefix) h.write(prefix, 345, 155, "utf8");
  const mode = e.kind === "symlink" ? 0o777 : (e.mode ?? (e.kind === "dir" ? 0o755 : 0o644));
  h.write(octal(mode, 8), 100);
  h.write(octal(0, 8), 108); // uid root
  h.write(octal(0, 8), 116); // gid root
  h.write(octal(size, 12), 124);
  h.write(octal(0, 12), 136); // mtime: 0, for reproducible layers
  h.write("        ", 148); // checksum field counts as spaces while summing
  h.write(e.kind === "dir" ? "5" : e.kind === "symlink" ? "2" : "0", 156);
  if (e.kind === "symlink") {
    if (Buffer.byteLength(e.target) > 100)
      throw new ClusterSetupError(`symlink target too long: ${e.target}`);
    h.write(e.target, 157, 100, "utf8");
  }
  h.write("ustar\0", 257);
  h.write("00", 263);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(octal(sum, 7), 148);
  return h;
}

export function tarball(entries: readonly Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.kind === "file" ? e.data : Buffer.alloc(0);
    parts.push(header(e, data.length), data);
    if (data.length % 512) parts.push(Buffer.alloc(512 - (data.length % 512)));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

export interface ImageConfig {
  ref: string;
  entrypoint?: string[];
  cmd?: string[];
  user?: string;
  env?: string[];
  workingDir?: string;
}

/** A one-layer docker-archive of the given files. */
export function dockerArchive(layerEntries: readonly Entry[], c: ImageConfig): Buffer {
  const layer = tarball(layerEntries);
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      created: "1970-01-01T00:00:00Z",
      config: {
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...(c.env ?? [])],
        WorkingDir: c.workingDir ?? "/",
        ...(c.entrypoint ? { Entrypoint: c.entrypoint } : {}),
        ...(c.cmd ? { Cmd: c.cmd } : {}),
        ...(c.user ? { User: c.user } : {}),
      },
      rootfs: { type: "layers", diff_ids: [`sha256:${sha256(layer)}`] },
    }),
  );
  const configName = `${sha256(config)}.json`;
  const manifest = Buffer.from(
    JSON.stringify([{ Config: configName, RepoTags: [c.ref], Layers: ["layer.tar"] }]),
  );
  return tarball([
    { kind: "file", name: "manifest.json", data: manifest },
    { kind: "file", name: configName, data: config },
    { kind: "file", name: "layer.tar", data: layer },
  ]);
}

export const BUSYBOX_IMAGE = "docker.io/library/busybox:1.35";
export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10";

const DIRS = [
  "bin",
  "sbin",
  "usr",
  "usr/bin",
  "usr/sbin",
  "etc",
  "root",
  "home",
  "var",
  "dev",
  "proc",
  "sys",
];

/** busybox-static with a link per applet: sh, cat, nc, httpd, sleep... for test pods. */
export async function writeBusyboxImage(path: string, busybox = "/bin/busybox"): Promise<void> {
  let binary: Buffer;
  try {
    binary = readFileSync(busybox);
  } catch {
    throw new ClusterSetupError(`${busybox} is missing: install Debian's busybox-static`);
  }
  const list = spawnSync(busybox, ["--list-full"], { encoding: "utf8" });
  if (list.status !== 0) throw new ClusterSetupError(`${busybox} --list-full failed: ${list.stderr}`);
  const applets = list.stdout.split("\n").filter((a) => a && a !== "bin/busybox");
  const entries: Entry[] = [
    ...DIRS.map((name): Entry => ({ kind: "dir", name })),
    { kind: "dir", name: "tmp", mode: 0o1777 },
    { kind: "file", name: "bin/busybox", data: binary, mode: 0o755 },
    ...applets.map((name): Entry => ({ kind: "symlink", name, target: "/bin/busybox" })),
    {
      kind: "file",
      name: "etc/passwd",
      data: Buffer.from("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"),
    },
    { kind: "file", name: "etc/group", data: Buffer.from("root:x:0:\nnobody:x:65534:\n") },
  ];
  await writeFile(path, dockerArchive(entries, { ref: BUSYBOX_IMAGE, cmd: ["sh"] }));
}

/** The sandbox image every pod starts with: only kubernetes' pause program. */
export async function writePauseImage(path: string, pause: string): Promise<void> {
  const entries: Entry[] = [{ kind: "file", name: "pause", data: readFileSync(pause), mode: 0o755 }];
  await writeFile(
    path,
    dockerArchive(entries, { ref: PAUSE_IMAGE, entrypoint: ["/pause"], user: "65535:65535" }),
  );
}
