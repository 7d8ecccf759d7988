// How kube-apiserver learns who the user is when the gateway forwards a request. Two ways:
//   impersonate (default): the gateway's own credential plus Impersonate-* headers. The apiserver
//     authorizes every impersonated name, group and extra value separately, so a user in 200 groups
//     costs it about 200 extra authorization checks per request.
//   front-proxy: the gateway presents a client certificate from the apiserver's request-header CA
//     (--requestheader-client-ca-file, CN in --requestheader-allowed-names) and X-Remote-* headers, as
//     the aggregation layer does; the apiserver takes the identity as authenticated, with no extra
//     authorization. Whoever holds that certificate can assert any identity: guard it like a cluster-
//     admin credential.
// The gateway's own calls (reviews, informers, granted writes) always use its own credential.
import type { Agent as HttpsAgent } from "node:https";
import type { Pool } from "undici";
import { headerValue } from "../authn/identity-policy.ts";
import type { UserInfo } from "../authn/user.ts";
import { closeConnections, openConnections, type Upstream } from "../kube/upstream.ts";
import { encodeExtraKey, impersonationHeaders } from "./headers.ts";

export interface UpstreamIdentity {
  readonly kind: "impersonate" | "front-proxy";
  /** The headers that carry the user, and the credential they need. */
  headers(user: UserInfo): Record<string, string | string[]>;
  /** The pool for the user's requests: streams (watches, followed logs) or ordinary ones. */
  pool(longRunning: boolean): Pool;
  /** The agent for the user's exec/attach/port-forward tunnels. */
  readonly upgradeAgent: HttpsAgent;
  close(): Promise<void>;
}

/** The default: the gateway's own credential and connections, the user in Impersonate-* headers. */
export function impersonating(upstream: Upstream): UpstreamIdentity {
  return {
    kind: "impersonate",
    headers: (user) => upstream.withCredential(impersonationHeaders(user)),
    pool: (longRunning) => upstream.poolFor(longRunning),
    upgradeAgent: upstream.upgradeAgent,
    close: async () => undefined,
  };
}

/** The header names kube-apiserver reads for request-header authentication (kubeadm's, and ours). */
export const FRONT_PROXY_HEADERS = {
  user: "x-remote-user",
  group: "x-remote-group",
  uid: "x-remote-uid",
  extraPrefix: "x-remote-extra-",
} as const;

/** The user as X-Remote-* headers; no Authorization: the client certificate is the credential. */
export function frontProxyHeaders(user: UserInfo): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = { [FRONT_PROXY_HEADERS.user]: headerValue(user.name) };
  if (user.groups.length > 0) h[FRONT_PROXY_HEADERS.group] = user.groups.map(headerValue);
  // Read only by apiservers started with --requestheader-uid-headers (feature RemoteRequestHeaderUID).
  if (user.uid) h[FRONT_PROXY_HEADERS.uid] = headerValue(user.uid);
  for (const [key, values] of Object.entries(user.extra)) {
    if (values.length > 0)
      h[`${FRONT_PROXY_HEADERS.extraPrefix}${encodeExtraKey(key)}`] = values.map(headerValue);
  }
  return h;
}

export function frontProxy(upstream: Upstream, client: { cert: string; key: string }): UpstreamIdentity {
  const { connection } = upstream;
  const c = openConnections(connection.server.origin, { ca: connection.ca, ...client });
  return {
    kind: "front-proxy",
    headers: frontProxyHeaders,
    pool: (longRunning) => (longRunning ? c.streams : c.pool),
    upgradeAgent: c.upgradeAgent,
    close: () => closeConnections(c),
  };
}
