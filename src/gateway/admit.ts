// The steps every request takes before it is routed, upgrades included: parse the path, authenticate,
// read and sanitize the headers, authorize `kubectl --as`.
import type { TLSSocket } from "node:tls";
import { authenticate } from "../authn/authenticate.ts";
import type { UserInfo } from "../authn/user.ts";
import { PathError, parseRequestInfo, type RequestInfo } from "../kube/request-info.ts";
import { badRequest, unauthorized } from "../status/status.ts";
import { type ClientHeaders, readClientHeaders } from "./headers.ts";
import { authorizeImpersonation } from "./impersonation.ts";
import type { ClientRequest, GatewayContext, Outcome } from "./types.ts";

/** The connection whose TLS session carries the request: one per HTTP/2 session or HTTP/1.1 socket. */
export function tlsOf(req: ClientRequest): TLSSocket | undefined {
  const socket = req.socket as TLSSocket | undefined;
  return socket && typeof socket.getPeerCertificate === "function" ? socket : undefined;
}

export interface Admitted {
  info: RequestInfo;
  headers: ClientHeaders;
  user: UserInfo;
}

/** Who is asking, and as whom the apiserver must see it; a Status error when that cannot be said. */
export async function admit(ctx: GatewayContext, req: ClientRequest, outcome: Outcome): Promise<Admitted> {
  let info: RequestInfo;
  try {
    info = parseRequestInfo(req.method ?? "GET", req.url ?? "/");
  } catch (err) {
    if (err instanceof PathError) throw badRequest((err as Error).message, "KUBEGATE_BAD_PATH");
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
    const told = authn.kind === "rejected" && authn.tell;
    throw unauthorized(
      told ? `Unauthorized: ${authn.reason}` : undefined,
      told ? "KUBEGATE_IDENTITY_REFUSED" : "KUBEGATE_UNAUTHENTICATED",
    );
  }
  outcome.requester = authn.user;
  const user = headers.impersonation
    ? await authorizeImpersonation(ctx.reviews, authn.user, headers.impersonation)
    : authn.user;
  outcome.effective = user;
  return { info, headers, user };
}
