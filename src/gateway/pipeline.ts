// The gateway's request pipeline, top to bottom:
//   parse the path → authenticate → read/sanitize headers → `kubectl --as` authorization
//   → (redirect for interactive paths | forward with impersonation and stream back)
//   → metrics and audit, always, whatever happened.
// Upgrades (exec, attach, port-forward) take the same steps in upgrade.ts, over a raw tunnel.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { TLSSocket } from "node:tls";
import { type Authenticators, authenticate } from "../authn/authenticate.ts";
import type { UserInfo } from "../authn/user.ts";
import { isLongRunning, PathError, parseRequestInfo, type RequestInfo } from "../kube/request-info.ts";
import type { Reviews } from "../kube/reviews.ts";
import type { Upstream } from "../kube/upstream.ts";
import { type AuditSink, auditUser, newAuditId } from "../observability/audit.ts";
import type { Logger } from "../observability/logger.ts";
import { codeLabel, resourceLabel, verbLabel } from "../observability/metric-labels.ts";
import type { GatewayMetrics } from "../observability/metrics.ts";
import { badRequest, type Status, StatusError, status, toStatus, unauthorized } from "../status/status.ts";
import { accessReviews } from "./access-review.ts";
import { filteredKinds, type TenancyContext } from "./filter.ts";
import { type ClientHeaders, readClientHeaders } from "./headers.ts";
import { authorizeImpersonation } from "./impersonation.ts";
import type { Cancellable, Inflight } from "./inflight.ts";
import { namespaceCreation } from "./namespace-create.ts";
import { nodeDescribeRoutes } from "./node-routes.ts";
import type { Route, RouteRequest } from "./route.ts";
import { type Answer, answerWhole } from "./upstream-call.ts";
import type { UpstreamIdentity } from "./upstream-identity.ts";
import { UpstreamRelay } from "./upstream-relay.ts";

export type ClientRequest = IncomingMessage | Http2ServerRequest;
export type ClientResponse = ServerResponse | Http2ServerResponse;

export interface GatewayContext {
  upstream: Upstream;
  /** How forwarded requests carry the user: impersonation, or front-proxy headers. */
  identity: UpstreamIdentity;
  reviews: Reviews;
  authenticators: Authenticators;
  metrics: GatewayMetrics;
  audit?: AuditSink;
  log: Logger;
  /** exec/attach/port-forward: tunnel them (default) or answer 307 to the apiserver (the seed's way). */
  interactiveMode: "proxy" | "redirect";
  /** "aggregated": namespace lists go to custom.api.local/v1/mynamespace (seed 000's flow). */
  namespaces: "passthrough" | "aggregated";
  /** Tenant filtering of cluster-scoped kinds; absent = everything passes through. */
  tenancy?: TenancyContext;
  inflight: Inflight;
  /** Authentications in progress per client address (each unknown token is a TokenReview). */
  authenticating: PerAddress;
}

/** What one request turned out to be, for metrics and the audit line. */
export interface Outcome {
  info?: RequestInfo;
  requester?: UserInfo;
  effective?: UserInfo;
  code: number;
  message?: string;
}

const INTERACTIVE = new Set(["exec", "attach", "portforward"]);

export function isInteractive(info: RequestInfo): boolean {
  return info.isResourceRequest && info.resource === "pods" && INTERACTIVE.has(info.subresource);
}

/** The connection whose TLS session carries the request: one per HTTP/2 session or HTTP/1.1 socket. */
export function tlsOf(req: ClientRequest): TLSSocket | undefined {
  const socket = req.socket as TLSSocket | undefined;
  return socket && typeof socket.getPeerCertificate === "function" ? socket : undefined;
}

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

/** Steps shared by plain requests and upgrades: who is asking, and as whom the apiserver must see it. */
export async function admit(
  ctx: GatewayContext,
  req: ClientRequest,
  outcome: Outcome,
): Promise<{ info: RequestInfo; headers: ClientHeaders; user: UserInfo }> {
  let info: RequestInfo;
  try {
    info = parseRequestInfo(req.method ?? "GET", req.url ?? "/");
  } catch (err) {
    if (err instanceof PathError) throw badRequest((err as Error).message);
    throw err;
  }
  outcome.info = info;
  const headers = readClientHeaders(req.rawHeaders);
  const authn = await ctx.authenticating.around(req.socket?.remoteAddress ?? "", () =>
    authenticate(ctx.authenticators, tlsOf(req), headers.authorization),
  );
  if (authn.kind !== "user") {
    ctx.metrics.authnFailures.inc();
    outcome.message = authn.kind === "rejected" ? authn.reason : "no credentials";
    throw unauthorized(authn.kind === "rejected" && authn.tell ? `Unauthorized: ${authn.reason}` : undefined);
  }
  outcome.requester = authn.user;
  const user = headers.impersonation
    ? await authorizeImpersonation(ctx.reviews, authn.user, headers.impersonation)
    : authn.user;
  outcome.effective = user;
  return { info, headers, user };
}

