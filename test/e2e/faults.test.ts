// Faults under load (issue #10, part 3), on a private cluster of this file's own: kube-apiserver killed
// and restarted on the same port and PKI, a slow upstream, clients that vanish mid-stream, and the
// serving certificate rotated on disk while requests flow.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { Agent, createServer as createHttpsServer, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { TLSSocket } from "node:tls";
import {
  alive,
  clusterFile,
  down,
  httpsOk,
  readClusterInfo,
  startDetached,
  up,
} from "../../src/devcluster/cluster.ts";
import { createCA, createClientCert, createServerCert, loadCA } from "../../src/pki/certificates.ts";
import { renderKubeconfig } from "../../src/pki/kubeconfig.ts";
import { type GatewayProcess, startGatewayProcess } from "../support/gateway-process.ts";
import { rawRequest } from "../support/https-client.ts";
import { metricValue, scrape, tcpSockets } from "../support/process-probes.ts";
import { gatewayArgs, prepareGatewayEnv } from "./gateway-env.ts";
import { kubectl } from "./run.ts";

// A private cluster: this file kills its kube-apiserver, which must not disturb the shared one.
const clusterDir = await mkdtemp(join(tmpdir(), "kubegate-faults-"));
const cluster = await up({ dir: clusterDir, log: () => undefined });
after(async () => {
  await down(clusterDir);
  await rm(clusterDir, { recursive: true, force: true });
});
const pem = (p: string) => readFileSync(p, "utf8");
const env = await prepareGatewayEnv(cluster);
const admin = (...a: string[]) => kubectl(cluster.adminKubeconfig, ...a);
for (const args of [
  ["create", "namespace", "faults"],
  ["create", "configmap", "probe", "-n", "faults", "--from-literal=k=v"],
  // Not the "view" ClusterRole: it is aggregated, and the test cluster has no controller-manager to fill it.
  ["create", "role", "reader", "-n", "faults", "--verb=get,list,watch", "--resource=configmaps"],
  ["create", "rolebinding", "reader", "-n", "faults", "--role=reader", "--user=fault-user"],
]) {
  const r = await admin(...args);
  assert.equal(r.code, 0, r.stderr);
}
const user = await createClientCert(await loadCA(pem(env.usersCa.cert), pem(env.usersCa.key)), {
  cn: "fault-user",
});
const tls = { ca: pem(env.servingCa.cert), cert: user.certPem, key: user.keyPem };
const adminTls = { ca: pem(cluster.ca.cert), cert: pem(cluster.admin.cert), key: pem(cluster.admin.key) };
const PROBE = "/api/v1/namespaces/faults/configmaps/probe";
const WATCH = "/api/v1/namespaces/faults/configmaps?watch=1";

interface Outcome {
  start: number;
  end: number;
  status: number;
  body: string;
  error?: string;
  /** SHA-256 of the certificate the server presented on this request's connection. */
  fingerprint?: string;
}

/** One GET; never rejects: a transport error or a timeout (a hang) is recorded in the outcome. */
function get(
  base: string,
  path: string,
  o: { agent?: Agent | false; timeoutMs?: number; client?: typeof tls } = {},
): Promise<Outcome> {
  const url = new URL(path, base);
  const start = Date.now();
  return new Promise((resolve) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        ...(o.client ?? tls),
        agent: o.agent ?? false,
        timeout: o.timeoutMs ?? 10_000,
      },
      (res) => {
        const fingerprint = (res.socket as TLSSocket).getPeerX509Certificate?.()?.fingerprint256;
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () =>
          resolve({
            start,
            end: Date.now(),
            status: res.statusCode ?? 0,
            body,
            ...(fingerprint ? { fingerprint } : {}),
          }),
        );
        res.on("error", (err) =>
          resolve({ start, end: Date.now(), status: res.statusCode ?? 0, body, error: err.message }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out (hang)")));
    req.on("error", (err) => resolve({ start, end: Date.now(), status: 0, body: "", error: err.message }));
    req.end();
  });
}

