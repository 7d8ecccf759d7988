// The shapes every part of the gateway shares: the gateway's long-lived dependencies, one request's
// context, the upstream client a route calls kube-apiserver with, and a route of the route table.
// Only types live here, and this file imports no file of gateway/ that imports it back (a unit test,
// src/architecture.test.ts, fails on any import cycle in src/).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Authenticators } from "../authn/authenticate.ts";
import type { UserInfo } from "../authn/user.ts";
import type { Discovery } from "../kube/discovery.ts";
import type { RequestInfo } from "../kube/request-info.ts";
import type { Reviews } from "../kube/reviews.ts";
import type { Upstream } from "../kube/upstream.ts";
import type { AuditSink } from "../observability/audit.ts";
import type { Logger } from "../observability/logger.ts";
import type { GatewayMetrics } from "../observability/metrics.ts";
import type { TenancyIndex } from "../tenancy/index.ts";
import type { ClientHeaders } from "./headers.ts";
import type { Inflight } from "./inflight.ts";
import type { PerAddress } from "./per-address.ts";
import type { ContinueTokens } from "./routes/continue-token.ts";
import type { StreamBudget } from "./stream-budget.ts";
import type { UpstreamIdentity } from "./upstream-identity.ts";

export type ClientRequest = IncomingMessage | Http2ServerRequest;
export type ClientResponse = ServerResponse | Http2ServerResponse;

/** What tenant filtering needs: the index of who may see what, and how pages are sealed. */
export interface TenancyContext {
  index: TenancyIndex;
  reviews: Reviews;
  ignoredUsers: Set<string>;
  ignoredGroups: Set<string>;
  /** Seals the continue tokens of filtered pages. */
  tokens: ContinueTokens;
  /** Which resources the cluster serves, and which are namespaced (all-namespaces views). */
  discovery: Discovery;
  /** Namespaces an all-namespaces list or watch reads at once. */
  fanOutConcurrency: number;
  /** Upstream watch streams all-namespaces watches hold, per user. */
  streams: StreamBudget;
  /**
   * A namespace list without a resourceVersion is made of consistent reads from the apiserver (what
   * the user's grants select, consistent-namespace-list.ts) rather than the informer (ms behind).
   */
  consistentNamespaceLists: boolean;
}

/** The gateway's dependencies, built once at start-up and shared by every request. */
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
  /** The routes, in the order they are tried (routes.ts builds them from the options above). */
  routes: readonly Route[];
}

/** What one request turned out to be, for metrics and the audit line. */
export interface Outcome {
  info?: RequestInfo;
  requester?: UserInfo;
  effective?: UserInfo;
  /** The route that answered. */
  route?: string;
  code: number;
  message?: string;
}

/** An answer read whole. */
export interface Answer {
  code: number;
  contentType: string;
  text: string;
}

/** An answer whose body is still arriving: a route reads it as it comes (a watch it filters). */
export interface Streamed {
  code: number;
  contentType: string;
  body: AsyncIterable<Buffer>;
  text(): Promise<string>;
  /** Stops reading the answer and closes the upstream request (one watch of several ends). */
  close(): void;
}

/** Who kube-apiserver sees: the user (impersonated or front-proxied), or the gateway itself. */
export type As = "user" | "gateway";

/** One call to kube-apiserver; every field left out is the client's own request's. */
export interface UpstreamCall {
  method?: string;
  /** Path and query; the client's by default. */
  path?: string;
  body?: Buffer | string;
  contentType?: string;
  /** Default: the client's Accept as the user, application/json as the gateway. */
  accept?: string;
  /**
   * As the gateway, also send the client's own headers (its content type, Accept, user agent): a
   * write the gateway makes for the user should read to the apiserver as the user's request did.
   */
  clientHeaders?: boolean;
  /** Watches and followed logs: the uncapped streams pool. */
  longRunning?: boolean;
  /**
   * Time limits of a whole() call: "short" (30 s to headers and to the body: small objects) or "pool"
   * (the pool's own: 60 s to headers, none for the body: whole lists that may be large).
   */
  timeouts?: "short" | "pool";
}

/**
 * The one way routes reach kube-apiserver: two identities, two modes (stream the answer, read it
 * whole), plus the passthrough, which streams the client's own request's answer straight back.
 * Unreachable upstream becomes a 503 Status; every call ends when the request's signal aborts.
 */
export interface UpstreamClient {
  passthrough(path?: string): Promise<number>;
  whole(as: As, call?: UpstreamCall): Promise<Answer>;
  stream(as: As, call?: UpstreamCall): Promise<Streamed>;
}

/** One request, as every route sees it. */
export interface RequestContext {
  readonly gateway: GatewayContext;
  readonly req: ClientRequest;
  readonly res: ClientResponse;
  readonly info: RequestInfo;
  readonly headers: ClientHeaders;
  /** Whom the request is for (the impersonated user under `kubectl --as`). */
  readonly user: UserInfo;
  readonly upstream: UpstreamClient;
  /**
   * Aborted when the client leaves before the gateway ended its answer (always when a watch ends):
   * the gateway's own calls for the request stop with it.
   */
  readonly signal: AbortSignal;
}

/** A request on a tenancy route: the tenancy context is there. */
export interface TenantRequest extends RequestContext {
  readonly tenancy: TenancyContext;
}

/**
 * One entry of the route table. `match` looks at the parsed request only and says whether the route
 * is for it (with what it found, for `handle`). `handle` answers with the HTTP code it sent, or
 * undefined when, having looked closer, the request is not its business: the next matching route
 * takes it.
 */
export interface Route<P = unknown> {
  readonly name: string;
  /** Answered without calling anyone (a redirect): not counted in flight, never refused for load. */
  readonly untracked?: boolean;
  match(info: RequestInfo): P | undefined;
  handle(ctx: RequestContext, params: P): Promise<number | undefined>;
}