/** Headers for the upstream request: the client's safe ones, then the user and its credential. */
export function upstreamHeaders(
  ctx: GatewayContext,
  req: ClientRequest,
  headers: ClientHeaders,
  user: UserInfo,
) {
  const out: Record<string, string | string[]> = { ...headers.forward, ...ctx.identity.headers(user) };
  const ip = req.socket?.remoteAddress;
  if (ip) out["x-forwarded-for"] = ip;
  return out;
}

export function redirectLocation(ctx: GatewayContext, req: ClientRequest): string {
  return new URL(req.url ?? "/", ctx.upstream.connection.server).toString();
}

export const MYNAMESPACE_PATH = "/apis/custom.api.local/v1/mynamespace";

/** Where the request goes upstream: the same path, except what a routing mode rewrites. */
export function upstreamPath(ctx: GatewayContext, req: ClientRequest, info: RequestInfo): string {
  const target = req.url ?? "/";
  if (
    ctx.namespaces === "aggregated" &&
    info.isResourceRequest &&
    info.verb === "list" &&
    info.apiGroup === "" &&
    info.resource === "namespaces" &&
    info.name === ""
  ) {
    const q = target.indexOf("?");
    return q === -1 ? MYNAMESPACE_PATH : `${MYNAMESPACE_PATH}${target.slice(q)}`;
  }
  return target;
}