/** WORKERS loops of requests, back to back with a short pause, until stopped. */
function steadyLoad(workers: number, one: () => Promise<Outcome>, pauseMs = 20) {
  let stopped = false;
  const outcomes: Outcome[] = [];
  const done = Promise.all(
    Array.from({ length: workers }, async () => {
      while (!stopped) {
        outcomes.push(await one());
        await sleep(pauseMs);
      }
    }),
  );
  return {
    outcomes,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

const isStatus503 = (o: Outcome) => {
  if (o.status !== 503) return false;
  try {
    const s = JSON.parse(o.body) as { kind?: string; code?: number };
    return s.kind === "Status" && s.code === 503;
  } catch {
    return false;
  }
};
const describeOutcome = (o: Outcome) =>
  `${o.status} ${o.error ?? ""} ${o.body.slice(0, 120)} (t=${o.start}..${o.end})`;

interface OpenStream {
  status: number;
  req: ReturnType<typeof request>;
  res: IncomingMessage;
  /** How and when the client saw the stream end: "end" (clean), "aborted"/"error" (cut). */
  ended: Promise<{ how: string; at: number }>;
}

/** Opens a GET (a watch) and resolves once the response headers are in. */
function openStream(base: string, path: string): Promise<OpenStream> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, ...tls, agent: false }, (res) => {
      let settle: (v: { how: string; at: number }) => void = () => undefined;
      const ended = new Promise<{ how: string; at: number }>((r) => {
        settle = r;
      });
      res.on("data", () => undefined);
      res.on("end", () => settle({ how: "end", at: Date.now() }));
      res.on("aborted", () => settle({ how: "aborted", at: Date.now() }));
      res.on("error", () => settle({ how: "error", at: Date.now() }));
      res.on("close", () => settle({ how: "close", at: Date.now() }));
      resolve({ status: res.statusCode ?? 0, req, res, ended });
    });
    req.on("error", reject);
    req.end();
  });
}

const gatewayAlive = (gw: GatewayProcess) => gw.process.exitCode === null && gw.process.signalCode === null;

