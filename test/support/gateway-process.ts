import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const KUBEGATE_BIN = fileURLToPath(new URL("../../bin/kubegate.js", import.meta.url));

export interface StartOptions {
  /** How long to wait for the "listening on" line (default 20 s). */
  timeoutMs?: number;
  /** Flags for node itself (--inspect, --cpu-prof, ...). */
  nodeArgs?: readonly string[];
  /** Another kubegate entry point (the benchmark runs a compiled build); default bin/kubegate.js. */
  bin?: string;
}

export interface KubegateProcess {
  url: string;
  metricsUrl?: string;
  process: ChildProcess;
  /** Everything the process wrote to stderr so far (its JSON log). */
  logs(): string;
  /** SIGTERM (or the given signal), then waits for the exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `kubegate <command> ...` as a user would and waits for its "listening on URL" line
 * (servers print it once bound, so port 0 works).
 */
export function startKubegate(
  command: string,
  args: readonly string[],
  { timeoutMs = 60_000, nodeArgs = [], bin = KUBEGATE_BIN }: StartOptions = {},
): Promise<KubegateProcess> {
  const child = spawn(process.execPath, [...nodeArgs, bin, command, ...args], {
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
      reject(new Error(`kubegate ${command} did not start in time:\n${stderr}`));
    }, timeoutMs);
    const early = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`kubegate ${command} exited with ${code} before listening:\n${stderr}${stdout}`));
    };
    child.once("exit", early);
    child.stdout.on("data", (d) => {
      stdout += d;
      const m = /listening on (https?:\/\/[^/\s]+)\S*(?: metrics (\S+))?/.exec(stdout);
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

export type GatewayProcess = KubegateProcess;

export const startGatewayProcess = (args: readonly string[], options?: StartOptions) =>
  startKubegate("gateway", args, options);
