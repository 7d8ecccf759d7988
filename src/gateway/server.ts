import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createSecureServer, type Http2SecureServer, type Http2Session } from "node:http2";
import type { Authenticators, TokenAuthenticator } from "../authn/authenticate.ts";
import type { Connection } from "../kube/connection.ts";
import { Discovery, discoveryFetch } from "../kube/discovery.ts";
import { Reviews } from "../kube/reviews.ts";
import { Upstream } from "../kube/upstream.ts";
import { createAuditSink } from "../observability/audit.ts";
import type { Logger } from "../observability/logger.ts";
import { GatewayMetrics } from "../observability/metrics.ts";
import { checkServingPair } from "../pki/serving-pair.ts";
import { listen, ServerShell, type TlsMaterial, TlsReloader, urlOf } from "../serving/shell.ts";
import { KubegateError } from "../status/errors.ts";
import { TenancyIndex } from "../tenancy/index.ts";
import { answerClientError } from "./client-error.ts";
import {
  type ConnectionGuard,
  type ConnectionLimits,
  DEFAULT_LIMITS,
  guardConnections,
} from "./connection-guard.ts";
import { Inflight } from "./inflight.ts";
import { PerAddress } from "./per-address.ts";
import { handleRequest } from "./pipeline.ts";
import { ContinueTokens } from "./routes/continue-token.ts";
import { routeTable } from "./routes.ts";
import { StreamBudget } from "./stream-budget.ts";
import type { GatewayContext } from "./types.ts";
import { handleUpgrade } from "./upgrade.ts";
import { frontProxy, impersonating } from "./upstream-identity.ts";

export interface GatewayOptions {
  listen: { host: string; port: number };
  /** TLS material; absent only with insecureHttp (loopback, tokens only). */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
  insecureHttp?: boolean;
  upstream: Connection;
  /**
   * Forward the user as front-proxy (request-header) headers with this client certificate instead of
   * impersonating: see upstream-identity.ts. Absent = impersonation.
   */
  frontProxy?: { certFile: string; keyFile: string };
  oidc?: TokenAuthenticator;
  tokenReview: boolean;
  tokenAudiences?: string[];
  metricsListen?: { host: string; port: number };
  auditLog?: string;
  interactiveMode: "proxy" | "redirect";
  namespaces?: "passthrough" | "aggregated";
  /** Tenant filtering of cluster-scoped kinds (needs kubegate's CRDs). */
  tenancy?: {
    tenantLabel: string;
    teamLabel?: string;
    ignoredUsers: string[];
    ignoredGroups: string[];
    /** Namespaces an all-namespaces list or watch reads at once (default 8). */
    fanOutConcurrency?: number;
    /** Upstream watches one user's all-namespaces watches may hold together (default 1000; 0 = no limit). */
    maxFanOutStreamsPerUser?: number;
    /** Namespace lists without a resourceVersion read upstream, as consistent reads (default false). */
    consistentNamespaceLists?: boolean;
  };
  reloadIntervalMs?: number;
  shutdownGraceMs?: number;
  /** Header and idle deadlines, connections per client address (connection-guard.ts). */
  connectionLimits?: ConnectionLimits;
  /** Long-running requests (watches, logs, tunnels) one user may hold at once; 0 = no limit. */
  maxLongRunningPerUser?: number;
  /** Ordinary requests one user may have in progress at once; 0 = no limit. */
  maxRequestsPerUser?: number;
  /** Accept system:* users and groups from client certificates and OIDC. */
  allowReservedIdentity?: boolean;
  log: Logger;
}

export interface RunningGateway {
  url: string;
  metricsUrl?: string;
  context: GatewayContext;
  connections: ConnectionGuard;
  /** Re-reads the certificate files now (also done on a timer). */
  reload(): boolean;
  /** Stops accepting, cuts watches and tunnels, waits for the rest up to the grace period. */
  shutdown(): Promise<void>;
}

function readTls(t: NonNullable<GatewayOptions["tls"]>): TlsMaterial {
  return {
    cert: readFileSync(t.certFile, "utf8"),
    key: readFileSync(t.keyFile, "utf8"),
    ca: t.clientCaFile ? readFileSync(t.clientCaFile, "utf8") : undefined,
  };
}

function readFrontProxy(f: NonNullable<GatewayOptions["frontProxy"]>): { cert: string; key: string } {
  try {
    const pair = { cert: readFileSync(f.certFile, "utf8"), key: readFileSync(f.keyFile, "utf8") };
    checkServingPair(pair.cert, pair.key);
    return pair;
  } catch (err) {
    throw new KubegateError(`--front-proxy-cert/--front-proxy-key: ${(err as Error).message}`);
  }
}

const isLoopback = (host: string) => host === "localhost" || host === "::1" || /^127\./.test(host);

