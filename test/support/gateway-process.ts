import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const KUBEGATE_BIN = fileURLToPath(new URL("../../bin/kubegate.js", import.meta.url));

export interface GatewayProcess {
  url: string;
  metricsUrl?: string;
  process: ChildProcess;
  /** Everything the process wrote to stderr so far (its JSON log). */
  logs(): string;
  /** SIGTERM, then waits for the exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `kubegate gateway ...` as a user would and waits for its "listening" line. */
export function startGatewayProcess(args: readonly string[], timeoutMs = 20_000): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [KUBEGATE_BIN, "gateway", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`gateway did not start in time:\n${stderr}`));
    }, timeoutMs);
    const early = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before listening:\n${stderr}${stdout}`));
    };
    child.once("exit", early);
    child.stdout.on("data", (d) => {
      stdout += d;
      const m = /listening on (\S+)(?: metrics (\S+))?/.exec(stdout);
      if (!m) return;
      clearTimeout(timer);
      child.off("exit", early);
      resolve({
        url: m[1] as string,
        ...(m[2] ? { metricsUrl: m[2] } : {}),
        process: child,
        logs: () => stderr,
        stop: async (signal = "SIGTERM") => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    });
  });
}
