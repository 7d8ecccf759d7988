import { Agent as HttpsAgent } from "node:https";
import { Pool } from "undici";
import { StatusError, serviceUnavailable, status } from "../status/status.ts";
import type { Connection } from "./connection.ts";

/** TLS material for a connection to kube-apiserver: its CA, and a client certificate when one is used. */
export interface UpstreamTls {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

/**
 * Connections to kube-apiserver under one TLS identity: a keep-alive pool for ordinary requests, one
 * for streams, and an agent for upgrade tunnels.
 */
export interface Connections {
  pool: Pool;
  /**
   * Watches and followed logs hold a connection each for as long as they last: they get a pool of
   * their own without a connection cap, so thousands of them neither starve nor wait behind short calls.
   */
  streams: Pool;
  /** For exec/attach/port-forward: node's client hands over the raw socket after a 101. */
  upgradeAgent: HttpsAgent;
}

export function openConnections(origin: string, tls: UpstreamTls, connections = 256): Connections {
  const common = {
    pipelining: 1,
    // undici 8 offers h2 by default; the gateway is tested and measured on HTTP/1.1 to the apiserver.
    allowH2: false,
    keepAliveTimeout: 30_000,
    // Watches and followed logs stream for as long as the client wants: no body timeout.
    bodyTimeout: 0,
    headersTimeout: 60_000,
    connect: { ...tls, timeout: 5_000 },
  };
  return {
    pool: new Pool(origin, { ...common, connections }),
    streams: new Pool(origin, { ...common, connections: null }),
    upgradeAgent: new HttpsAgent({ ...tls, keepAlive: false }),
  };
}

export async function closeConnections(c: Connections): Promise<void> {
  c.upgradeAgent.destroy();
  await Promise.all([c.pool.close(), c.streams.close()]);
}

/** The gateway's side of every call to kube-apiserver, with the gateway's own credentials. */
export class Upstream implements Connections {
  readonly pool: Pool;
  readonly streams: Pool;
  readonly upgradeAgent: HttpsAgent;
  /**
   * The gateway's own calls (TokenReview, SubjectAccessReview, informer lists, discovery) on
   * connections of their own: users who hold every connection of the shared pool (responses they
   * never read) cannot stop everyone else from being authenticated and authorized.
   */
  readonly reviewPool: Pool;

  constructor(
    readonly connection: Connection,
    options: { connections?: number } = {},
  ) {
    const tls = { ca: connection.ca, cert: connection.cert, key: connection.key };
    const c = openConnections(connection.server.origin, tls, options.connections);
    this.pool = c.pool;
    this.streams = c.streams;
    this.upgradeAgent = c.upgradeAgent;
    this.reviewPool = openConnections(connection.server.origin, tls, 32).pool;
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

  /** Adds the gateway's own token to a header set, when its identity is token based. */
  withCredential<H extends Record<string, string | string[]>>(headers: H): H {
    const auth = this.authorization();
    if (auth) (headers as Record<string, string>).authorization = auth;
    return headers;
  }

  /** Headers of a request the gateway makes as itself: its credentials, no one impersonated. */
  ownHeaders(accept = "application/json"): Record<string, string> {
    return this.withCredential({ accept });
  }

  /**
   * A call made by the gateway itself (reviews, informer lists, discovery), its answer read whole as
   * text. Upstream failures become Status errors.
   */
  async text(
    method: string,
    path: string,
    o: { body?: unknown; accept?: string } = {},
  ): Promise<{ code: number; text: string }> {
    const headers = this.ownHeaders(o.accept);
    if (o.body !== undefined) headers["content-type"] = "application/json";
    let res: Awaited<ReturnType<Pool["request"]>>;
    try {
      res = await this.reviewPool.request({
        method: method as "GET",
        path,
        headers,
        body: o.body === undefined ? null : JSON.stringify(o.body),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
    } catch (err) {
      throw unavailable(err);
    }
    return { code: res.statusCode, text: await res.body.text() };
  }

  /** A JSON call made by the gateway itself; an answer that is not JSON is a 502 Status error. */
  async json<T>(method: string, path: string, body?: unknown): Promise<{ code: number; body: T }> {
    const { code, text } = await this.text(method, path, { body });
    try {
      return { code, body: JSON.parse(text) as T };
    } catch {
      throw new StatusError(
        status(502, `kube-apiserver answered ${path} with non-JSON (HTTP ${code})`),
        "KUBEGATE_UPSTREAM_BAD_ANSWER",
      );
    }
  }

  async close(): Promise<void> {
    await Promise.all([closeConnections(this), this.reviewPool.close()]);
  }
}

/** kube-apiserver could not be reached: a 503 Status that says so without internal detail. */
export function unavailable(err: unknown): StatusError {
  const code = (err as { code?: string }).code;
  const why = code ? ` (${code})` : "";
  return serviceUnavailable(
    `kube-apiserver is unavailable${why}; retry shortly`,
    "KUBEGATE_UPSTREAM_UNAVAILABLE",
  );
}
