// Workload 6 (issue #18): what a tunnel costs through the gateway, on the real node. kubectl drives both
// paths the same way (its startup and framing are in both columns), so the difference is the gateway:
//   - exec round trip: one line written to `kubectl exec -i POD -- cat` until it comes back, over an
//     established tunnel, 1 connection, WebSocket and SPDY;
//   - exec as a user runs it: a whole `kubectl exec POD -- true` (process start, handshake, exit);
//   - port-forward throughput: bytes sent through `kubectl port-forward` to an echo server in the pod
//     (busybox nc running cat), counted as they come back, WebSocket and SPDY.
// The direct user and the gateway's user are in the same one group, so RBAC costs the same.
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { readNodeInfo } from "../../src/devcluster/node.ts";
import { kubectl, ok, run } from "../../test/e2e/run.ts";
import { makeUserKubeconfig } from "../../test/e2e/users.ts";
import { kubectlProcess } from "../../test/support/kubectl-process.ts";
import { startBenchGateway } from "../gateway.ts";
import { type Row, ratioOf, type WorkloadResult } from "../result.ts";
import { READERS_GROUP } from "../setup.ts";
import { round, summarize } from "../stats.ts";
import type { WorkloadContext } from "./context.ts";

const NS = "bench-tunnels";
const OBJECTS = `
apiVersion: v1
kind: Namespace
metadata: { name: ${NS} }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: tunnels, namespace: ${NS} }
rules:
- { apiGroups: [""], resources: [pods], verbs: [get, list] }
- { apiGroups: [""], resources: [pods/exec, pods/portforward], verbs: [get, create] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: tunnels, namespace: ${NS} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: tunnels }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: Group, name: ${READERS_GROUP} }]
`;
const POD = `
apiVersion: v1
kind: Pod
metadata: { name: echo, namespace: ${NS} }
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
    imagePullPolicy: Never
    command: ["sh", "-c", "nc -ll -p 9000 -e cat & exec sleep 100000"]
`;

const PROTOCOLS = {
  websocket: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: "true", KUBECTL_PORT_FORWARD_WEBSOCKETS: "true" },
  spdy: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: "false", KUBECTL_PORT_FORWARD_WEBSOCKETS: "false" },
} as const;
type Protocol = keyof typeof PROTOCOLS;

/** A long-running kubectl in the workload's namespace, over one protocol. */
const kubectlIn = (kubeconfig: string, protocol: Protocol, args: string[]) =>
  kubectlProcess(["--kubeconfig", kubeconfig, "-n", NS, ...args], {
    env: { ...process.env, ...PROTOCOLS[protocol] },
    stdin: true,
  });

/** Round trips of one short line through `kubectl exec -i -- cat`, in ms. */
async function execRoundTrips(kubeconfig: string, protocol: Protocol, rounds: number): Promise<number[]> {
  const p = kubectlIn(kubeconfig, protocol, ["exec", "-i", "echo", "--", "cat"]);
  try {
    const samples: number[] = [];
    for (let i = -20; i < rounds; i++) {
      const line = `line-${i}\n`;
      const started = performance.now();
      p.write(line);
      await p.take(new RegExp(`${line}`));
      if (i >= 0) samples.push(performance.now() - started);
    }
    return samples;
  } finally {
    p.stop();
  }
}

/** Wall time of whole `kubectl exec POD -- true` runs, in ms. */
async function execRuns(kubeconfig: string, protocol: Protocol, runs: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = -2; i < runs; i++) {
    const started = performance.now();
    await ok(
      run("kubectl", ["--kubeconfig", kubeconfig, "-n", NS, "exec", "echo", "--", "true"], {
        env: { ...process.env, ...PROTOCOLS[protocol] },
      }),
    );
    if (i >= 0) samples.push(performance.now() - started);
  }
  return samples;
}

