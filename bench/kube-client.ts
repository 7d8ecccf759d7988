// Raw HTTPS calls to kube-apiserver as the cluster admin, for setup: thousands of namespace creates
// go through one keep-alive agent instead of thousands of kubectl processes.
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import type { ClusterInfo } from "../src/devcluster/cluster.ts";

export interface KubeResponse {
  status: number;
  body: string;
}

export type KubeCall = (method: string, path: string, body?: unknown) => Promise<KubeResponse>;

export function adminClient(cluster: ClusterInfo, maxSockets = 32): { call: KubeCall; close: () => void } {
  const agent = new Agent({
    keepAlive: true,
    maxSockets,
    ca: readFileSync(cluster.ca.cert),
    cert: readFileSync(cluster.admin.cert),
    key: readFileSync(cluster.admin.key),
  });
  const base = new URL(cluster.server);
  const call: KubeCall = (method, path, body) =>
    new Promise((resolve, reject) => {
      const text = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          host: base.hostname,
          port: base.port,
          method,
          path,
          agent,
          headers: {
            accept: "application/json",
            ...(text === undefined
              ? {}
              : { "content-type": "application/json", "content-length": Buffer.byteLength(text) }),
          },
          timeout: 60_000,
        },
        (res) => {
          let data = "";
          res.setEncoding("utf8");
          res.on("data", (d) => {
            data += d;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on("error", reject);
      req.end(text);
    });
  return { call, close: () => agent.destroy() };
}

/** Runs `task` for 0..count-1 with at most `concurrency` in flight. */
export async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
