// Soak (issue #10, part 4): the gateway's passthrough GET at 80% of its measured maximum for
// KUBEGATE_SOAK_SECONDS (default 600) with a few watches open; no failed request, and resident memory
// after warm-up grows by at most 10%. Memory is compared after a full garbage collection (through the
// inspector): a raw RSS sample lands anywhere on the GC sawtooth, which spanned 207-343 MiB in a full
// run, so two raw samples say more about GC timing than about growth. Raw samples are still reported.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { createRequire } from "node:module";
import { after, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createClientCert, loadCA } from "../../src/pki/certificates.ts";
import { useCluster } from "../cluster/harness.ts";
import { gatewayArgs, prepareGatewayEnv } from "../e2e/gateway-env.ts";
import { kubectl } from "../e2e/run.ts";
import { startGatewayProcess } from "../support/gateway-process.ts";
import { attachInspector, type RetainedMemory } from "../support/inspector.ts";
import { rssKiB } from "../support/process-probes.ts";

interface CannonResult {
  errors: number;
  timeouts: number;
  non2xx: number;
  "2xx": number;
  duration: number;
  requests: { total: number; average: number };
  latency: { p50: number; p99: number; max: number };
}
type Autocannon = (
  opts: Record<string, unknown>,
  cb: (err: Error | null, r: CannonResult) => void,
) => { stop(): void };
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

const SECONDS = Number(process.env.KUBEGATE_SOAK_SECONDS ?? 600);
/** RSS growth is measured from the first sample after this warm-up (half the run when it is short). */
const WARMUP_SECONDS = Math.min(60, Math.floor(SECONDS / 2));
const SAMPLE_MS = 10_000;
/** Full collections pause the gateway for tens of milliseconds: a few, not one per raw sample. */
const RETAINED_SAMPLE_MS = 60_000;
const CONNECTIONS = 16;
const WATCHES = 5;

const cluster = await useCluster();
const env = await prepareGatewayEnv(cluster);
const pem = (p: string) => readFileSync(p, "utf8");
for (const args of [
  ["create", "namespace", "soak"],
  ["create", "configmap", "probe", "-n", "soak", "--from-literal=k=v"],
  // Not the "view" ClusterRole: it is aggregated, and the test cluster has no controller-manager to fill it.
  ["create", "role", "reader", "-n", "soak", "--verb=get,list,watch", "--resource=configmaps"],
  ["create", "rolebinding", "reader", "-n", "soak", "--role=reader", "--user=soak-user"],
]) {
  const r = await kubectl(cluster.adminKubeconfig, ...args);
  assert.equal(r.code, 0, r.stderr);
}
const user = await createClientCert(await loadCA(pem(env.usersCa.cert), pem(env.usersCa.key)), {
  cn: "soak-user",
});
const tls = { ca: pem(env.servingCa.cert), cert: user.certPem, key: user.keyPem };
const gw = await startGatewayProcess(gatewayArgs(env), { nodeArgs: ["--inspect=127.0.0.1:0"] });
const inspector = await attachInspector(gw);
after(async () => {
  inspector.close();
  await gw.stop();
});
const pid = gw.process.pid as number;
const url = `${gw.url}/api/v1/namespaces/soak/configmaps/probe`;

function cannon(opts: Record<string, unknown>): Promise<CannonResult> {
  return new Promise((resolve, reject) =>
    autocannon(
      { url, connections: CONNECTIONS, pipelining: 1, timeout: 10, tlsOptions: tls, ...opts },
      (err, r) => (err ? reject(err) : resolve(r)),
    ),
  );
}

/** A watch through the gateway that counts its events and notes when (and whether) it ended. */
function watch(): Promise<{ events: () => number; ended: () => boolean; close: () => void }> {
  const u = new URL("/api/v1/namespaces/soak/configmaps?watch=1", gw.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, ...tls, agent: false },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`watch answered ${res.statusCode}`));
          return;
        }
        let events = 0;
        let ended = false;
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          events += d.split("\n").filter((l) => l.trim()).length;
        });
        for (const e of ["end", "aborted", "error", "close"]) res.on(e, () => (ended = true));
        resolve({ events: () => events, ended: () => ended, close: () => req.destroy() });
      },
    );
    req.on("error", (err) => (err.message === "socket hang up" ? undefined : reject(err)));
    req.end();
  });
}

