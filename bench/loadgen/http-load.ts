// Child process: closed-loop HTTPS load with autocannon, keeping every 2xx latency as a float.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { printResult, readSpec } from "../child.ts";
import { type LatencySummary, summarize } from "../stats.ts";
import type { ClientTls } from "../tls-client.ts";

export interface HttpLoadSpec {
  url: string;
  tls: ClientTls;
  headers?: Record<string, string>;
  connections: number;
  /** Seconds. */
  duration: number;
  warmup: number;
}

export interface HttpLoadResult {
  ok: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  /** 2xx responses per second over the measured phase. */
  rps: number;
  latencyMs: LatencySummary;
}

interface Instance {
  on(event: "response", fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}
interface Result {
  errors: number;
  duration: number;
}
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, r: Result) => void) => Instance;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

function run(spec: HttpLoadSpec, seconds: number, onResponse?: (status: number, ms: number) => void) {
  const tlsOptions = {
    cert: readFileSync(spec.tls.cert),
    key: readFileSync(spec.tls.key),
    ca: readFileSync(spec.tls.ca),
  };
  return new Promise<Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: seconds,
        pipelining: 1,
        headers: spec.headers ?? {},
        tlsOptions,
        timeout: 30,
      },
      (err, r) => (err ? reject(err) : resolve(r)),
    );
    if (onResponse) instance.on("response", (_c, status, _b, ms) => onResponse(status, ms));
  });
}

const spec = await readSpec<HttpLoadSpec>();
if (spec.warmup > 0) await run(spec, spec.warmup);
const latencies: number[] = [];
const statusCodes: Record<string, number> = {};
let non2xx = 0;
const started = performance.now();
const r = await run(spec, spec.duration, (status, ms) => {
  statusCodes[status] = (statusCodes[status] ?? 0) + 1;
  if (status >= 200 && status < 300) latencies.push(ms);
  else non2xx++;
});
const seconds = (performance.now() - started) / 1000;
const result: HttpLoadResult = {
  ok: latencies.length,
  non2xx,
  errors: r.errors,
  statusCodes,
  rps: latencies.length / seconds,
  latencyMs: summarize(latencies),
};
printResult(result);
