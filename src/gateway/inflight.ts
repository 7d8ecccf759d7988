import { StatusError, status } from "../status/status.ts";

/** What shutdown can cancel: an AbortController, or a relayed upstream call. */
export interface Cancellable {
  abort(): void;
}

/**
 * Requests in progress, so that shutdown can drain: ordinary requests are waited for, long-running
 * ones (watches, tunnels) are cut, since clients resume them anyway.
 */
export class Inflight {
  private normal = 0;
  private readonly longRunning = new Set<Cancellable>();
  private waiters: (() => void)[] = [];
  /** Long-running requests per user; an entry lives only while the user holds one. */
  private readonly perUser = new Map<string, number>();

  constructor(
    private readonly onChange?: (longRunning: boolean, delta: number) => void,
    /** How many long-running requests one user may hold at once (0: no limit). */
    private readonly maxLongRunningPerUser = 0,
  ) {}

  /**
   * Registers a request; call the returned function exactly once when it ends. A long-running request
   * over the user's limit is refused with a 429 Status before anything is registered.
   */
  enter(longRunning: boolean, abort: Cancellable, user?: string): () => void {
    const held = user !== undefined && longRunning ? (this.perUser.get(user) ?? 0) : 0;
    if (user !== undefined && longRunning) {
      if (this.maxLongRunningPerUser > 0 && held >= this.maxLongRunningPerUser)
        throw new StatusError(
          status(
            429,
            `Too many long-running requests (watches, logs, exec) for User "${user}": at most ${this.maxLongRunningPerUser} at once; close some and retry`,
          ),
        );
      this.perUser.set(user, held + 1);
    }
    if (longRunning) this.longRunning.add(abort);
    else this.normal++;
    this.onChange?.(longRunning, 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (longRunning) this.longRunning.delete(abort);
      else this.normal--;
      if (user !== undefined && longRunning) {
        const left = (this.perUser.get(user) ?? 1) - 1;
        if (left > 0) this.perUser.set(user, left);
        else this.perUser.delete(user);
      }
      this.onChange?.(longRunning, -1);
      if (this.normal === 0) for (const w of this.waiters.splice(0)) w();
    };
  }

  get count(): { normal: number; longRunning: number; users: number } {
    return { normal: this.normal, longRunning: this.longRunning.size, users: this.perUser.size };
  }

  /** Cuts every long-running request and resolves when ordinary ones are done or the grace ends. */
  async drain(graceMs: number): Promise<boolean> {
    for (const abort of this.longRunning) abort.abort();
    if (this.normal === 0) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), graceMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
