import { StatusError, status } from "../status/status.ts";

/**
 * Authentications in progress per client address. A bearer token the gateway has not seen costs a
 * TokenReview upstream; an anonymous client sending random tokens gets at most this many at once.
 */
export class PerAddress {
  private readonly held = new Map<string, number>();
  constructor(private readonly max: number) {}
  async around<T>(address: string, f: () => Promise<T>): Promise<T> {
    const n = this.held.get(address) ?? 0;
    if (n >= this.max)
      throw new StatusError(
        status(429, "Too many authentications in progress from this address; retry shortly"),
        "KUBEGATE_TOO_MANY_AUTHENTICATIONS",
      );
    this.held.set(address, n + 1);
    try {
      return await f();
    } finally {
      const left = (this.held.get(address) ?? 1) - 1;
      if (left > 0) this.held.set(address, left);
      else this.held.delete(address);
    }
  }
}
