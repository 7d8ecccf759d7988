// Looks into a running process from outside: its resident memory, its TCP connections, its metrics.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Resident set size of a process in KiB (VmRSS in /proc/PID/status). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** Socket inodes the process holds open (from /proc/PID/fd). */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1] as string);
    } catch {
      // closed between readdir and readlink
    }
  }
  return inodes;
}

const TCP_STATES: Record<string, string> = {
  "01": "ESTABLISHED",
  "02": "SYN_SENT",
  "03": "SYN_RECV",
  "04": "FIN_WAIT1",
  "05": "FIN_WAIT2",
  "06": "TIME_WAIT",
  "07": "CLOSE",
  "08": "CLOSE_WAIT",
  "09": "LAST_ACK",
  "0A": "LISTEN",
  "0B": "CLOSING",
};

export interface TcpSocket {
  localPort: number;
  remotePort: number;
  state: string;
}

/**
 * TCP sockets the process owns (the same as `ss -tnp` filtered on the pid), read from /proc/net/tcp
 * and tcp6 matched against the process's socket inodes.
 */
export function tcpSockets(pid: number): TcpSocket[] {
  const inodes = socketInodes(pid);
  const out: TcpSocket[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.trim().split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (!inodes.has(f[9] as string)) continue;
      const port = (addr: string) => Number.parseInt(addr.split(":")[1] as string, 16);
      out.push({
        localPort: port(f[1] as string),
        remotePort: port(f[2] as string),
        state: TCP_STATES[f[3] as string] ?? (f[3] as string),
      });
    }
  }
  return out;
}

/** Open (not LISTEN, not TIME_WAIT) TCP connections of the process to a remote port. */
export function connectionsTo(pid: number, remotePort: number): number {
  return tcpSockets(pid).filter(
    (s) => s.remotePort === remotePort && s.state !== "LISTEN" && s.state !== "TIME_WAIT",
  ).length;
}

/** One sample from a Prometheus text exposition: the value of NAME{labels} (labels matched as given). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      total += Number(m[3]);
      found = true;
    }
  }
  return found ? total : 0;
}

/** The gateway's /metrics text. */
export async function scrape(metricsUrl: string): Promise<string> {
  const base = metricsUrl.replace(/\/metrics$/, "");
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) });
  return res.text();
}