function hasBody(req: ClientRequest): boolean {
  if ("stream" in req && req.stream) return !req.stream.endAfterHeaders;
  const length = req.headers["content-length"];
  return (length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined;
}

/** Both response kinds take the same arguments; TypeScript cannot call the union directly. */
function writeHead(
  res: ClientResponse,
  code: number,
  headers: Record<string, string | string[] | number>,
): void {
  (res as ServerResponse).writeHead(code, headers);
}

export function sendStatus(res: ClientResponse, s: Status): number {
  if (res.headersSent) {
    // Too late for a Status: cut the stream so the client sees an error, not a silent truncation.
    res.destroy();
    return s.code;
  }
  const body = JSON.stringify(s);
  writeHead(res, s.code, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
  return s.code;
}

/**
 * What shutdown cancels for one request: whatever the route put in charge (a relayed upstream call),
 * else the response itself, which ends a watch the gateway serves.
 */
class RequestCancel implements Cancellable {
  current: Cancellable | undefined;
  constructor(private readonly res: ClientResponse) {}
  abort(): void {
    if (this.current) this.current.abort();
    else if (!this.res.writableFinished) this.res.destroy();
  }
}

async function forward(
  ctx: GatewayContext,
  req: ClientRequest,
  res: ClientResponse,
  info: RequestInfo,
  headers: ClientHeaders,
  user: UserInfo,
  cancel: RequestCancel,
): Promise<number> {
  const longRunning = isLongRunning(info);
  const relay = new UpstreamRelay(res, longRunning);
  cancel.current = relay;
  return relay.send(ctx.identity.pool(longRunning), {
    method: req.method ?? "GET",
    path: upstreamPath(ctx, req, info),
    headers: upstreamHeaders(ctx, req, headers, user),
    body: hasBody(req) ? (req as unknown as import("node:stream").Readable) : null,
  });
}

/**
 * The tenancy steps, in order; the first that takes the request answers it. Everything else (and
 * every request when tenancy is off) is forwarded impersonated.
 */
const TENANCY_ROUTES: readonly Route[] = [
  namespaceCreation, // tenant owners create namespaces in their tenant
  accessReviews, // kubectl auth can-i reflects what the gateway grants
  nodeDescribeRoutes, // pods on a node, node leases, node metrics
  filteredKinds, // list/get/watch/update/delete of the filtered cluster-scoped kinds
];

async function route(
  ctx: GatewayContext,
  req: ClientRequest,
  res: ClientResponse,
  info: RequestInfo,
  headers: ClientHeaders,
  user: UserInfo,
  cancel: RequestCancel,
): Promise<number> {
  const passthrough = () => forward(ctx, req, res, info, headers, user, cancel);
  // A rewritten path (aggregated namespaces) is already another server's answer to give.
  if (!ctx.tenancy || upstreamPath(ctx, req, info) !== (req.url ?? "/")) return passthrough();
  const r: RouteRequest = {
    tenancy: ctx.tenancy,
    upstream: ctx.upstream,
    req,
    res,
    info,
    headers,
    user,
    passthrough,
    asUser: (body, accept) => callAsUser(ctx, req, headers, user, body, accept),
  };
  for (const step of TENANCY_ROUTES) {
    const code = await step(r);
    if (code !== undefined) return code;
  }
  return passthrough();
}

/** The client's request, impersonated, with a body already read; the answer comes back whole. */
async function callAsUser(
  ctx: GatewayContext,
  req: ClientRequest,
  headers: ClientHeaders,
  user: UserInfo,
  body: Buffer,
  accept: string,
): Promise<Answer> {
  const h = upstreamHeaders(ctx, req, headers, user);
  delete h["content-length"];
  h.accept = accept;
  return answerWhole(ctx.identity.pool(false), {
    method: (req.method ?? "POST") as "POST",
    path: req.url ?? "/",
    headers: h,
    body,
  });
}

/** Entry point for every non-upgrade request. */
export async function handleRequest(
  ctx: GatewayContext,
  req: ClientRequest,
  res: ClientResponse,
): Promise<void> {
  const receivedAt = new Date();
  const started = performance.now();
  const outcome: Outcome = { code: 0 };
  try {
    const { info, headers, user } = await admit(ctx, req, outcome);
    if (isInteractive(info) && ctx.interactiveMode === "redirect") {
      writeHead(res, 307, { location: redirectLocation(ctx, req), "content-length": 0 });
      res.end();
      outcome.code = 307;
    } else {
      // Every request is in flight from here, whichever route answers it: SIGTERM's drain waits for a
      // guarded write between its dry run and its write, and cuts watches the gateway serves itself.
      const cancel = new RequestCancel(res);
      const release = ctx.inflight.enter(isLongRunning(info), cancel, user.name);
      try {
        outcome.code = await route(ctx, req, res, info, headers, user, cancel);
      } finally {
        release();
      }
    }
  } catch (err) {
    const s = toStatus(err);
    if (s.code >= 500 && !(err instanceof StatusError))
      ctx.log.error({ err, url: req.url }, "request failed");
    outcome.code = sendStatus(res, s);
  } finally {
    record(ctx, req, outcome, receivedAt, started);
  }
}

/** Metrics and the audit event, for requests and upgrades alike. */
export function record(
  ctx: GatewayContext,
  req: ClientRequest,
  o: Outcome,
  receivedAt: Date,
  started: number,
): void {
  const verb = o.info?.verb ?? (req.method ?? "").toLowerCase();
  const resource = o.info?.isResourceRequest ? o.info.resource : "";
  ctx.metrics.observe(
    verbLabel(verb),
    resourceLabel(resource, o.requester !== undefined),
    codeLabel(o.code),
    (performance.now() - started) / 1000,
  );
  if (!ctx.audit) return;
  const i = o.info;
  ctx.audit({
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "Metadata",
    auditID: newAuditId(),
    stage: "ResponseComplete",
    requestURI: req.url ?? "",
    verb,
    user: o.requester ? auditUser(o.requester) : { username: "system:anonymous" },
    ...(o.effective && o.effective !== o.requester ? { impersonatedUser: auditUser(o.effective) } : {}),
    sourceIPs: req.socket?.remoteAddress ? [req.socket.remoteAddress] : [],
    ...(typeof req.headers["user-agent"] === "string" ? { userAgent: req.headers["user-agent"] } : {}),
    ...(i?.isResourceRequest
      ? {
          objectRef: {
            resource: i.resource,
            ...(i.namespace ? { namespace: i.namespace } : {}),
            ...(i.name ? { name: i.name } : {}),
            apiGroup: i.apiGroup,
            apiVersion: i.apiVersion,
            ...(i.subresource ? { subresource: i.subresource } : {}),
          },
        }
      : {}),
    responseStatus: { metadata: {}, code: o.code, ...(o.message ? { message: o.message } : {}) },
    requestReceivedTimestamp: receivedAt.toISOString(),
    stageTimestamp: new Date().toISOString(),
  });
}
