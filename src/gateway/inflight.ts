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

  constructor(private readonly onChange?: (longRunning: boolean, delta: number) => void) {}

  /** Registers a request; call the returned function exactly once when it ends. */
  enter(longRunning: boolean, abort: Cancellable): () => void {
    if (longRunning) this.longRunning.add(abort);
    else this.normal++;
    this.onChange?.(longRunning, 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (longRunning) this.longRunning.delete(abort);
      else this.normal--;
      this.onChange?.(longRunning, -1);
      if (this.normal === 0) for (const w of this.waiters.splice(0)) w();
    };
  }

  get count(): { normal: number; longRunning: number } {
    return { normal: this.normal, longRunning: this.longRunning.size };
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
