// Child process: opens N namespace watches on one endpoint, then creates namespaces (half of them
// visible to the watching user) directly at the apiserver, and measures for each visible namespace and
// each watch the time from the create's response to the ADDED event. Same process, same clock.
import { readFileSync } from "node:fs";
import type { ClientRequest } from "node:http";
import { type ClientHttp2Session, connect } from "node:http2";
import { Agent, request } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { printResult, readSpec } from "../child.ts";
import { type LatencySummary, summarize } from "../stats.ts";
import type { ClientTls } from "../tls-client.ts";

export interface WatchersSpec {
  url: string;
  /** Watch path without resourceVersion (added here from a fresh list). */
  path: string;
  tls: ClientTls;
  count: number;
  /** Where namespaces are created, and as whom (the cluster admin). */
  apiserver: string;
  admin: ClientTls;
  prefix: string;
  creates: number;
  intervalMs: number;
  visibleLabels: Record<string, string>;
  hiddenLabels: Record<string, string>;
  connectTimeoutMs: number;
  /**
   * "http/1.1": one TLS connection per watch (a crowd of separate clients). "h2": the watches share
   * HTTP/2 connections, streamsPerConnection each, the way client-go multiplexes a process's requests.
   */
  protocol: "http/1.1" | "h2";
  streamsPerConnection: number;
}

export interface WatchersResult {
  established: number;
  failed: number;
  failures: Record<string, number>;
  connectSeconds: number;
  visibleCreated: number;
  expectedDeliveries: number;
  delivered: number;
  /** Events for namespaces the user must not see: must be 0. */
  leaked: number;
  latencyMs: LatencySummary;
  /** The three events with the latest deliveries, by p99 over the watchers. */
  slowestEvents: { name: string; p50: number; max: number }[];
}

const spec = await readSpec<WatchersSpec>();
const tlsOf = (t: ClientTls) => ({
  cert: readFileSync(t.cert),
  key: readFileSync(t.key),
  ca: readFileSync(t.ca),
});
const adminAgent = new Agent({ keepAlive: true, maxSockets: 4, ...tlsOf(spec.admin) });

function admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  const api = new URL(spec.apiserver);
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: api.hostname,
        port: api.port,
        method,
        path,
        agent: adminAgent,
        headers: { accept: "application/json", ...(text ? { "content-type": "application/json" } : {}) },
      },
      (res) => {
        let data = "";
        res.on("data", (d) => {
          data += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on("error", reject);
    req.end(text);
  });
}

const list = await admin("GET", "/api/v1/namespaces?limit=1");
const resourceVersion = (JSON.parse(list.body) as { metadata: { resourceVersion: string } }).metadata
  .resourceVersion;
const sep = spec.path.includes("?") ? "&" : "?";
const watchPath = `${spec.path}${sep}watch=1&resourceVersion=${resourceVersion}`;
const target = new URL(spec.url);
const clientTls = tlsOf(spec.tls);

/** Per watch: when each namespace of this run arrived. */
const arrivals: Map<string, number>[] = [];
let established = 0;
let failed = 0;
let leaked = 0;
const requests: ClientRequest[] = [];
const sessions: ClientHttp2Session[] = [];
const NAME = /"name":"([^"]+)"/;
/** Why watches failed: HTTP status or error code, with counts. */
const failures: Record<string, number> = {};
const note = (why: string) => {
  failures[why] = (failures[why] ?? 0) + 1;
};

/** Reads one watch stream's event lines and notes when each of this run's namespaces arrived. */
function eventReader(seen: Map<string, number>): (chunk: string) => void {
  let buffered = "";
  return (chunk) => {
    const now = performance.now();
    buffered += chunk;
    let nl = buffered.indexOf("\n");
    while (nl !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf("\n");
      // A cheap scan, not JSON.parse: the client must not be the bottleneck of 2,000 streams.
      if (!line.startsWith('{"type":"ADDED"')) continue;
      const name = NAME.exec(line)?.[1];
      if (!name?.startsWith(spec.prefix)) continue;
      if (name.includes("-hidden-")) leaked++;
      else if (!seen.has(name)) seen.set(name, now);
    }
  };
}

function open(i: number): Promise<void> {
  const seen = new Map<string, number>();
  arrivals[i] = seen;
  return new Promise((resolve) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: watchPath,
        agent: false,
        ...clientTls,
        headers: { accept: "application/json" },
      },
      (res) => {
        if (res.statusCode !== 200) {
          failed++;
          note(`HTTP ${res.statusCode}`);
          res.resume();
          return;
        }
        established++;
        res.setEncoding("utf8");
        res.on("data", eventReader(seen));
        res.on("error", () => undefined);
      },
    );
    req.on("error", (err: NodeJS.ErrnoException) => {
      failed++;
      note(err.code ?? "request error");
      resolve();
    });
    // Paced by the TLS handshake, not the response: a watch the server never answers must not stall
    // the opening of the others.
    req.on("socket", (s) => s.once("secureConnect", () => resolve()));
    requests.push(req);
    req.end();
  });
}

