// A terminal program run headless in tmux, read back through capture-pane: how the e2e suite drives
// a full-screen client (k9s). Each session lives on a tmux server of its own (-S, a socket in the
// temporary directory), so that nothing here touches another tmux on the machine, and stopping it ends
// only that server.
import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../e2e/run.ts";

export interface TmuxOptions {
  /** The program and its arguments, run directly (no shell). */
  command: readonly string[];
  env?: NodeJS.ProcessEnv;
  width?: number;
  height?: number;
}

export interface TmuxSession {
  /** The screen as text, one line per row. */
  capture(): Promise<string>;
  /** tmux send-keys: key names ("Enter", "Escape") or literal text. */
  sendKeys(...keys: string[]): Promise<void>;
  /** Polls the screen until `ready` holds; throws with the last screen when it never does. */
  waitFor(ready: (screen: string) => boolean, what: string, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startTmux(o: TmuxOptions): Promise<TmuxSession> {
  // tmux leaves a killed server's socket behind: a path of ours, to remove.
  const socket = join(tmpdir(), `kubegate-e2e-tmux-${randomUUID().slice(0, 8)}`);
  const env = o.env ?? process.env;
  const tmux = async (...args: string[]) => {
    const r = await run("tmux", ["-S", socket, ...args], { env });
    if (r.code !== 0) throw new Error(`tmux ${args[0]} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  };
  await tmux(
    ...["new-session", "-d", "-s", "e2e", "-x", String(o.width ?? 200), "-y", String(o.height ?? 50)],
    ...o.command,
    // In the same tmux command, before the program can exit: the pane, and what the program printed
    // last, stay to be read.
    ...[";", "set-option", "-t", "e2e", "remain-on-exit", "on"],
  );
  const capture = () => tmux("capture-pane", "-p", "-t", "e2e");
  return {
    capture,
    async sendKeys(...keys) {
      await tmux("send-keys", "-t", "e2e", ...keys);
    },
    async waitFor(ready, what, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let screen = "";
      while (Date.now() < deadline) {
        screen = await capture();
        if (ready(screen)) return screen;
        await new Promise((res) => setTimeout(res, 200));
      }
      throw new Error(`the screen never showed ${what}; it last read:\n${screen}`);
    },
    async stop() {
      await run("tmux", ["-S", socket, "kill-server"], { env });
      await rm(socket, { force: true });
    },
  };
}
