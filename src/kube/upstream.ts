import { Agent as HttpsAgent } from "node:https";
import { Pool } from "undici";
import { StatusError, serviceUnavailable, status } from "../status/status.ts";
import type { Connection } from "./connection.ts";

/**
 * The gateway's side of every call to kube-apiserver: one keep-alive pool for ordinary requests and
 * streams, one agent for upgrade tunnels, both with the gateway's own credentials.
 */
export class Upstream {
  readonly pool: Pool;
  /**
   * Watches and followed logs hold a connection each for as long as they last: they get a pool of
   * their own without a connection cap, so thousands of them neither starve nor wait behind short calls.
   */
  readonly streams: Pool;
  /** For exec/attach/port-forward: node's client hands over the raw socket after a 101. */
  readonly upgradeAgent: HttpsAgent;

  constructor(
    readonly connection: Connection,
    options: { connections?: number } = {},
  ) {
    const tls = { ca: connection.ca, cert: connection.cert, key: connection.key };
    this.pool = new Pool(connection.server.origin, {
      connections: options.connections ?? 256,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      // Watches and followed logs stream for as long as the client wants: no body timeout.
      bodyTimeout: 0,
      headersTimeout: 60_000,
      connect: { ...tls, timeout: 5_000 },
    });
    this.streams = new Pool(connection.server.origin, {
      connections: null,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      bodyTimeout: 0,
      headersTimeout: 60_000,
      connect: { ...tls, timeout: 5_000 },
    });
    this.upgradeAgent = new HttpsAgent({ ...tls, keepAlive: false });
  }

  /** The pool for a request: streams for long-running ones, the capped keep-alive pool otherwise. */
  poolFor(longRunning: boolean): Pool {
    return longRunning ? this.streams : this.pool;
  }

  /** Authorization for the gateway's own identity, when it is token based. */
  authorization(): string | undefined {
    const token = this.connection.token?.();
    return token ? `Bearer ${token}` : undefined;
  }

  /** Headers of a request the gateway makes as itself: its credentials, no one impersonated. */
  ownHeaders(accept = "application/json"): Record<string, string> {
    const headers: Record<string, string> = { accept };
    const auth = this.authorization();
    if (auth) headers.authorization = auth;
    return headers;
  }

  /** A JSON call made by the gateway itself (reviews). Upstream failures become Status errors. */
  async json<T>(method: string, path: string, body?: unknown): Promise<{ code: number; body: T }> {
    const headers = this.ownHeaders();
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Awaited<ReturnType<Pool["request"]>>;
    try {
      res = await this.pool.request({
        method: method as "GET",
        path,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
    } catch (err) {
      throw unavailable(err);
    }
    const text = await res.body.text();
    try {
      return { code: res.statusCode, body: JSON.parse(text) as T };
    } catch {
      throw new StatusError(
        status(502, `kube-apiserver answered ${path} with non-JSON (HTTP ${res.statusCode})`),
      );
    }
  }

  async close(): Promise<void> {
    this.upgradeAgent.destroy();
    await Promise.all([this.pool.close(), this.streams.close()]);
  }
}

/** kube-apiserver could not be reached: a 503 Status that says so without internal detail. */
export function unavailable(err: unknown): StatusError {
  const code = (err as { code?: string }).code;
  const why = code ? ` (${code})` : "";
  return serviceUnavailable(`kube-apiserver is unavailable${why}; retry shortly`);
}
