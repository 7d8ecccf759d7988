import type { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { bearerToken } from "../authn/authenticate.ts";
import type { AuthnResult, UserInfo } from "../authn/user.ts";
import type { Reviews } from "../kube/reviews.ts";
import { type AuthConfig, issuedByAny } from "./auth-config.ts";

const all = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

// The structured subject, not the printed one: a CN containing a newline must not read as a new field.
function subjectOf(cert: X509Certificate): { CN?: string | string[]; O?: string | string[] } {
  return (cert.toLegacyObject().subject ?? {}) as { CN?: string | string[]; O?: string | string[] };
}

function commonName(cert: X509Certificate): string | undefined {
  const cn = all(subjectOf(cert).CN);
  return cn.length === 1 && cn[0] !== "" ? cn[0] : undefined;
}

function organizations(cert: X509Certificate): string[] {
  return all(subjectOf(cert).O);
}

function unescapeExtraKey(key: string): string | undefined {
  try {
    return decodeURIComponent(key).toLowerCase();
  } catch {
    return undefined;
  }
}

/** Request headers with every value kept apart (node joins repeats of unknown headers with ", "). */
export type DistinctHeaders = Record<string, string[] | undefined>;

/** The user the aggregator vouches for, read from the configured X-Remote-* style headers. */
function fromRequestHeaders(config: AuthConfig, headers: DistinctHeaders): AuthnResult {
  let name: string | undefined;
  for (const h of config.usernameHeaders) {
    const v = all(headers[h]).find((x) => x !== "");
    if (v) {
      name = v;
      break;
    }
  }
  if (!name) return { kind: "rejected", reason: "front-proxy request without a user name header" };
  const user: UserInfo = { name, groups: config.groupHeaders.flatMap((h) => all(headers[h])), extra: {} };
  for (const h of config.uidHeaders) {
    const uid = all(headers[h]).find((x) => x !== "");
    if (uid) {
      user.uid = uid;
      break;
    }
  }
  for (const [header, value] of Object.entries(headers)) {
    const prefix = config.extraPrefixes.find((p) => header.startsWith(p));
    if (!prefix) continue;
    const key = unescapeExtraKey(header.slice(prefix.length));
    if (!key) return { kind: "rejected", reason: `undecodable extra header ${header}` };
    user.extra[key] = [...(user.extra[key] ?? []), ...all(value)];
  }
  return { kind: "user", method: "x509", user };
}

/**
 * Authentication exactly as the aggregation layer prescribes: X-Remote-* headers count only on a
 * connection whose client certificate chains to the request-header CA and carries an allowed CN.
 * Otherwise a caller is authenticated directly, by a client certificate from the client CA or a bearer
 * token through TokenReview. Nothing else gets in.
 */
/**
 * Every authenticated caller is in system:authenticated, as kube's delegating authenticator makes it
 * (the aggregator's own identity, system:aggregator, carries no groups and needs system:discovery).
 */
function withAuthenticatedGroup(result: AuthnResult): AuthnResult {
  if (result.kind !== "user") return result;
  const { user } = result;
  if (
    user.name === "system:anonymous" ||
    user.groups.includes("system:authenticated") ||
    user.groups.includes("system:unauthenticated")
  ) {
    return result;
  }
  return { ...result, user: { ...user, groups: [...user.groups, "system:authenticated"] } };
}

export async function authenticateAggregated(
  config: AuthConfig,
  socket: TLSSocket,
  headers: DistinctHeaders,
  reviews: Reviews,
): Promise<AuthnResult> {
  return withAuthenticatedGroup(await authenticateCaller(config, socket, headers, reviews));
}

async function authenticateCaller(
  config: AuthConfig,
  socket: TLSSocket,
  headers: DistinctHeaders,
  reviews: Reviews,
): Promise<AuthnResult> {
  const peer = socket.getPeerX509Certificate?.();
  if (peer && socket.authorized) {
    if (issuedByAny(peer, config.requestHeaderCa)) {
      const cn = commonName(peer);
      if (config.allowedNames.length > 0 && (!cn || !config.allowedNames.includes(cn))) {
        return {
          kind: "rejected",
          reason: `front-proxy certificate CN "${cn ?? ""}" is not an allowed name`,
        };
      }
      return fromRequestHeaders(config, headers);
    }
    if (issuedByAny(peer, config.clientCa)) {
      const cn = commonName(peer);
      if (!cn) return { kind: "rejected", reason: "client certificate must have exactly one CN" };
      return { kind: "user", method: "x509", user: { name: cn, groups: organizations(peer), extra: {} } };
    }
  }
  const authorizations = headers.authorization ?? [];
  if (authorizations.length > 1) return { kind: "rejected", reason: "more than one Authorization header" };
  const auth = authorizations[0];
  if (auth !== undefined) {
    const token = bearerToken(auth);
    if (!token) return { kind: "rejected", reason: "only Bearer tokens are accepted" };
    const review = await reviews.tokenReview(token);
    return review.authenticated
      ? { kind: "user", method: "token", user: review.user }
      : { kind: "rejected", reason: review.reason };
  }
  if (peer)
    return {
      kind: "rejected",
      reason: `client certificate not trusted: ${socket.authorizationError ?? "unknown issuer"}`,
    };
  return { kind: "rejected", reason: "no credentials" };
}
