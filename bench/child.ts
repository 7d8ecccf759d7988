// Load generators run in their own node process so that their CPU is not the orchestrator's and their
// event loop is not shared with anything being measured. Spec in on stdin, result out as the last
// stdout line, both JSON.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("..", import.meta.url));

export function runChild<T>(script: string, spec: unknown, timeoutMs: number): Promise<T> {
  const file = fileURLToPath(new URL(script, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", file], {
      cwd: REPO,
      stdio: ["pipe", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split("\n").at(-1) ?? "";
      if (code !== 0)
        return reject(new Error(`${script} exited with ${code ?? signal}: ${out.slice(-2000)}`));
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${script} printed no JSON result: ${out.slice(-2000)}`));
      }
    });
    child.stdin.end(JSON.stringify(spec));
  });
}

/** Reads the spec a parent wrote on stdin. */
export async function readSpec<T>(): Promise<T> {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text) as T;
}

/** Writes the result where runChild looks for it, then exits. */
export function printResult(result: unknown): never {
  process.stdout.write(`\n${JSON.stringify(result)}\n`);
  process.exit(0);
}