describe("faults against the real cluster", () => {
  let gw: GatewayProcess;
  before(async () => {
    gw = await startGatewayProcess(gatewayArgs(env));
  });
  after(() => gw.stop());
  /** Upstream connections 5 s after each round of abandoned streams, and before any. */
  const afterAbandon: number[] = [];
  let leakBaseline = 0;

  it("leaves no upstream connection or in-flight request behind when clients vanish mid-stream", async () => {
    // A large list: 160 ConfigMaps of 100 KiB (~16 MiB, more than the socket buffers on both sides
    // hold), so that a client that stops reading leaves the gateway streaming half-way.
    const blob = "x".repeat(100 * 1024);
    const names = Array.from({ length: 160 }, (_, i) => `big-${i}`);
    for (let i = 0; i < names.length; i += 12) {
      const codes = await Promise.all(
        names.slice(i, i + 12).map((name) =>
          rawRequest(cluster.server, {
            method: "POST",
            path: "/api/v1/namespaces/faults/configmaps",
            headers: [["Content-Type", "application/json"]],
            body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { blob } }),
            ...adminTls,
          }).then((r) => r.status),
        ),
      );
      assert.deepEqual(new Set(codes), new Set([201]));
    }
    const pid = gw.process.pid as number;
    const port = cluster.ports.apiserver;
    const upstreamPorts = () =>
      new Set(
        tcpSockets(pid)
          .filter((c) => c.remotePort === port && c.state !== "LISTEN" && c.state !== "TIME_WAIT")
          .map((c) => c.localPort),
      );
    assert.equal((await get(gw.url, PROBE)).status, 200);
    await sleep(300);
    const baseline = upstreamPorts().size;
    const inflight = async () => {
      const text = await scrape(gw.metricsUrl as string);
      return {
        normal: metricValue(text, "kubegate_inflight_requests", { long_running: "false" }),
        long: metricValue(text, "kubegate_inflight_requests", { long_running: "true" }),
      };
    };
    assert.deepEqual(await inflight(), { normal: 0, long: 0 });

    const rounds: string[] = [];
    const STREAMS = 12;
    for (let round = 1; round <= 2; round++) {
      const before = upstreamPorts();
      const watches = await Promise.all(Array.from({ length: 8 }, () => openStream(gw.url, WATCH)));
      assert.ok(watches.every((w) => w.status === 200));
      // Lists the client leaves after the first chunk, while the gateway is still streaming them.
      const lists = await Promise.all(
        Array.from({ length: STREAMS - watches.length }, () => {
          const url = new URL("/api/v1/namespaces/faults/configmaps", gw.url);
          return new Promise<{ status: number; bytes: number; destroy: () => void }>((resolve, reject) => {
            const req = request(
              { host: url.hostname, port: url.port, path: url.pathname, ...tls, agent: false },
              (res) => {
                res.once("data", (d: Buffer) => {
                  res.pause();
                  resolve({ status: res.statusCode ?? 0, bytes: d.length, destroy: () => req.destroy() });
                });
              },
            );
            req.on("error", (err) => (err.message === "socket hang up" ? undefined : reject(err)));
            req.end();
          });
        }),
      );
      assert.ok(lists.every((l) => l.status === 200 && l.bytes < 16 * 1024 * 1024));
      const during = upstreamPorts();
      const inflightDuring = await inflight();
      assert.ok(
        during.size >= STREAMS,
        `each stream holds an upstream connection: ${during.size} open (baseline ${baseline})`,
      );
      assert.equal(inflightDuring.long, watches.length);
      assert.equal(inflightDuring.normal, lists.length, "the stalled lists are still in flight");

      for (const w of watches) w.req.destroy();
      for (const l of lists) l.destroy();
      const gone = Date.now();
      // One stream per connection (HTTP/1.1, no pipelining): of the connections open during the
      // streams, only the idle ones (during - STREAMS) may outlive them.
      const survivors = () => [...upstreamPorts()].filter((p) => during.has(p)).length;
      let counts = await inflight();
      while (
        (survivors() > during.size - STREAMS || counts.normal + counts.long > 0) &&
        Date.now() - gone < 5000
      ) {
        await sleep(100);
        counts = await inflight();
      }
      const settledMs = Date.now() - gone;
      await sleep(Math.max(0, 5000 - settledMs));
      const after5s = upstreamPorts();
      rounds.push(
        `round ${round}: upstream connections before ${before.size}, with ${STREAMS} client streams ${during.size}, ` +
          `streams' connections closed after ${settledMs} ms, 5 s after the clients left ${after5s.size} ` +
          `(${[...after5s].filter((p) => !during.has(p)).length} new); in flight during ${JSON.stringify(inflightDuring)}, ` +
          `after ${JSON.stringify(counts)}`,
      );
      assert.ok(
        survivors() <= during.size - STREAMS,
        `a connection that carried an abandoned stream is still open: ${survivors()} of ${during.size} remain`,
      );
      assert.deepEqual(counts, { normal: 0, long: 0 });
      afterAbandon.push(after5s.size);
    }
    console.log(`leaks: baseline ${baseline}; ${rounds.join("; ")}`);
    // Whatever the pools keep idle after the abandoned streams does not add up from round to round.
    assert.ok(
      (afterAbandon[1] as number) <= Math.max(baseline, afterAbandon[0] as number),
      `upstream connections accumulate: ${afterAbandon.join(" then ")} (baseline ${baseline})`,
    );
    leakBaseline = baseline;
    assert.ok(gatewayAlive(gw));
    assert.equal((await get(gw.url, PROBE)).status, 200);
  });

  // undici before 8.13 opened a new, never-used connection for each aborted stream (nodejs/undici#5845).
  it("returns to the baseline of upstream connections within 5 s of the clients leaving", () => {
    assert.ok(afterAbandon.length > 0, "the test above ran");
    assert.ok(
      (afterAbandon.at(-1) as number) <= leakBaseline,
      `${afterAbandon.at(-1)} upstream connections 5 s after the clients left, baseline ${leakBaseline}`,
    );
  });

  it("rotates the serving certificate under load without a failed request", async () => {
    // Its own copy of the serving files, so the rotation stays with this gateway.
    const dir = await mkdtemp(join(tmpdir(), "kubegate-faults-rot-"));
    const cert = join(dir, "gateway.crt");
    const key = join(dir, "gateway.key");
    await copyFile(env.serving.cert, cert);
    await copyFile(env.serving.key, key);
    const args = gatewayArgs(env).map((a) =>
      a === env.serving.cert ? cert : a === env.serving.key ? key : a,
    );
    const rot = await startGatewayProcess(args);
    try {
      const keepAlive = new Agent({ keepAlive: true, maxSockets: 2, ...tls });
      // New connections (a TLS handshake each, seeing whichever certificate is served) and reused ones.
      const fresh = steadyLoad(3, () => get(rot.url, PROBE, { agent: false }), 10);
      const reused = steadyLoad(2, () => get(rot.url, PROBE, { agent: keepAlive }), 10);
      await sleep(800);
      const signer = await loadCA(pem(env.servingCa.cert), pem(env.servingCa.key));
      const served = [new X509Certificate(pem(cert)).fingerprint256];
      const adoptedMs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const next = await createServerCert(signer, { cn: "localhost", ipAddresses: ["127.0.0.1"] });
        const fp = new X509Certificate(next.certPem).fingerprint256;
        // As the existing test does: key first, then certificate (a window where they do not match).
        const t = Date.now();
        await writeFile(key, next.keyPem);
        await writeFile(cert, next.certPem);
        served.push(fp);
        while (!fresh.outcomes.some((o) => o.start >= t && o.fingerprint === fp) && Date.now() - t < 5000) {
          await sleep(20);
        }
        const seen = fresh.outcomes.find((o) => o.start >= t && o.fingerprint === fp);
        assert.ok(seen, `rotation ${i + 1}: no new connection got the new certificate within 5 s`);
        adoptedMs.push(seen.end - t);
        await sleep(700);
      }
      await Promise.all([fresh.stop(), reused.stop()]);
      keepAlive.destroy();
      const all = [...fresh.outcomes, ...reused.outcomes];
      const failed = all.filter((o) => o.status !== 200 || o.error);
      console.log(
        `rotation: ${all.length} requests (${fresh.outcomes.length} on new connections), ${failed.length} failed, ` +
          `new certificate adopted after ${adoptedMs.join("/")} ms`,
      );
      assert.deepEqual(failed.map(describeOutcome), []);
      // Once a new certificate is served, no handshake that starts later goes back to an older one
      // (300 ms of slack for handshakes that were already under way).
      const handshakes = fresh.outcomes.filter((o) => o.fingerprint);
      const index = (o: Outcome) => served.indexOf(o.fingerprint as string);
      assert.ok(
        handshakes.every((o) => index(o) >= 0),
        "every handshake saw one of the certificates written",
      );
      const high = Math.max(...handshakes.map(index));
      for (let k = 1; k < served.length; k++) {
        const first = Math.min(...handshakes.filter((o) => index(o) === k).map((o) => o.start));
        const back = handshakes.filter((o) => index(o) < k && o.start > first + 300);
        assert.deepEqual(back.map(describeOutcome), [], `handshakes back to an older certificate than ${k}`);
      }
      assert.equal(high, served.length - 1);
      assert.ok(gatewayAlive(rot));
    } finally {
      await rot.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("answers 503 Status while kube-apiserver is SIGKILLed, ends watches, and recovers within 5 s of readiness", async () => {
    const watches = await Promise.all(Array.from({ length: 3 }, () => openStream(gw.url, WATCH)));
    assert.ok(watches.every((w) => w.status === 200));
    const agent = new Agent({ keepAlive: true, maxSockets: 4, ...tls });
    const load = steadyLoad(4, () => get(gw.url, PROBE, { agent, timeoutMs: 10_000 }), 25);
    await sleep(1000);

    const info = await readClusterInfo(clusterDir);
    const pid = info.pids.apiserver;
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    process.kill(pid, "SIGKILL");
    while (alive(pid)) await sleep(10);
    const tDead = Date.now();
    const ends = await Promise.all(
      watches.map((w) =>
        Promise.race([
          w.ended,
          sleep(10_000, undefined, { ref: false }).then(() => ({ how: "hang", at: Number.NaN })),
        ]),
      ),
    );
    await sleep(Math.max(0, 3000 - (Date.now() - tDead)));
    assert.ok(gatewayAlive(gw), "the gateway survives the apiserver's death");

    // Same binary, same flags: same port, same PKI, same etcd.
    const tRestart = Date.now();
    const newPid = startDetached(argv[0] as string, argv.slice(1), info.logs.apiserver);
    await writeFile(
      clusterFile(clusterDir),
      `${JSON.stringify({ ...info, pids: { ...info.pids, apiserver: newPid } }, null, 2)}\n`,
    );
    let tReady = 0;
    while (Date.now() - tRestart < 60_000) {
      assert.ok(alive(newPid), "restarted kube-apiserver exited");
      if (await httpsOk(`${cluster.server}/readyz`, adminTls.ca, adminTls.cert, adminTls.key)) {
        tReady = Date.now();
        break;
      }
      await sleep(100);
    }
    assert.ok(tReady > 0, "restarted kube-apiserver became ready");
    const firstOk = () =>
      load.outcomes.filter((o) => o.start >= tRestart && o.status === 200).map((o) => o.end);
    while (firstOk().length === 0 && Date.now() - tReady < 10_000) await sleep(20);
    const okAt = Math.min(...firstOk());
    await sleep(1500);
    await load.stop();
    agent.destroy();
    const recoveryMs = Math.max(0, okAt - tReady);

    const out = load.outcomes;
    const whileDown = out.filter((o) => o.start >= tDead && o.end <= tRestart);
    const afterRecovery = out.filter((o) => o.start >= Math.max(okAt, tReady) + 1000);
    const spanningKill = out.filter((o) => o.start < tDead && o.end >= tDead);
    console.log(
      `kill: ${out.length} requests; while down ${whileDown.length} (503 Status: ${whileDown.filter(isStatus503).length}, ` +
        `slowest ${Math.max(...whileDown.map((o) => o.end - o.start))} ms); watches ended ` +
        `${ends.map((e) => `${e.how} +${e.at - tDead} ms`).join(", ")}; apiserver ready ${tReady - tRestart} ms after restart; ` +
        `first 200 through the gateway ${okAt - tReady} ms after readiness (${okAt - tRestart} ms after the restart); after recovery ${afterRecovery.length} requests`,
    );
    assert.ok(gatewayAlive(gw), "the gateway never exited");
    assert.deepEqual(
      out.filter((o) => o.error).map(describeOutcome),
      [],
      "no request hung or failed at the transport level",
    );
    assert.ok(whileDown.length >= 20, `steady load while down: only ${whileDown.length} requests`);
    assert.deepEqual(whileDown.filter((o) => !isStatus503(o)).map(describeOutcome), []);
    assert.deepEqual(
      spanningKill.filter((o) => o.status !== 200 && !isStatus503(o)).map(describeOutcome),
      [],
    );
    for (const [i, e] of ends.entries()) {
      assert.notEqual(e.how, "hang", `watch ${i} still open 10 s after the apiserver died`);
      assert.ok(e.at - tDead < 5000, `watch ${i} ended ${e.at - tDead} ms after the apiserver died`);
    }
    assert.ok(Number.isFinite(okAt), "the gateway answered 200 again");
    assert.ok(recoveryMs <= 5000, `200 again ${recoveryMs} ms after the apiserver was ready`);
    assert.ok(afterRecovery.length > 0);
    assert.deepEqual(afterRecovery.filter((o) => o.status !== 200).map(describeOutcome), []);
    const again = await openStream(gw.url, WATCH);
    assert.equal(again.status, 200, "watches work again");
    again.req.destroy();
  });
});

