// One request as the routes see it (types.ts, RequestContext), and what shutdown cancels for it.
import type { UserInfo } from "../authn/user.ts";
import type { RequestInfo } from "../kube/request-info.ts";
import type { ClientHeaders } from "./headers.ts";
import type { Cancellable } from "./inflight.ts";
import type {
  ClientRequest,
  ClientResponse,
  GatewayContext,
  RequestContext,
  TenancyContext,
  UpstreamClient,
} from "./types.ts";
import { RequestUpstream } from "./upstream-client.ts";

/**
 * What shutdown cancels for one request: whatever the route put in charge (a relayed upstream call),
 * else the response itself, which ends a watch the gateway serves and, through the request's signal,
 * the upstream read behind it.
 */
export class RequestCancel implements Cancellable {
  current: Cancellable | undefined;
  constructor(private readonly res: ClientResponse) {}
  abort(): void {
    if (this.current) this.current.abort();
    else if (!this.res.writableFinished) this.res.destroy();
  }
}

export class GatewayRequest implements RequestContext {
  readonly cancel: RequestCancel;
  readonly upstream: UpstreamClient;
  #abort: AbortController | undefined;

  constructor(
    readonly gateway: GatewayContext,
    readonly req: ClientRequest,
    readonly res: ClientResponse,
    readonly info: RequestInfo,
    readonly headers: ClientHeaders,
    readonly user: UserInfo,
  ) {
    this.cancel = new RequestCancel(res);
    this.upstream = new RequestUpstream(this);
    res.once("close", () => this.closed());
  }

  #gone = false;

  get tenancy(): TenancyContext | undefined {
    return this.gateway.tenancy;
  }

  // The controller is made on first use (the plain passthrough never needs one), but whether the
  // client left is followed from the start: on HTTP/2 a response has no `destroyed`, and a client gone
  // while a route was still deciding must abort the calls it makes afterwards. A watch's response can
  // be ended by the gateway (shutdown) while its upstream read still streams, and only this abort ends
  // that read: watches always abort. Anything else only when the client left before the gateway ended
  // the response (writableEnded: an HTTP/2 reset also marks writableFinished).
  get signal(): AbortSignal {
    if (!this.#abort) {
      this.#abort = new AbortController();
      if (this.#gone) this.#abort.abort();
    }
    return this.#abort.signal;
  }

  /** Called once, when the response closes. */
  closed(): void {
    if (this.info.verb !== "watch" && this.res.writableEnded) return;
    this.#gone = true;
    this.#abort?.abort();
  }
}