it(`holds 80% of max passthrough throughput for ${SECONDS} s without errors or memory growth`, async () => {
  // Warm the connection pools, then measure the maximum (closed loop, 10 s).
  await cannon({ duration: 2 });
  const max = await cannon({ duration: 10 });
  assert.equal(max.errors + max.non2xx, 0, `errors while measuring the maximum: ${JSON.stringify(max)}`);
  const maxRate = max["2xx"] / max.duration;
  const rate = Math.max(1, Math.floor(maxRate * 0.8));

  const watches = await Promise.all(Array.from({ length: WATCHES }, watch));
  let updates = 0;
  const touch = setInterval(() => {
    updates++;
    void kubectl(
      cluster.adminKubeconfig,
      ...["patch", "configmap", "probe", "-n", "soak", "--type=merge", "-p", `{"data":{"n":"${updates}"}}`],
    );
  }, 15_000);
  const samples: { t: number; rss: number }[] = [];
  const retained: (RetainedMemory & { t: number })[] = [];
  const t0 = Date.now();
  const sample = () => samples.push({ t: (Date.now() - t0) / 1000, rss: rssKiB(pid) });
  const sampleRetained = async () => {
    const t = (Date.now() - t0) / 1000;
    retained.push({ t, ...(await inspector.retainedMemory()) });
  };
  sample();
  const sampler = setInterval(sample, SAMPLE_MS);
  // The first retained sample at the end of the warm-up, then every minute (for a short run: once more).
  const retainedEvery = Math.min(RETAINED_SAMPLE_MS, Math.max(1, SECONDS - WARMUP_SECONDS) * 500);
  let retainedSampler: NodeJS.Timeout | undefined;
  const warm = setTimeout(() => {
    void sampleRetained();
    retainedSampler = setInterval(() => void sampleRetained(), retainedEvery);
  }, WARMUP_SECONDS * 1000);
  let soak: CannonResult;
  try {
    soak = await cannon({ duration: SECONDS, overallRate: rate });
  } finally {
    clearInterval(sampler);
    clearTimeout(warm);
    clearInterval(retainedSampler);
    clearInterval(touch);
  }
  sample();
  await sampleRetained();
  await sleep(1000);
  const events = watches.map((w) => w.events());
  const watchesEnded = watches.filter((w) => w.ended()).length;
  for (const w of watches) w.close();

  const first = retained[0] as RetainedMemory & { t: number };
  const last = retained.at(-1) as RetainedMemory & { t: number };
  const growth = (last.rssKiB - first.rssKiB) / first.rssKiB;
  const heapGrowth = (last.heapUsedKiB - first.heapUsedKiB) / first.heapUsedKiB;
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  const achieved = soak.requests.total / soak.duration;
  console.log(
    `soak: max ${maxRate.toFixed(0)} req/s; ${SECONDS} s at target ${rate} req/s: ${soak.requests.total} requests ` +
      `(${achieved.toFixed(0)} req/s), 2xx ${soak["2xx"]}, non-2xx ${soak.non2xx}, errors ${soak.errors}, ` +
      `timeouts ${soak.timeouts}, p50 ${soak.latency.p50} ms p99 ${soak.latency.p99} ms; ` +
      `watches ${WATCHES} (events ${events.join("/")}, ended ${watchesEnded}); after full GC: RSS ` +
      `${mib(first.rssKiB)} MiB at ${first.t.toFixed(0)} s -> ${mib(last.rssKiB)} MiB at ${last.t.toFixed(0)} s ` +
      `(${(growth * 100).toFixed(1)}%), heap used ${mib(first.heapUsedKiB)} -> ${mib(last.heapUsedKiB)} MiB ` +
      `(${(heapGrowth * 100).toFixed(1)}%); retained RSS/heap per sample ` +
      `${retained.map((r) => `${r.t.toFixed(0)}s:${mib(r.rssKiB)}/${mib(r.heapUsedKiB)}`).join(",")}; ` +
      `raw RSS samples ${samples.map((s) => (s.rss / 1024).toFixed(0)).join(",")}`,
  );
  assert.equal(soak.non2xx, 0, "non-2xx answers");
  assert.equal(soak.errors, 0, "errors");
  assert.equal(soak.timeouts, 0, "timeouts");
  assert.ok(achieved >= rate * 0.9, `the gateway kept up: ${achieved.toFixed(0)} of ${rate} req/s`);
  assert.equal(watchesEnded, 0, "watches stayed open");
  // The ADDED event and every patch but perhaps the last (still on its way).
  assert.ok(
    events.every((e) => e >= updates),
    `watch events ${events.join("/")} for ${updates} patches`,
  );
  assert.ok(gw.process.exitCode === null && gw.process.signalCode === null, "gateway alive");
  assert.ok(retained.length >= 2, "memory was measured after the warm-up and at the end");
  assert.ok(growth <= 0.1, `RSS after full GC grew ${(growth * 100).toFixed(1)}% after warm-up`);
  assert.ok(heapGrowth <= 0.1, `live heap grew ${(heapGrowth * 100).toFixed(1)}% after warm-up`);
});