export async function startGateway(o: GatewayOptions): Promise<RunningGateway> {
  if (!o.tls && !o.insecureHttp) throw new KubegateError("the gateway needs --tls-cert and --tls-key");
  if (o.insecureHttp && !isLoopback(o.listen.host)) {
    throw new KubegateError(`--insecure-http listens on loopback only, not ${o.listen.host}`);
  }
  const upstream = new Upstream(o.upstream);
  const reviews = new Reviews(upstream);
  const identity = o.frontProxy
    ? frontProxy(upstream, readFrontProxy(o.frontProxy))
    : impersonating(upstream);
  const metrics = new GatewayMetrics();
  const authenticators: Authenticators = {
    certificates: Boolean(o.tls?.clientCaFile) && !o.insecureHttp,
    ...(o.tokenReview ? { tokenReview: reviews } : {}),
    ...(o.tokenAudiences ? { tokenAudiences: o.tokenAudiences } : {}),
    ...(o.oidc ? { oidc: o.oidc } : {}),
    ...(o.allowReservedIdentity ? { allowReservedIdentity: true } : {}),
  };
  const index = o.tenancy
    ? new TenancyIndex(
        upstream,
        {
          tenantLabel: o.tenancy.tenantLabel,
          ...(o.tenancy.teamLabel ? { teamLabel: o.tenancy.teamLabel } : {}),
        },
        o.log,
      ).start()
    : undefined;
  const current = o.tls ? readTls(o.tls) : undefined;
  const inflight = new Inflight(
    (long, delta) => metrics.inflight.inc({ long_running: String(long) }, delta),
    o.maxLongRunningPerUser ?? 100,
    o.maxRequestsPerUser ?? 200,
  );
  const audit = createAuditSink(o.auditLog);
  const ctx: GatewayContext = {
    upstream,
    identity,
    reviews,
    authenticators,
    metrics,
    ...(audit ? { audit } : {}),
    log: o.log,
    interactiveMode: o.interactiveMode,
    namespaces: o.namespaces ?? "passthrough",
    ...(index && o.tenancy
      ? {
          tenancy: {
            index,
            reviews,
            ignoredUsers: new Set(o.tenancy.ignoredUsers),
            ignoredGroups: new Set(o.tenancy.ignoredGroups),
            // Every replica mounts the same serving key: a page begun on one continues on another.
            tokens: new ContinueTokens(current?.key),
            discovery: new Discovery(discoveryFetch(upstream)),
            fanOutConcurrency: o.tenancy.fanOutConcurrency ?? 8,
            streams: new StreamBudget(o.tenancy.maxFanOutStreamsPerUser ?? 1000),
            consistentNamespaceLists: o.tenancy.consistentNamespaceLists ?? false,
          },
        }
      : {}),
    inflight,
    authenticating: new PerAddress(32),
    routes: routeTable({
      interactiveMode: o.interactiveMode,
      namespaces: o.namespaces ?? "passthrough",
      tenancy: index !== undefined,
    }),
  };

  let server: Http2SecureServer | HttpServer;
  const sessions = new Set<Http2Session>();
  if (o.tls && current) {
    server = createSecureServer({
      allowHTTP1: true,
      cert: current.cert,
      key: current.key,
      ...(current.ca ? { ca: current.ca } : {}),
      // Ask for a certificate but decide ourselves: token clients connect without one.
      requestCert: Boolean(current.ca),
      rejectUnauthorized: false,
      minVersion: "TLSv1.2",
      // kube-apiserver's --http2-max-streams-per-connection default; enough for client-go's multiplexed watches.
      settings: { maxConcurrentStreams: 1000 },
      // The header deadline covers the handshake too (connection-guard.ts); this is its backstop.
      handshakeTimeout: (o.connectionLimits ?? DEFAULT_LIMITS).headerTimeoutMs || 120_000,
    });
    (server as Http2SecureServer).on("session", (s: Http2Session) => {
      sessions.add(s);
      s.once("close", () => sessions.delete(s));
    });
    (server as Http2SecureServer).on("request", (req, res) => void handleRequest(ctx, req, res));
  } else {
    o.log.warn(
      "--insecure-http: serving plain HTTP on loopback; only bearer tokens authenticate, nothing is encrypted",
    );
    server = createHttpServer((req, res) => void handleRequest(ctx, req, res));
  }
  server.on("upgrade", (req, socket, head) => void handleUpgrade(ctx, req, socket, head));
  server.on("clientError", answerClientError);
  const guard = guardConnections(server, o.connectionLimits ?? DEFAULT_LIMITS);
  const tlsFiles = o.tls;
  const reloader =
    tlsFiles && current
      ? new TlsReloader(
          {
            name: "gateway",
            read: () => readTls(tlsFiles),
            server: server as Http2SecureServer,
            log: o.log,
            intervalMs: o.reloadIntervalMs,
          },
          current,
        )
      : undefined;
  const shell = new ServerShell(server, reloader);

  await listen(server, o.listen.host, o.listen.port);
  const url = urlOf(server, o.tls ? "https" : "http");

  let metricsServer: HttpServer | undefined;
  let metricsUrl: string | undefined;
  if (o.metricsListen) {
    metricsServer = createHttpServer(async (req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/metrics") {
        res.writeHead(200, { "content-type": metrics.registry.contentType });
        res.end(await metrics.registry.metrics());
      } else if (path === "/healthz" || path === "/livez") {
        res.end("ok");
      } else if (path === "/readyz") {
        res.writeHead(shell.closing ? 503 : 200).end(shell.closing ? "shutting down" : "ok");
      } else {
        res.writeHead(404).end();
      }
    });
    await listen(metricsServer, o.metricsListen.host, o.metricsListen.port);
    metricsUrl = urlOf(metricsServer, "http");
  }
  o.log.info(
    { url, metricsUrl, upstream: o.upstream.source, upstreamIdentity: identity.kind },
    "gateway listening",
  );

  const shutdown = () =>
    shell.shutdown({
      stopAccepting: () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sessions) s.close();
        if ("closeIdleConnections" in server) server.closeIdleConnections();
        return closed;
      },
      drain: async () => {
        const clean = await inflight.drain(o.shutdownGraceMs ?? 25_000);
        if (!clean) o.log.warn(inflight.count, "grace period over; closing remaining connections");
      },
      release: async () => {
        await new Promise<void>((resolve) =>
          metricsServer ? metricsServer.close(() => resolve()) : resolve(),
        );
        index?.stop();
        await Promise.all([upstream.close(), identity.close()]);
        o.oidc?.close();
      },
    });
  const reload = () => reloader?.reload() ?? false;
  return { url, ...(metricsUrl ? { metricsUrl } : {}), context: ctx, connections: guard, reload, shutdown };
}
