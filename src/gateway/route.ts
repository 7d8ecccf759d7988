// A tenancy route: one named step of the gateway pipeline that may take a request over. It answers
// the HTTP code it sent, or undefined when the request is not its business and the next step decides.
import type { UserInfo } from "../authn/user.ts";
import type { RequestInfo } from "../kube/request-info.ts";
import type { Upstream } from "../kube/upstream.ts";
import type { TenancyContext } from "./filter.ts";
import type { ClientHeaders } from "./headers.ts";
import type { ClientRequest, ClientResponse } from "./pipeline.ts";
import type { Answer } from "./upstream-call.ts";

export interface RouteRequest {
  tenancy: TenancyContext;
  upstream: Upstream;
  req: ClientRequest;
  res: ClientResponse;
  info: RequestInfo;
  headers: ClientHeaders;
  user: UserInfo;
  /** Forwards the request impersonated; `body` replaces the client's stream once it has been read. */
  passthrough: () => Promise<number>;
  /** The request with this body, impersonated, its answer read back instead of streamed. */
  asUser: (body: Buffer, accept: string) => Promise<Answer>;
}

export type Route = (r: RouteRequest) => Promise<number | undefined>;