describe("slow upstream (loopback fake apiserver that delays its headers)", () => {
  it("does not block other requests behind slow ones", async () => {
    const ca = await createCA("faults-fake-apiserver-ca");
    const serving = await createServerCert(ca, { cn: "localhost", ipAddresses: ["127.0.0.1"] });
    const server = createHttpsServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      const delay = Number(new URL(req.url ?? "/", "https://x").searchParams.get("delayMs") ?? 0);
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Success", code: 200 }));
      }, delay);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const kubeconfig = join(env.dir, "faults-slow.kubeconfig");
    await writeFile(
      kubeconfig,
      renderKubeconfig({
        server: `https://127.0.0.1:${(server.address() as { port: number }).port}`,
        caCertPem: ca.certPem,
        user: "gw",
        token: "gateway-own-token",
      }),
    );
    const slowGw = await startGatewayProcess([
      ...gatewayArgs(env).map((a) => (a === env.upstreamKubeconfig ? kubeconfig : a)),
      "--no-token-review",
    ]);
    try {
      const DELAY = 6000;
      const t0 = Date.now();
      // Slow ordinary requests and slow watches (headers only after DELAY ms).
      const slow = Promise.all([
        ...Array.from({ length: 20 }, () => get(slowGw.url, `/api/v1/namespaces?delayMs=${DELAY}`)),
        ...Array.from({ length: 20 }, () =>
          get(slowGw.url, `/api/v1/namespaces?watch=1&delayMs=${DELAY}`, { timeoutMs: 20_000 }),
        ),
      ]);
      await sleep(300);
      const fast = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const mine: Outcome[] = [];
          for (let i = 0; i < 5; i++) mine.push(await get(slowGw.url, "/api/v1/namespaces/default"));
          return mine;
        }),
      ).then((x) => x.flat());
      const fastDone = Date.now();
      const slowOut = await slow;
      const worst = Math.max(...fast.map((o) => o.end - o.start));
      console.log(
        `slow upstream: ${fast.length} fast requests done ${fastDone - t0} ms after 40 slow ones started, slowest fast ${worst} ms`,
      );
      assert.deepEqual(fast.filter((o) => o.status !== 200).map(describeOutcome), []);
      assert.ok(fastDone - t0 < DELAY - 1500, `fast requests finished only ${fastDone - t0} ms in`);
      // Generous for a loaded 2-core machine; blocked requests would wait the whole DELAY.
      assert.ok(worst < 2500, `a fast request took ${worst} ms behind slow ones`);
      assert.deepEqual(slowOut.filter((o) => o.status !== 200).map(describeOutcome), []);
      assert.ok(slowOut.every((o) => o.end - o.start >= DELAY - 50));
    } finally {
      await slowGw.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
