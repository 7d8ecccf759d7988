import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { dockerArchive, tarball } from "./image.ts";

const tarAvailable = spawnSync("tar", ["--version"]).status === 0;

describe("test node images", () => {
  it("writes a tar that GNU tar reads: directories, modes, files and symlinks, owned by root", {
    skip: !tarAvailable && "no tar here",
  }, () => {
    const dir = mkdtempSync(join(tmpdir(), "kubegate-image-"));
    const file = join(dir, "t.tar");
    writeFileSync(
      file,
      tarball([
        { kind: "dir", name: "bin" },
        { kind: "dir", name: "tmp", mode: 0o1777 },
        { kind: "file", name: "bin/tool", data: Buffer.from("#!/bin/sh\necho hi\n"), mode: 0o755 },
        { kind: "symlink", name: "bin/sh", target: "/bin/tool" },
        { kind: "file", name: `${"deep/".repeat(30)}file.txt`, data: Buffer.from("deep") },
      ]),
    );
    const listed = spawnSync("tar", ["-tvf", file, "--numeric-owner"], { encoding: "utf8" });
    assert.equal(listed.status, 0, listed.stderr);
    const lines = listed.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^drwxr-xr-x 0\/0 +0 .* bin\/$/);
    assert.match(lines[1] ?? "", /^drwxrwxrwt 0\/0 .* tmp\/$/);
    assert.match(lines[2] ?? "", /^-rwxr-xr-x 0\/0 +18 .* bin\/tool$/);
    assert.match(lines[3] ?? "", /^lrwxrwxrwx 0\/0 .* bin\/sh -> \/bin\/tool$/);
    const extracted = spawnSync("tar", ["-xOf", file, "bin/tool"], { encoding: "utf8" });
    assert.equal(extracted.stdout, "#!/bin/sh\necho hi\n");
    // A path over ustar's 100-byte name field goes through the prefix field.
    assert.equal(lines[4]?.split(" ").pop(), `${"deep/".repeat(30)}file.txt`);
    assert.equal(
      spawnSync("tar", ["-xOf", file, `${"deep/".repeat(30)}file.txt`], { encoding: "utf8" }).stdout,
      "deep",
    );
  });

  it("a docker-archive names its config by digest and its layer by the diff id in the config", () => {
    const a = dockerArchive([{ kind: "file", name: "x", data: Buffer.from("x") }], {
      ref: "example/x:1",
      cmd: ["x"],
    });
    assert.equal(a.length % 512, 0);
    assert.deepEqual(
      dockerArchive([{ kind: "file", name: "x", data: Buffer.from("x") }], {
        ref: "example/x:1",
        cmd: ["x"],
      }),
      a,
      "reproducible",
    );
    if (!tarAvailable) return;
    const dir = mkdtempSync(join(tmpdir(), "kubegate-image-"));
    writeFileSync(join(dir, "a.tar"), a);
    const manifest = JSON.parse(
      spawnSync("tar", ["-xOf", join(dir, "a.tar"), "manifest.json"], { encoding: "utf8" }).stdout,
    ) as { Config: string; RepoTags: string[]; Layers: string[] }[];
    assert.deepEqual(manifest[0]?.RepoTags, ["example/x:1"]);
    spawnSync("tar", ["-xf", join(dir, "a.tar"), "-C", dir]);
    const config = JSON.parse(readFileSync(join(dir, manifest[0]?.Config ?? ""), "utf8")) as {
      rootfs: { diff_ids: string[] };
    };
    const layer = readFileSync(join(dir, "layer.tar"));
    assert.equal(config.rootfs.diff_ids[0], `sha256:${createHash("sha256").update(layer).digest("hex")}`);
  });
});
