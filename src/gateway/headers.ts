import { headerValue } from "../authn/identity-policy.ts";
import type { UserInfo } from "../authn/user.ts";
import { badRequest, unauthorized } from "../status/status.ts";

/** Headers that describe one hop, never forwarded (RFC 9110 §7.6.1, plus the legacy ones proxies see). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "host",
  "http2-settings",
]);

/**
 * Identity and forwarding headers a client must never set for itself. kube-apiserver trusts the
 * impersonation ones from the gateway and the X-Remote ones from a front proxy; X-Forwarded-For feeds
 * its audit source IPs. The gateway writes its own.
 */
const IDENTITY_PREFIXES = ["impersonate-", "x-remote-"];
const FORWARDING = new Set([
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-real-ip",
  "forwarded",
]);

/** What a client asked to be treated as (kubectl --as/--as-group/--as-uid). */
export interface ImpersonationRequest {
  user?: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

export interface ClientHeaders {
  /** Safe to forward upstream as they are. */
  forward: Record<string, string | string[]>;
  authorization?: string;
  impersonation?: ImpersonationRequest;
  /** The Upgrade header of an upgrade request (e.g. SPDY/3.1, websocket). */
  upgrade?: string;
}

function decodeExtraKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded).toLowerCase();
  } catch {
    throw badRequest(`invalid percent-encoding in Impersonate-Extra-${encoded}`);
  }
}

/**
 * Splits a client's raw headers (name/value pairs as received, any letter case, repeated or not) into
 * what may be forwarded and what the gateway must judge itself. Nothing a client sends reaches the
 * apiserver as identity.
 */
export function readClientHeaders(rawHeaders: readonly string[]): ClientHeaders {
  const connectionNamed = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() === "connection") {
      for (const token of (rawHeaders[i + 1] as string).split(","))
        connectionNamed.add(token.trim().toLowerCase());
    }
  }
  const out: ClientHeaders = { forward: {} };
  // Collected in Maps: a header named "constructor" or "__proto__" is just a name, never a member.
  const forward = new Map<string, string | string[]>();
  const extra = new Map<string, string[]>();
  const authorizations: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    const value = rawHeaders[i + 1] as string;
    if (name.startsWith(":")) continue;
    if (name === "authorization") {
      authorizations.push(value);
      continue;
    }
    if (name.startsWith("impersonate-")) {
      out.impersonation ??= { groups: [], extra: {} };
      const imp = out.impersonation;
      if (name === "impersonate-user") {
        if (imp.user !== undefined && imp.user !== value)
          throw badRequest("more than one Impersonate-User header");
        imp.user = value;
      } else if (name === "impersonate-uid") {
        if (imp.uid !== undefined && imp.uid !== value)
          throw badRequest("more than one Impersonate-Uid header");
        imp.uid = value;
      } else if (name === "impersonate-group") {
        imp.groups.push(value);
      } else if (name.startsWith("impersonate-extra-")) {
        const key = decodeExtraKey(name.slice("impersonate-extra-".length));
        extra.set(key, [...(extra.get(key) ?? []), value]);
      } else {
        throw badRequest(`unknown impersonation header ${rawHeaders[i]}`);
      }
      continue;
    }
    if (name === "upgrade") {
      out.upgrade = value;
      continue;
    }
    if (HOP_BY_HOP.has(name) || connectionNamed.has(name) || FORWARDING.has(name)) continue;
    if (IDENTITY_PREFIXES.some((p) => name.startsWith(p))) continue;
    const existing = forward.get(name);
    if (existing === undefined) forward.set(name, value);
    else if (Array.isArray(existing)) existing.push(value);
    else forward.set(name, [existing, value]);
  }
  // fromEntries defines own properties, so even "__proto__" stays an ordinary key.
  out.forward = Object.fromEntries(forward);
  if (out.impersonation) out.impersonation.extra = Object.fromEntries(extra);
  if (authorizations.length > 1) throw badRequest("more than one Authorization header");
  if (authorizations[0] !== undefined) out.authorization = authorizations[0];
  const fromProtocol = takeProtocolToken(out.forward);
  if (fromProtocol !== undefined && out.authorization === undefined)
    out.authorization = `Bearer ${fromProtocol}`;
  return out;
}

/** The WebSocket subprotocol that carries a bearer token (browsers cannot set Authorization). */
export const BEARER_PROTOCOL_PREFIX = "base64url.bearer.authorization.k8s.io.";
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const TOKEN = /^[\x21-\x7e]+$/;

/**
 * Removes a bearer token offered as a WebSocket subprotocol from the forwarded headers and returns it,
 * decoded (kube-apiserver's own convention: base64url without padding). The token never travels
 * upstream; a malformed one, or two, is refused as a bad credential. An Authorization header, when
 * there is one too, is what authenticates.
 */
function takeProtocolToken(forward: Record<string, string | string[]>): string | undefined {
  const raw = forward["sec-websocket-protocol"];
  if (raw === undefined) return undefined;
  const offered = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => v.split(",")).map((p) => p.trim());
  const tokens = offered.filter((p) => p.startsWith(BEARER_PROTOCOL_PREFIX));
  if (tokens.length === 0) return undefined;
  const kept = offered.filter((p) => p !== "" && !p.startsWith(BEARER_PROTOCOL_PREFIX));
  if (kept.length > 0) forward["sec-websocket-protocol"] = kept.join(", ");
  else delete forward["sec-websocket-protocol"];
  if (tokens.length > 1) throw unauthorized();
  const encoded = (tokens[0] as string).slice(BEARER_PROTOCOL_PREFIX.length);
  const token = BASE64URL.test(encoded) ? Buffer.from(encoded, "base64url").toString("utf8") : "";
  if (!TOKEN.test(token)) throw unauthorized();
  return token;
}

// Header names are tokens; everything else in an extra key (and '%' itself) is percent-encoded, which
// kube-apiserver decodes (client-go's convention).
const TOKEN_CHAR = /[A-Za-z0-9!#$&'*+.^_`|~-]/;
export function encodeExtraKey(key: string): string {
  let out = "";
  for (const ch of key) {
    out += TOKEN_CHAR.test(ch) ? ch : encodeURIComponent(ch);
  }
  return out;
}

/** The impersonation headers that make kube-apiserver treat a request as the user's own. */
export function impersonationHeaders(user: UserInfo): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = { "impersonate-user": headerValue(user.name) };
  if (user.groups.length > 0) h["impersonate-group"] = user.groups.map(headerValue);
  if (user.uid) h["impersonate-uid"] = headerValue(user.uid);
  for (const [key, values] of Object.entries(user.extra)) {
    if (values.length > 0) h[`impersonate-extra-${encodeExtraKey(key)}`] = values.map(headerValue);
  }
  return h;
}

/** Response headers safe to pass back to a client on any protocol (HTTP/2 forbids the hop ones). */
export function responseHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const connectionNamed = new Set<string>();
  const connection = headers.connection;
  for (const v of Array.isArray(connection) ? connection : connection ? [connection] : []) {
    for (const token of v.split(",")) connectionNamed.add(token.trim().toLowerCase());
  }
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || connectionNamed.has(name)) continue;
    out[name] = value;
  }
  return out;
}
