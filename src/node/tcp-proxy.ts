import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Logger } from "../observability/logger.ts";
import { codeOf } from "../status/codes.ts";
import { KubegateError } from "../status/errors.ts";
import { proxyHeader } from "./proxy-protocol.ts";

export interface HostPort {
  host: string;
  port: number;
}

export interface TcpProxyOptions {
  listen: HostPort;
  upstream: HostPort;
  /** Send a PROXY protocol header of this version first on every upstream connection. */
  proxyProtocol?: "v1" | "v2";
  /** Connections beyond this many at once are closed as soon as they are accepted. */
  maxConnections: number;
  connectTimeoutMs: number;
  /** /healthz, /readyz and /metrics over plain HTTP; none when unset. */
  metricsListen?: HostPort;
  /** How long close() waits for open connections before cutting them. */
  shutdownGraceMs: number;
  log: Logger;
}

export interface TcpProxy {
  /** The bound address, e.g. tcp://10.96.0.2:443. */
  url: string;
  address: HostPort;
  metricsUrl?: string;
  registry: Registry;
  /** Connections open right now. */
  active(): number;
  /** Stops accepting, waits up to the grace period for open connections, then cuts the rest. */
  close(): Promise<void>;
}

class ProxyMetrics {
  readonly registry = new Registry();
  readonly connections = new Counter({
    name: "kubegate_apiserver_proxy_connections_total",
    help: "Client connections, by result: proxied, rejected (connection limit), upstream_failed.",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly open = new Gauge({
    name: "kubegate_apiserver_proxy_open_connections",
    help: "Client connections open right now.",
    registers: [this.registry],
  });
  readonly bytes = new Counter({
    name: "kubegate_apiserver_proxy_bytes_total",
    help: "Bytes passed through, by direction (upstream = client to apiserver, downstream = back).",
    labelNames: ["direction"] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: "kubegate_apiserver_proxy_connection_duration_seconds",
    help: "Lifetime of proxied connections.",
    buckets: [0.01, 0.1, 1, 10, 60, 300, 1800, 3600],
    registers: [this.registry],
  });
  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "kubegate_apiserver_proxy_" });
  }
}

const urlHost = (host: string) => (host.includes(":") ? `[${host}]` : host);

/**
 * A plain TCP proxy: bytes are passed through untouched (TLS is end to end between the client and the
 * apiserver), optionally after a PROXY protocol header naming the original client. Half-closes are
 * passed on, so a client that finishes sending still receives the rest of the answer.
 */
export async function startTcpProxy(o: TcpProxyOptions): Promise<TcpProxy> {
  const m = new ProxyMetrics();
  const sockets = new Set<Socket>();
  let clients = 0;
  let closing = false;

  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    if (closing || clients >= o.maxConnections) {
      m.connections.inc({ result: "rejected" });
      client.resetAndDestroy();
      return;
    }
    const started = process.hrtime.bigint();
    sockets.add(client);
    clients++;
    m.open.inc();
    const upstream = connect({
      host: o.upstream.host,
      port: o.upstream.port,
      allowHalfOpen: true,
      noDelay: true,
      // Watches idle for long stretches: keepalive notices a peer that vanished without a FIN or RST.
      keepAlive: true,
      keepAliveInitialDelay: 30_000,
    });
    client.setNoDelay(true);
    client.setKeepAlive(true, 30_000);
    sockets.add(upstream);
    let connected = false;
    upstream.setTimeout(o.connectTimeoutMs, () => {
      if (!connected) upstream.destroy(connectTimeout(o.connectTimeoutMs));
    });
    upstream.once("connect", () => {
      connected = true;
      upstream.setTimeout(0);
      m.connections.inc({ result: "proxied" });
      if (o.proxyProtocol) {
        upstream.write(
          proxyHeader(o.proxyProtocol, {
            source: { address: client.remoteAddress ?? "", port: client.remotePort ?? 0 },
            destination: { address: client.localAddress ?? "", port: client.localPort ?? 0 },
          }),
        );
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on("error", (err) => {
      if (!connected) {
        m.connections.inc({ result: "upstream_failed" });
        o.log.warn(
          { upstream: o.upstream, err: err.message, code: codeOf(err) },
          "upstream connection failed",
        );
      }
      client.destroy();
    });
    client.on("error", () => upstream.destroy());
    // A side that is gone for good (reset, or both directions finished) takes the other one with it.
    client.once("close", () => {
      upstream.destroy();
      sockets.delete(client);
      clients--;
      m.open.dec();
      m.bytes.inc({ direction: "upstream" }, client.bytesRead);
      m.bytes.inc({ direction: "downstream" }, client.bytesWritten);
      m.duration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    });
    upstream.once("close", () => {
      sockets.delete(upstream);
      if (!client.writableEnded) client.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: o.listen.host, port: o.listen.port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // From now on an error (EMFILE on accept, say) is logged; the listener keeps going.
  server.on("error", (err) => o.log.error({ err: err.message }, "apiserver-proxy listener error"));
  const bound = server.address() as AddressInfo;
  const address = { host: bound.address, port: bound.port };

  let health: HttpServer | undefined;
  let metricsUrl: string | undefined;
  if (o.metricsListen) {
    health = createHttpServer((req, res) => {
      const send = (code: number, body: string, type = "text/plain") => {
        res.writeHead(code, { "content-type": type }).end(body);
      };
      const path = (req.url ?? "/").split("?")[0];
      if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed\n");
      if (path === "/healthz" || path === "/livez")
        return send(closing ? 503 : 200, closing ? "closing\n" : "ok\n");
      if (path === "/readyz") {
        if (closing) return send(503, "closing\n");
        return void probe(o.upstream, Math.min(o.connectTimeoutMs, 2000)).then((err) =>
          err
            ? send(503, `upstream ${o.upstream.host}:${o.upstream.port} unreachable: ${err}\n`)
            : send(200, "ok\n"),
        );
      }
      if (path === "/metrics") {
        return void m.registry.metrics().then((text) => send(200, text, m.registry.contentType));
      }
      send(404, "not found\n");
    });
    const h = health;
    await new Promise<void>((resolve, reject) => {
      h.once("error", reject);
      h.listen({ host: o.metricsListen?.host, port: o.metricsListen?.port }, () => {
        h.off("error", reject);
        resolve();
      });
    }).catch((err: unknown) => {
      server.close();
      throw err;
    });
    const a = h.address() as AddressInfo;
    metricsUrl = `http://${urlHost(a.address)}:${a.port}`;
  }

  return {
    url: `tcp://${urlHost(address.host)}:${address.port}`,
    address,
    ...(metricsUrl ? { metricsUrl } : {}),
    registry: m.registry,
    active: () => clients,
    close: async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      const deadline = Date.now() + o.shutdownGraceMs;
      while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const s of sockets) s.destroy();
      await stopped;
      if (health) {
        health.closeAllConnections();
        await new Promise<void>((resolve) => health?.close(() => resolve()));
      }
    },
  };
}

const connectTimeout = (ms: number) =>
  new KubegateError(`no connection within ${ms} ms`, { code: "KUBEGATE_CONNECT_TIMEOUT" });

/** Opens and closes one TCP connection; resolves to undefined on success or to why it failed. */
/** Whether a TCP connection opens: undefined if it does, else the reason. */
export function probe(target: HostPort, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host: target.host, port: target.port });
    s.setTimeout(timeoutMs, () => s.destroy(connectTimeout(timeoutMs)));
    s.once("connect", () => {
      s.destroy();
      resolve(undefined);
    });
    s.once("error", (err) => resolve(err.message));
  });
}
