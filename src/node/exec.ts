import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { join } from "node:path";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one program with an argument array (never through a shell) and reports how it ended. A non-zero
 * exit is a result, not an exception: callers decide what each exit code means (`iptables -C` answers 1
 * for "no such rule").
 */
export type Runner = (file: string, args: readonly string[]) => Promise<CommandResult>;

/**
 * Where a program is: as named when that is a path or it is on PATH, else in the sbin directories (a
 * non-login shell or a container may leave them off PATH while ip and iptables live there).
 */
export function resolveProgram(file: string, path = process.env.PATH ?? ""): string {
  if (file.includes("/")) return file;
  const dirs = [...path.split(":").filter((d) => d !== ""), ...SBIN];
  for (const dir of dirs) {
    const candidate = join(dir, file);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return file;
}
const SBIN = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** The real runner: execFile with a timeout, so a hung `ip` or a stuck xtables lock cannot stall a pass. */
export function execRunner(timeoutMs = 15_000): Runner {
  const resolved = new Map<string, string>();
  return (file, args) =>
    new Promise((resolve, reject) => {
      let program = resolved.get(file);
      if (program === undefined) {
        program = resolveProgram(file);
        resolved.set(file, program);
      }
      execFile(
        program,
        [...args],
        { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: "C" } },
        (err, stdout, stderr) => {
          if (err && typeof err.code !== "number") {
            // Not started (ENOENT, EACCES) or killed by the timeout: no exit code to hand back.
            const why =
              err.code === "ENOENT"
                ? `${file} is not installed (or not on PATH)`
                : err.killed
                  ? `${file} did not finish within ${timeoutMs} ms`
                  : err.message;
            reject(new CommandError(file, args, why));
            return;
          }
          resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
        },
      );
    });
}

/** A command that failed; the message names the command line and what it printed. */
export class CommandError extends Error {
  readonly code = "KUBEGATE_COMMAND_FAILED";
  constructor(
    readonly file: string,
    readonly args: readonly string[],
    readonly detail: string,
  ) {
    super(`${[file, ...args].join(" ")}: ${detail}`);
    this.name = "CommandError";
  }
}

/** Runs a command that must succeed; a non-zero exit becomes a CommandError carrying its stderr. */
export async function mustRun(runner: Runner, file: string, args: readonly string[]): Promise<string> {
  const r = await runner(file, args);
  if (r.code !== 0) {
    throw new CommandError(
      file,
      args,
      `exit ${r.code}: ${r.stderr.trim() || r.stdout.trim() || "no output"}`,
    );
  }
  return r.stdout;
}
