// Starts bench/floor-proxy.ts (the bare Node.js proxy of workload 1) as a process of its own.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { FloorSpec } from "./floor-proxy.ts";
import type { BenchEnv } from "./setup.ts";

const SCRIPT = fileURLToPath(new URL("./floor-proxy.ts", import.meta.url));
const REPO = fileURLToPath(new URL("..", import.meta.url));

export interface RunningFloor {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export function startFloorProxy(env: BenchEnv): Promise<RunningFloor> {
  const spec: FloorSpec = {
    upstream: env.cluster.server,
    upstreamTls: {
      cert: env.users.nginxUpstream.cert,
      key: env.users.nginxUpstream.key,
      ca: env.cluster.ca.cert,
    },
    serving: {
      cert: env.gateway.serving.cert,
      key: env.gateway.serving.key,
      clientCa: env.gateway.usersCa.cert,
    },
  };
  const child = spawn(process.execPath, ["--import", "tsx", SCRIPT], {
    cwd: REPO,
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin.end(JSON.stringify(spec));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the floor proxy did not start in time: ${err}`));
    }, 20_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the floor proxy exited with ${code}: ${err}`));
    });
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout.removeAllListeners("data");
      child.stdout.resume();
      resolve({
        url: m[1] as string,
        pid: child.pid as number,
        stop: async () => {
          if (child.exitCode === null) child.kill("SIGTERM");
          await exited;
        },
      });
    });
  });
}
