// Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self time: where the gateway's CPU
// actually goes, which is what bounds throughput on a shared 2-core machine. Start-up (module loading,
// transpiling) is cut off: only samples from the first request on count.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { CpuFrame, ProfileSummary } from "./result.ts";

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A frame on the path of every gateway request (src/gateway/pipeline.ts). */
export const REQUEST_FRAME = "handleRequest";

const REPO = fileURLToPath(new URL("..", import.meta.url));

function location(url: string, line: number): string {
  if (!url) return "(native)";
  const path = url.replace(/^file:\/\//, "").replace(REPO, "");
  const short = path.replace(/^.*node_modules\//, "");
  return `${short}:${line + 1}`;
}

const nameOf = (n: CpuProfileNode) => n.callFrame.functionName || "(anonymous)";

export function summarizeProfile(profile: CpuProfile, top = 15): Omit<ProfileSummary, "workload" | "file"> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ancestors = (id: number, max: number) => {
    const out: CpuProfileNode[] = [];
    for (let p = parent.get(id); p !== undefined && out.length < max; p = parent.get(p)) {
      const node = byId.get(p);
      if (node) out.push(node);
    }
    return out;
  };
  const onRequestPath = (id: number) => ancestors(id, 200).some((n) => nameOf(n) === REQUEST_FRAME);
  let first = profile.samples.findIndex((id) => onRequestPath(id));
  if (first === -1) first = 0;

  const frames = new Map<string, { fn: string; loc: string; us: number; callers: Map<string, number> }>();
  let totalUs = 0;
  for (let i = first; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    const node = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    if (!node || node.callFrame.functionName === "(idle)") continue;
    totalUs += dt;
    const fn = nameOf(node);
    const loc = location(node.callFrame.url, node.callFrame.lineNumber);
    const key = `${fn}@${loc}`;
    const entry = frames.get(key) ?? { fn, loc, us: 0, callers: new Map() };
    entry.us += dt;
    const chain = ancestors(id, 3)
      .map(nameOf)
      .filter((n) => n !== "(root)")
      .join(" ← ");
    entry.callers.set(chain, (entry.callers.get(chain) ?? 0) + dt);
    frames.set(key, entry);
  }
  const ranked: CpuFrame[] = [...frames.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({
      function: e.fn,
      location: e.loc,
      selfMs: Math.round(e.us / 100) / 10,
      selfPercent: totalUs ? Math.round((1000 * e.us) / totalUs) / 10 : 0,
      calledFrom: [...e.callers.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "",
    }));
  return { totalMs: Math.round(totalUs / 1000), top: ranked };
}

export async function readProfile(workload: string, file: string, top = 15): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, "utf8")) as CpuProfile;
  return { workload, file, ...summarizeProfile(profile, top) };
}
