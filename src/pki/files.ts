import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { KubegateError } from "../status/errors.ts";

export interface OutputFile {
  path: string;
  content: string;
  /** Secret material: written 0600 and never overwritten without force. */
  secret: boolean;
}

/**
 * Writes a set of files all or nothing: every target is checked before the first byte is written, and
 * each file lands by rename so a reader never sees half of it.
 */
export async function writeOutputs(
  files: readonly OutputFile[],
  options: { force?: boolean } = {},
): Promise<void> {
  if (!options.force) {
    const existing = files.filter((f) => f.secret && existsSync(f.path)).map((f) => f.path);
    if (existing.length > 0) {
      throw new KubegateError(
        `refusing to overwrite existing ${existing.join(", ")} (use --force to replace it)`,
      );
    }
  }
  const paths = files.map((f) => f.path);
  if (new Set(paths).size !== paths.length) throw new KubegateError("two outputs name the same file");
  for (const file of files) {
    await mkdir(dirname(file.path), { recursive: true });
    const tmp = `${file.path}.${randomBytes(4).toString("hex")}.tmp`;
    const mode = file.secret ? 0o600 : 0o644;
    try {
      await writeFile(tmp, file.content, { mode, flag: "wx" });
      // The umask may have narrowed or the file may exist from before: set the mode explicitly.
      await chmod(tmp, mode);
      await rename(tmp, file.path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new KubegateError(`cannot write ${file.path}: ${(err as Error).message}`, { cause: err });
    }
  }
}

export async function readInput(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new KubegateError(`cannot read ${what} ${path}: ${why}`, { cause: err });
  }
}
