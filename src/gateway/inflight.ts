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
  /** Requests per user and kind ("L:" long-running, "N:" ordinary); an entry lives while it is above 0. */
  private readonly perUser = new Map<string, number>();

  constructor(
    private readonly onChange?: (longRunning: boolean, delta: number) => void,
    /** How many long-running requests one user may hold at once (0: no limit). */
    private readonly maxLongRunningPerUser = 0,
    /** How many ordinary requests one user may have in progress at once (0: no limit). */
    private readonly maxRequestsPerUser = 0,
  ) {}

  /**
   * Registers a request; call the returned function exactly once when it ends. A request over the
   * user's limit for its kind is refused with a 429 Status before anything is registered.
   */
  enter(longRunning: boolean, abort: Cancellable, user?: string): () => void {
    const key = user === undefined ? undefined : `${longRunning ? "L" : "N"}:${user}`;
    if (key !== undefined) {
      const held = this.perUser.get(key) ?? 0;
      const max = longRunning ? this.maxLongRunningPerUser : this.maxRequestsPerUser;
      if (max > 0 && held >= max)
        throw new StatusError(
          status(
            429,
            longRunning
              ? `Too many long-running requests (watches, logs, exec) for User "${user}": at most ${max} at once; close some and retry`
              : `Too many requests in progress for User "${user}": at most ${max} at once; retry shortly`,
          ),
          longRunning ? "KUBEGATE_TOO_MANY_LONG_RUNNING" : "KUBEGATE_TOO_MANY_REQUESTS",
        );
      this.perUser.set(key, held + 1);
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
      if (key !== undefined) {
        const left = (this.perUser.get(key) ?? 1) - 1;
        if (left > 0) this.perUser.set(key, left);
        else this.perUser.delete(key);
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
