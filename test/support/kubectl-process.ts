// A long-running kubectl (exec, attach, logs -f, port-forward) whose output a test or the bench waits
// on as it comes: the real-node e2e tests and the tunnels workload drive the same commands.
import { type ChildProcess, spawn } from "node:child_process";

export interface KubectlProcess {
  child: ChildProcess;
  /** Everything printed so far (stdout and stderr, interleaved as they came). */
  readonly out: string;
  /** Resolves once the output matches; rejects after `timeoutMs` or when kubectl exits first. */
  until(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** As until, then forgets the output up to the match: for the same pattern again and again. */
  take(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  write(text: string): void;
  /** kubectl's exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stop(): void;
}

export function kubectlProcess(
  args: string[],
  o: { env?: NodeJS.ProcessEnv; stdin?: boolean } = {},
): KubectlProcess {
  const child = spawn("kubectl", args, {
    env: o.env ?? process.env,
    stdio: [o.stdin ? "pipe" : "ignore", "pipe", "pipe"],
  });
  let out = "";
  let exitedNow = false;
  const listeners = new Set<() => void>();
  const wake = () => {
    for (const l of [...listeners]) l();
  };
  const exited = new Promise<number | null>((resolve) =>
    child.once("close", (code) => {
      exitedNow = true;
      wake();
      resolve(code);
    }),
  );
  const onData = (d: Buffer) => {
    out += d.toString();
    wake();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const wait = (pattern: RegExp, timeoutMs: number, consume: boolean) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const fail = (why: string) => {
        listeners.delete(check);
        clearTimeout(timer);
        reject(new Error(`kubectl ${args.join(" ")}: no ${pattern} ${why}; output:\n${out.slice(-2000)}`));
      };
      const check = () => {
        const m = pattern.exec(out);
        if (m) {
          if (consume) out = out.slice((m.index ?? 0) + m[0].length);
          listeners.delete(check);
          clearTimeout(timer);
          resolve(m);
        } else if (exitedNow) fail("before it exited");
      };
      const timer = setTimeout(() => fail(`in ${timeoutMs} ms`), timeoutMs);
      listeners.add(check);
      check();
    });
  return {
    child,
    get out() {
      return out;
    },
    until: (pattern, timeoutMs = 20_000) => wait(pattern, timeoutMs, false),
    take: (pattern, timeoutMs = 20_000) => wait(pattern, timeoutMs, true),
    write: (text) => {
      child.stdin?.write(text);
    },
    exited,
    stop: () => child.kill(),
  };
}
