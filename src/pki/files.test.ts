import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readInput, writeOutputs } from "./files.ts";

describe("writeOutputs", () => {
  it("writes keys 0600 and certificates 0644", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kg-files-"));
    await writeOutputs([
      { path: join(dir, "sub", "a.crt"), content: "CERT", secret: false },
      { path: join(dir, "sub", "a.key"), content: "KEY", secret: true },
    ]);
    assert.equal(statSync(join(dir, "sub", "a.key")).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "sub", "a.crt")).mode & 0o777, 0o644);
    assert.equal(await readFile(join(dir, "sub", "a.key"), "utf8"), "KEY");
  });

  it("refuses to replace a key without force and then writes nothing at all", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kg-files-"));
    await writeFile(join(dir, "a.key"), "OLD");
    await assert.rejects(
      writeOutputs([
        { path: join(dir, "a.crt"), content: "NEW", secret: false },
        { path: join(dir, "a.key"), content: "NEW", secret: true },
      ]),
      /refusing to overwrite existing .*a\.key \(use --force/,
    );
    assert.equal(await readFile(join(dir, "a.key"), "utf8"), "OLD");
    assert.ok(!existsSync(join(dir, "a.crt")), "nothing half-written");
    await writeOutputs([{ path: join(dir, "a.key"), content: "NEW", secret: true }], { force: true });
    assert.equal(await readFile(join(dir, "a.key"), "utf8"), "NEW");
    assert.equal(statSync(join(dir, "a.key")).mode & 0o777, 0o600);
  });

  it("refuses two outputs with the same path", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kg-files-"));
    const path = join(dir, "x");
    await assert.rejects(
      writeOutputs([
        { path, content: "1", secret: false },
        { path, content: "2", secret: true },
      ]),
      /same file/,
    );
  });
});

describe("readInput", () => {
  it("names the missing file and what it was for", async () => {
    await assert.rejects(
      readInput("/nonexistent/ca.crt", "CA certificate"),
      /cannot read CA certificate \/nonexistent\/ca\.crt: no such file/,
    );
  });
});
