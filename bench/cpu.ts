// CPU time of a process from /proc/<pid>/stat (Linux): user + system, in ms. Taken around a phase, it
// says where the time of each request went (gateway vs kube-apiserver), which a latency alone cannot.
import { readFile } from "node:fs/promises";

const TICKS_PER_SECOND = 100;

export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

/** CPU ms each process used while `work` ran. */
export async function measureCpu<T>(
  pids: Record<string, number>,
  work: () => Promise<T>,
): Promise<{ result: T; cpuMs: Record<string, number> }> {
  const before: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) before[name] = await cpuMs(pid).catch(() => Number.NaN);
  const result = await work();
  const cpu: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids))
    cpu[name] = (await cpuMs(pid).catch(() => Number.NaN)) - (before[name] as number);
  return { result, cpuMs: cpu };
}