/** The HTTP/2 connections of an "h2" run, each to carry streamsPerConnection watches. */
async function connectSessions(n: number): Promise<void> {
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve) => {
          const session = connect(target.origin, clientTls);
          sessions.push(session);
          session.on("error", (err: NodeJS.ErrnoException) => {
            note(err.code ?? "session error");
            resolve();
          });
          session.once("connect", () => resolve());
        }),
    ),
  );
}

/** Watch i as a stream of its session; resolves once it is answered (or refused). */
function openStream(i: number): Promise<void> {
  const seen = new Map<string, number>();
  arrivals[i] = seen;
  const session = sessions[Math.floor(i / spec.streamsPerConnection)] as ClientHttp2Session;
  return new Promise((resolve) => {
    if (session.destroyed || !session.socket) {
      failed++;
      note("no connection");
      resolve();
      return;
    }
    // endStream: a GET has no body; a proxy that waits for one (nginx) would never answer.
    const stream = session.request({ ":path": watchPath, accept: "application/json" }, { endStream: true });
    let answered = false;
    // A stream the server never answers must not hold up the opening of the others.
    const timer = setTimeout(() => {
      answered = true;
      failed++;
      note("no answer in 10 s");
      stream.close();
      resolve();
    }, 10_000);
    stream.on("response", (headers) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      resolve();
      if (headers[":status"] !== 200) {
        failed++;
        note(`HTTP ${headers[":status"]}`);
        stream.resume();
        return;
      }
      established++;
      stream.setEncoding("utf8");
      stream.on("data", eventReader(seen));
    });
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      failed++;
      note(err.code ?? "stream error");
      resolve();
    });
  });
}

const connectStart = performance.now();
let next = 0;
// Both shapes open 50 watches at a time: HTTP/1.1 paced by TLS handshakes, HTTP/2 by the answers.
// 2,000 watch requests at once would meet kube-apiserver's priority and fairness limits (429).
if (spec.protocol === "h2") await connectSessions(Math.ceil(spec.count / spec.streamsPerConnection));
const opener = spec.protocol === "h2" ? openStream : open;
await Promise.all(
  Array.from({ length: 50 }, async () => {
    while (next < spec.count) await opener(next++);
  }),
);
const deadline = Date.now() + spec.connectTimeoutMs;
while (established + failed < spec.count && Date.now() < deadline) await sleep(100);
const connectSeconds = (performance.now() - connectStart) / 1000;
// Let the apiserver's watch cache settle before the first create.
await sleep(1000);

const createdAt = new Map<string, number>();
const created: string[] = [];
for (let i = 0; i < spec.creates; i++) {
  const visible = i % 2 === 0;
  const name = `${spec.prefix}${visible ? "shown" : "hidden"}-${i}`;
  const labels = visible ? spec.visibleLabels : spec.hiddenLabels;
  const r = await admin("POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels },
  });
  if (r.status !== 201) throw new Error(`creating ${name}: HTTP ${r.status} ${r.body}`);
  created.push(name);
  if (visible) createdAt.set(name, performance.now());
  await sleep(spec.intervalMs);
}
const expectedDeliveries = established * createdAt.size;
const delivered = () => arrivals.reduce((n, m) => n + m.size, 0);
const drainUntil = Date.now() + 15_000;
while (delivered() < expectedDeliveries && Date.now() < drainUntil) await sleep(100);

const latencies: number[] = [];
const byEvent = new Map<string, number[]>();
for (const seen of arrivals) {
  for (const [name, at] of seen) {
    const created = createdAt.get(name);
    if (created === undefined) continue;
    // An event can beat the create's response to this process; that is zero delay, not negative.
    const ms = Math.max(0, at - created);
    latencies.push(ms);
    const list = byEvent.get(name);
    if (list) list.push(ms);
    else byEvent.set(name, [ms]);
  }
}
// With 20 events, p99 is the slowest event's tail: say which events those were.
const perEvent = [...byEvent].map(([name, ms]) => ({ name, ...summarize(ms) }));
perEvent.sort((a, b) => b.p99 - a.p99);
for (const req of requests) req.destroy();
// Leave the cluster as found, so that a reused cluster's tenant list still shows its 100 namespaces.
// There is no namespace controller in the test cluster: an empty namespace is deleted, then its
// finalizer dropped through the finalize subresource, as that controller would once it is empty.
for (const name of created) {
  await admin("DELETE", `/api/v1/namespaces/${name}`);
  await admin("PUT", `/api/v1/namespaces/${name}/finalize`, {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name },
    spec: { finalizers: [] },
  });
}
for (const session of sessions) session.destroy();
adminAgent.destroy();
const result: WatchersResult = {
  established,
  failed,
  failures,
  connectSeconds,
  visibleCreated: createdAt.size,
  expectedDeliveries,
  delivered: delivered(),
  leaked,
  latencyMs: summarize(latencies),
  slowestEvents: perEvent.slice(0, 3).map((e) => ({
    name: e.name,
    p50: Math.round(e.p50 * 10) / 10,
    max: Math.round(e.max * 10) / 10,
  })),
};
printResult(result);
