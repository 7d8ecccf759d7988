// The cluster's processes: started detached (they outlive `cluster up`), waited for, stopped.
import { spawn } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { ClusterSetupError } from "./build.ts";

export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers signal 0; it is gone for our purposes.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Starts a process in its own process group, logging to a file, so it outlives `cluster up`. */
export function startDetached(binary: string, args: string[], logFile: string): number {
  const fd = openSync(logFile, "a");
  const child = spawn(binary, args, { detached: true, stdio: ["ignore", fd, fd] });
  child.unref();
  if (!child.pid) throw new ClusterSetupError(`could not start ${binary}`);
  return child.pid;
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  pid: number,
  logFile: string,
  deadline: number,
): Promise<void> {
  while (Date.now() < deadline) {
    if (!alive(pid)) {
      throw new ClusterSetupError(
        `${what} exited during start-up. Last log lines (${logFile}):\n${tail(logFile)}`,
      );
    }
    if (await check().catch(() => false)) return;
    await sleep(200);
  }
  throw new ClusterSetupError(
    `${what} was not ready in time. Last log lines (${logFile}):\n${tail(logFile)}`,
  );
}

export function httpsOk(url: string, ca: string, cert: string, key: string): Promise<boolean> {
  return new Promise((resolveOk) => {
    const req = request(url, { ca, cert, key, timeout: 2000 }, (res) => {
      res.resume();
      resolveOk(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolveOk(false));
    req.end();
  });
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

/**
 * Stops a process started by startDetached, and its process group. `expect` is a word its command line
 * must hold: a pid read back from a stale state file (after a reboot) may now be anyone's.
 */
export async function stopProcess(pid: number, graceMs: number, expect?: string): Promise<void> {
  if (!alive(pid)) return;
  if (expect !== undefined) {
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      return;
    }
    if (!cmdline.includes(expect)) return;
  }
  const signal = (sig: NodeJS.Signals) => {
    try {
      // Negative pid: the whole process group started for it.
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) signal("SIGKILL");
  while (alive(pid)) await sleep(20);
}
