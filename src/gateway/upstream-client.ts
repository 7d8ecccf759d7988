// The one upstream client (types.ts, UpstreamClient). As the user: the client's sanitized headers plus
// the identity headers (impersonation or front-proxy), on the identity's connections. As the gateway:
// the gateway's own credential, on its own connections, nobody impersonated.
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import type { UserInfo } from "../authn/user.ts";
import { isLongRunning } from "../kube/request-info.ts";
import { unavailable } from "../kube/upstream.ts";
import { StatusError, status } from "../status/status.ts";
import type { ClientHeaders } from "./headers.ts";
import type { Cancellable } from "./inflight.ts";
import type {
  Answer,
  As,
  ClientRequest,
  GatewayContext,
  RequestContext,
  Streamed,
  UpstreamCall,
  UpstreamClient,
} from "./types.ts";
import { CLIENT_CLOSED, UpstreamRelay } from "./upstream-relay.ts";

/** Calls the gateway reads whole are small objects: they need not wait as long as a stream may. */
const WHOLE_TIMEOUT_MS = 30_000;

/** Headers of the user's request upstream: the client's safe ones, then the user and its credential. */
export function userHeaders(
  g: GatewayContext,
  req: ClientRequest,
  headers: ClientHeaders,
  user: UserInfo,
): Record<string, string | string[]> {
  return { ...headers.forward, ...g.identity.headers(user), ...forwardedFor(req) };
}

function hasBody(req: ClientRequest): boolean {
  if ("stream" in req && req.stream) return !req.stream.endAfterHeaders;
  const length = req.headers["content-length"];
  return (length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined;
}

export class RequestUpstream implements UpstreamClient {
  constructor(private readonly r: RequestContext & { cancel: { current: Cancellable | undefined } }) {}

  passthrough(path?: string): Promise<number> {
    const { gateway: g, req, res, info } = this.r;
    const longRunning = isLongRunning(info);
    const relay = new UpstreamRelay(res, longRunning);
    this.r.cancel.current = relay;
    return relay.send(g.identity.pool(longRunning), {
      method: req.method ?? "GET",
      path: path ?? req.url ?? "/",
      headers: userHeaders(g, req, this.r.headers, this.r.user),
      body: hasBody(req) ? (req as unknown as Readable) : null,
    });
  }

  async whole(as: As, call: UpstreamCall = {}): Promise<Answer> {
    const limits =
      call.timeouts === "pool" ? {} : { headersTimeout: WHOLE_TIMEOUT_MS, bodyTimeout: WHOLE_TIMEOUT_MS };
    try {
      const up = await this.pool(as, call).request({ ...this.options(as, call), ...limits });
      return { code: up.statusCode, contentType: contentTypeOf(up.headers), text: await up.body.text() };
    } catch (err) {
      throw this.failure(err);
    }
  }

  async stream(as: As, call: UpstreamCall = {}): Promise<Streamed> {
    let up: Dispatcher.ResponseData;
    try {
      up = await this.pool(as, call).request(this.options(as, call));
    } catch (err) {
      throw this.failure(err);
    }
    return {
      code: up.statusCode,
      contentType: contentTypeOf(up.headers),
      body: up.body,
      text: () => up.body.text(),
      close: () => {
        // Destroying the body aborts the request, which the body reports as an error: expected here.
        up.body.on("error", () => undefined);
        up.body.destroy();
      },
    };
  }

  /** A call cut short because the client left is the client's doing (499), not the apiserver's. */
  private failure(err: unknown): StatusError {
    if (this.r.signal.aborted)
      return new StatusError(
        status(CLIENT_CLOSED, "the client closed the request"),
        "KUBEGATE_CLIENT_CLOSED",
      );
    return unavailable(err);
  }

  private pool(as: As, call: UpstreamCall) {
    const long = call.longRunning ?? false;
    return as === "user" ? this.r.gateway.identity.pool(long) : this.r.gateway.upstream.poolFor(long);
  }

  private options(as: As, call: UpstreamCall): Dispatcher.RequestOptions {
    const { gateway: g, req } = this.r;
    let headers: Record<string, string | string[]>;
    if (as === "user") headers = userHeaders(g, req, this.r.headers, this.r.user);
    else if (call.clientHeaders) headers = g.upstream.withCredential({ ...this.r.headers.forward });
    else headers = g.upstream.ownHeaders();
    // The body is the gateway's (read, or rewritten): its length is undici's to set.
    delete headers["content-length"];
    if (call.accept) headers.accept = call.accept;
    if (call.contentType) headers["content-type"] = call.contentType;
    else if (call.body !== undefined && !headers["content-type"])
      headers["content-type"] = "application/json";
    return {
      method: (call.method ?? req.method ?? "GET") as Dispatcher.HttpMethod,
      path: call.path ?? req.url ?? "/",
      headers,
      body: call.body ?? null,
      signal: this.r.signal,
    };
  }
}

function forwardedFor(req: ClientRequest): Record<string, string> {
  const ip = req.socket?.remoteAddress;
  return ip ? { "x-forwarded-for": ip } : {};
}

function contentTypeOf(headers: Record<string, string | string[] | undefined>): string {
  const v = headers["content-type"];
  return (Array.isArray(v) ? v[0] : v) ?? "application/json";
}