/** MB/s of `megabytes` sent through a port-forward and read back from the pod's echo server. */
async function forwardThroughput(kubeconfig: string, protocol: Protocol, megabytes: number): Promise<number> {
  const p = kubectlIn(kubeconfig, protocol, ["port-forward", "pod/echo", ":9000"]);
  try {
    const port = Number((await p.take(/Forwarding from 127\.0\.0\.1:(\d+)/))[1]);
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const chunk = randomBytes(256 * 1024);
    const total = megabytes * 1024 * 1024;
    let received = 0;
    const started = performance.now();
    const done = new Promise<void>((resolve, reject) => {
      socket.on("data", (d: Buffer) => {
        received += d.length;
        if (received >= total) resolve();
      });
      socket.once("close", () => reject(new Error(`closed after ${received} of ${total} bytes`)));
    });
    for (let sent = 0; sent < total; sent += chunk.length)
      if (!socket.write(chunk)) await new Promise((r) => socket.once("drain", r));
    await done;
    const seconds = (performance.now() - started) / 1000;
    socket.destroy();
    return total / (1024 * 1024) / seconds;
  } finally {
    p.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export async function tunnels(ctx: WorkloadContext): Promise<WorkloadResult> {
  const { env } = ctx;
  if (!(await readNodeInfo(env.cluster.dir)))
    return {
      rows: [],
      details: {},
      notes: [
        "6. tunnels: skipped, the cluster has no node (`npm run cluster -- up --node`, or no --cluster-dir)",
      ],
    };
  const admin = (...args: string[]) => kubectl(env.cluster.adminKubeconfig, ...args);
  await ok(
    run("kubectl", ["--kubeconfig", env.cluster.adminKubeconfig, "apply", "-f", "-"], { input: OBJECTS }),
  );
  // The controller manager makes the namespace's default service account; the pod needs it.
  for (let i = 0; i < 100 && (await admin("get", "serviceaccount", "default", "-n", NS)).code !== 0; i++)
    await new Promise((r) => setTimeout(r, 100));
  await ok(run("kubectl", ["--kubeconfig", env.cluster.adminKubeconfig, "apply", "-f", "-"], { input: POD }));
  await ok(admin("wait", "-n", NS, "--for=condition=Ready", "pod/echo", "--timeout=120s"));
  const gw = await startBenchGateway(env, { tenancy: false });
  const dir = env.gateway.dir;
  const kubeconfigs = {
    direct: await makeUserKubeconfig({
      dir,
      name: "bench-tunnels-direct",
      groups: [READERS_GROUP],
      signer: env.cluster.ca,
      server: env.cluster.server,
      serverCa: env.cluster.ca.cert,
    }),
    gateway: await makeUserKubeconfig({
      dir,
      name: "bench-tunnels-gateway",
      groups: [READERS_GROUP],
      signer: env.gateway.usersCa,
      server: gw.url,
      serverCa: env.gateway.servingCa.cert,
    }),
  };
  const rounds = Math.max(200, ctx.options.duration * 50);
  const results: Record<
    string,
    { roundTripMs: ReturnType<typeof summarize>; execMs: ReturnType<typeof summarize>; forwardMBps: number }
  > = {};
  try {
    for (const protocol of Object.keys(PROTOCOLS) as Protocol[]) {
      for (const path of ["direct", "gateway"] as const) {
        ctx.log(`  ${path} ${protocol}: ${rounds} exec round trips, 10 execs, 3 × 64 MiB port-forwarded`);
        const roundTrips = await execRoundTrips(kubeconfigs[path], protocol, rounds);
        const execs = await execRuns(kubeconfigs[path], protocol, 10);
        const throughput: number[] = [];
        for (let i = 0; i < 3; i++) throughput.push(await forwardThroughput(kubeconfigs[path], protocol, 64));
        results[`${path}-${protocol}`] = {
          roundTripMs: summarize(roundTrips),
          execMs: summarize(execs),
          forwardMBps: round(median(throughput), 1),
        };
      }
    }
  } finally {
    await gw.stop();
    await admin("delete", "namespace", NS, "--wait=false");
  }
  type Result = (typeof results)[string];
  const row = (
    protocol: Protocol,
    metric: string,
    unit: string,
    pick: (r: Result) => number,
    ratioKind: "added-ms" | "ratio",
  ): Row => {
    const d = results[`direct-${protocol}`];
    const g = results[`gateway-${protocol}`];
    const direct = d && round(pick(d));
    const gateway = g && round(pick(g));
    const compared =
      ratioKind === "ratio"
        ? ratioOf(gateway, direct)
        : direct !== undefined && gateway !== undefined
          ? round(gateway - direct)
          : undefined;
    return {
      workload: `6. tunnels (${protocol})`,
      metric,
      unit,
      direct,
      gateway,
      ratio: compared,
      ratioKind,
      target: "report",
    };
  };
  const rows: Row[] = (Object.keys(PROTOCOLS) as Protocol[]).flatMap((p): Row[] => [
    row(p, "exec round trip p50 (one line through cat)", "ms", (r) => r.roundTripMs.p50, "added-ms"),
    row(p, "exec round trip p99", "ms", (r) => r.roundTripMs.p99, "added-ms"),
    row(p, "kubectl exec -- true, whole run p50", "ms", (r) => r.execMs.p50, "added-ms"),
    row(p, "port-forward throughput (64 MiB echoed, median of 3)", "MB/s", (r) => r.forwardMBps, "ratio"),
  ]);
  return { rows, details: { results, rounds }, notes: [] };
}
