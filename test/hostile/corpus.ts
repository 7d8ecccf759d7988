// The hostile-input corpus: each case is one request an attacker (or a broken client) could send, the
// answer a correct gateway gives, and a check that tells a mere wrong answer from a bypass. A bypass is
// any answer that grants or shows more than the caller's own identity may have: a success where a
// refusal was due, another identity taking effect, or a secret marker in the response.
import { connect } from "node:tls";
import { type RawResponse, rawRequest } from "../support/https-client.ts";

/** TLS material for one caller; no cert means no client certificate. */
export interface Caller {
  ca: string;
  cert?: string;
  key?: string;
}

export interface HostileCase {
  /** category/what, unique in a corpus. */
  id: string;
  caller: Caller;
  method?: string;
  path: string;
  /** Header pairs sent exactly as given: letter case and repeats preserved. */
  headers?: [string, string][];
  body?: string;
  /** Bytes written as they are on a TLS connection, for what no well-behaved client can send. */
  raw?: string;
  /** The status (or any of the statuses) a correct server answers. */
  expect: number | readonly number[];
  /** The Status reason expected with the refusal, when it matters. */
  reason?: string;
  /** Returns why the answer is a bypass, or undefined. Runs after the corpus-wide checks. */
  bypass?: (r: RawResponse) => string | undefined;
}

export interface Outcome {
  id: string;
  status: number;
  /** Set when the status or reason differs from the expected one. */
  mismatch?: string;
  /** Set when the answer shows more than the caller may see or do. */
  bypass?: string;
}

/** Text that marks what no hostile caller may ever receive (set on the victim's objects). */
export interface Markers {
  secrets: readonly string[];
}

const expected = (c: HostileCase): readonly number[] =>
  typeof c.expect === "number" ? [c.expect] : c.expect;

function reasonOf(body: string): string | undefined {
  try {
    const s = JSON.parse(body) as { kind?: string; reason?: string };
    return s.kind === "Status" ? s.reason : undefined;
  } catch {
    return undefined;
  }
}

/** Sends raw bytes over TLS and reads until the server closes or goes quiet; returns the first response. */
export function rawTls(base: string, caller: Caller, bytes: string, quietMs = 1500): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: url.hostname,
      port: Number(url.port),
      ca: caller.ca,
      cert: caller.cert,
      key: caller.key,
      servername: "localhost",
      ALPNProtocols: ["http/1.1"],
    });
    let received = "";
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const statuses = [...received.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((m) => Number(m[1]));
      const bodyStart = received.indexOf("\r\n\r\n");
      resolve({
        status: statuses[0] ?? 0,
        headers: { "x-all-statuses": statuses.join(",") },
        body: bodyStart === -1 ? "" : received.slice(bodyStart + 4),
      });
    };
    const quiet = () => {
      clearTimeout(timer);
      timer = setTimeout(finish, quietMs);
    };
    socket.once("secureConnect", () => {
      socket.write(bytes);
      quiet();
    });
    socket.on("data", (d) => {
      received += d.toString("latin1");
      quiet();
    });
    socket.once("end", finish);
    socket.once("close", finish);
    socket.once("error", (err) => (received === "" ? reject(err) : finish()));
  });
}

/** Runs one case and judges it; never throws for an answer, only for a connection that failed. */
export async function runCase(base: string, c: HostileCase, markers: Markers): Promise<Outcome> {
  let r: RawResponse;
  try {
    r = c.raw
      ? await rawTls(base, c.caller, c.raw)
      : await rawRequest(base, {
          method: c.method ?? "GET",
          path: c.path,
          headers: c.headers ?? [],
          ...(c.body !== undefined ? { body: c.body } : {}),
          ...c.caller,
        });
  } catch (err) {
    // A connection the server refused or reset: no answer, so nothing shown (0 = no status).
    r = { status: 0, headers: {}, body: String((err as Error).message) };
  }
  const out: Outcome = { id: c.id, status: r.status };
  const ok = expected(c);
  if (!ok.includes(r.status))
    out.mismatch = `status ${r.status}, expected ${ok.join(" or ")}: ${r.body.slice(0, 300)}`;
  else if (c.reason && r.status >= 400 && reasonOf(r.body) !== c.reason)
    out.mismatch = `reason ${reasonOf(r.body)}, expected ${c.reason}: ${r.body.slice(0, 300)}`;
  else if (r.status >= 400 && !c.raw && reasonOf(r.body) === undefined)
    out.mismatch = `a ${r.status} that is not a Kubernetes Status: ${r.body.slice(0, 200)}`;

  const leaked = markers.secrets.find((m) => r.body.includes(m));
  if (leaked) out.bypass = `the answer carries the marker ${leaked}`;
  else if (r.status >= 200 && r.status < 300 && ok.every((s) => s >= 400))
    out.bypass = `succeeded (${r.status}) where a refusal was due`;
  else out.bypass = c.bypass?.(r);
  if (out.bypass === undefined) delete out.bypass;
  return out;
}

/** Runs a corpus with a few requests in flight, in corpus order of results. */
export async function runCorpus(
  base: string,
  cases: readonly HostileCase[],
  markers: Markers,
  concurrency = 4,
): Promise<Outcome[]> {
  const ids = new Set<string>();
  for (const c of cases) {
    if (ids.has(c.id)) throw new Error(`duplicate case id ${c.id}`);
    ids.add(c.id);
  }
  const results: Outcome[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      results[i] = await runCase(base, cases[i] as HostileCase, markers);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

/** One line per category: cases, mismatches, bypasses. */
export function summarize(name: string, outcomes: readonly Outcome[]): string {
  const by = new Map<string, { cases: number; mismatches: number; bypasses: number }>();
  for (const o of outcomes) {
    const cat = o.id.split("/")[0] as string;
    const s = by.get(cat) ?? { cases: 0, mismatches: 0, bypasses: 0 };
    s.cases++;
    if (o.mismatch) s.mismatches++;
    if (o.bypass) s.bypasses++;
    by.set(cat, s);
  }
  const lines = [...by].map(
    ([cat, s]) =>
      `  ${cat.padEnd(22)} ${String(s.cases).padStart(4)} cases  ${s.mismatches} wrong  ${s.bypasses} bypasses`,
  );
  const bypasses = outcomes.filter((o) => o.bypass).length;
  return `${name}: ${outcomes.length} cases, ${bypasses} bypasses\n${lines.join("\n")}`;
}

/** Letter-case spellings of a header name an attacker would try. */
export function spellings(name: string): string[] {
  const mixed = [...name].map((ch, i) => (i % 2 === 0 ? ch.toLowerCase() : ch.toUpperCase())).join("");
  return [...new Set([name, name.toLowerCase(), name.toUpperCase(), mixed])];
}
