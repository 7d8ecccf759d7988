import { createHash, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { getCACertificates } from "node:tls";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type FetchImplementation,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwtVerify,
  type ProtectedHeaderParameters,
} from "jose";
import { Agent } from "undici";
import { KubegateError } from "../status/errors.ts";
import { ClaimEvaluation, type ClaimExpressions } from "./claim-expressions.ts";
import { type AuthnResult, TokenRejection, type UserInfo } from "./user.ts";

/**
 * Options of the OIDC authenticator, after kube-apiserver's `--oidc-*` flags.
 *
 * Differences from kube-apiserver, on purpose:
 * - `usernameClaim` defaults to "preferred_username" (kube-apiserver: "sub").
 * - No implicit username prefix: kube-apiserver prefixes `issuerUrl#` to names from any claim but
 *   "email" unless `--oidc-username-prefix` is set; kubegate adds `usernamePrefix` and nothing else.
 *   As in kube-apiserver, a flag value of "-" also means "no prefix" ({@link prefixFromFlag}); in
 *   an AuthenticationConfiguration it is an ordinary prefix.
 * - Distributed claims (`_claim_names`/`_claim_sources`) are not resolved: a token whose groups claim
 *   is distributed is rejected, rather than authenticated with no groups.
 * - `iat`, when present, must not lie in the future (beyond `clockToleranceSec`).
 */
export interface OidcOptions {
  /** https only, no query or fragment; must equal the token's `iss` exactly (trailing slash included). */
  issuerUrl: string;
  /** Must be one of the token's `aud`. */
  clientId: string;
  /**
   * More audiences besides clientId: the token must carry at least one of them (the
   * AuthenticationConfiguration's audienceMatchPolicy MatchAny).
   */
  extraAudiences?: string[];
  /** Claim holding the user name; default "preferred_username". */
  usernameClaim?: string;
  /** Prepended to every user name, as given; default none. */
  usernamePrefix?: string;
  /** Claim holding the groups: a string or an array of strings. No groups when unset. */
  groupsClaim?: string;
  /** Prepended to every group; needs `groupsClaim`. */
  groupsPrefix?: string;
  /**
   * Where the discovery document is fetched instead of `issuerUrl` + /.well-known/openid-configuration
   * (an AuthenticationConfiguration's discoveryURL, for an issuer reached by another address); the
   * document must still name `issuerUrl`.
   */
  discoveryUrl?: string;
  /** PEM CA bundle trusted for the issuer's TLS (discovery and JWKS); otherwise the default and system CAs. */
  caFile?: string;
  /** The same, inline (an AuthenticationConfiguration's certificateAuthority); not with caFile. */
  caPem?: string;
  /** Claim holding the user's uid (a string); no uid when unset. */
  uidClaim?: string;
  /** Claims that must be present with exactly these string values. */
  requiredClaims?: Record<string, string>;
  /**
   * CEL from an AuthenticationConfiguration (compiled by claim-expressions.ts): an expression for
   * username, groups or uid replaces the claim (and its prefix), extra mappings add to the user, and
   * the validation rules must all hold.
   */
  expressions?: ClaimExpressions;
  /** Accepted JWS algorithms: asymmetric only; default {@link DEFAULT_SIGNING_ALGS}. */
  signingAlgs?: string[];
  /** Leeway for exp/nbf/iat, in seconds; default 10, at most 300. */
  clockToleranceSec?: number;
  /**
   * kubegate extension: after a successful JWKS fetch, a token whose kid is unknown triggers another
   * fetch only once this many seconds have passed (keeps garbage kids from hammering the issuer);
   * default 10.
   */
  jwksCooldownSec?: number;
  /**
   * kubegate extension: the JWKS is fetched again, on the next verification, once it is this many
   * seconds old; default 600. If that fetch fails, the keys already known keep being used.
   */
  jwksMaxAgeSec?: number;
}

/** Every asymmetric JWS algorithm kubegate can verify (the set go-oidc supports). */
export const SUPPORTED_SIGNING_ALGS: readonly string[] = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
];

/**
 * Default accepted algorithms: RSA (PKCS#1 v1.5 and PSS) and ECDSA. kube-apiserver accepts only RS256
 * by default; key types keep algorithms from being confused with each other, so a wider default is safe.
 */
export const DEFAULT_SIGNING_ALGS: readonly string[] = SUPPORTED_SIGNING_ALGS.filter(
  (alg) => alg !== "EdDSA",
);

const DEFAULT_USERNAME_CLAIM = "preferred_username";
const DEFAULT_CLOCK_TOLERANCE_SEC = 10;
const DEFAULT_JWKS_COOLDOWN_SEC = 10;
const DEFAULT_JWKS_MAX_AGE_SEC = 600;
/** Larger than any real ID token, smaller than anything that could hurt. */
const MAX_TOKEN_LENGTH = 64 * 1024;
/** Cap on the discovery document and the JWKS. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const HTTP_TIMEOUT_MS = 5_000;
/** After a failed discovery or JWKS fetch, requests are rejected at once for this long before the next attempt. */
const RETRY_AFTER_MS = 1_000;
/** Verified tokens are remembered this long at most (and never past their exp). */
const CACHE_TTL_MS = 60_000;
const CACHE_MAX_ENTRIES = 4096;

/** `--oidc-username-prefix` as kube-apiserver reads the flag: "-" is no prefix. */
export function prefixFromFlag(flag: string): string {
  return flag === "-" ? "" : flag;
}

/** The `iss` a JWT claims, read without checking anything: which issuer should verify it. */
export function unverifiedIssuer(token: string): string | undefined {
  if (typeof token !== "string" || token.length > MAX_TOKEN_LENGTH) return undefined;
  try {
    const iss = decodeJwt(token).iss;
    return typeof iss === "string" ? iss : undefined;
  } catch {
    return undefined;
  }
}

/** The issuer answered, but not with what OIDC discovery or a JWKS endpoint must answer. */
const badAnswer = (message: string) => new KubegateError(message, { code: "KUBEGATE_OIDC_BAD_ANSWER" });

/**
 * A verified token's outcome. Rejections by the claims (a mapping or a rule) are remembered too: they
 * cannot change before the configuration does (which makes a new authenticator), and a token that
 * is costly to evaluate should cost it once.
 */
interface CachedUser {
  user?: UserInfo;
  rejected?: string;
  expiresAt: number;
}

interface ResolvedOptions {
  issuerUrl: string;
  discoveryUrl: string | undefined;
  clientId: string;
  audiences: string[];
  usernameClaim: string;
  usernamePrefix: string;
  groupsClaim: string | undefined;
  groupsPrefix: string;
  uidClaim: string | undefined;
  requiredClaims: [string, string][];
  expressions: ClaimExpressions | undefined;
  signingAlgs: string[];
  clockToleranceSec: number;
  jwksCooldownMs: number;
  jwksMaxAgeMs: number;
}

/**
 * Verifies OIDC ID tokens (JWTs) from one issuer, with the semantics of kube-apiserver's `--oidc-*`
 * flags. Discovery happens on first use and is retried (at most once a second) until it succeeds;
 * the JWKS is cached by jose and refetched when a token names an unknown kid.
 */
export class OidcAuthenticator {
  private readonly agent: Agent;
  private readonly discoveryUrl: string;
  private keys: JWTVerifyGetKey | undefined;
  private discovering: Promise<JWTVerifyGetKey> | undefined;
  private discoveryFailure: { reason: string; until: number } | undefined;
  private readonly cache = new Map<string, CachedUser>();
  private closed = false;

  private constructor(
    private readonly o: ResolvedOptions,
    ca: string[],
  ) {
    this.agent = new Agent({
      connect: { ca, timeout: HTTP_TIMEOUT_MS },
      headersTimeout: HTTP_TIMEOUT_MS,
      bodyTimeout: HTTP_TIMEOUT_MS,
      keepAliveTimeout: 10_000,
    });
    // OpenID Connect Discovery 1.0 §4: drop a terminating "/" before appending the well-known path.
    this.discoveryUrl =
      o.discoveryUrl ?? `${o.issuerUrl.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  }

  /** Validates the options (throwing a KubegateError that says what is wrong); does not contact the issuer. */
  static async create(options: OidcOptions): Promise<OidcAuthenticator> {
    const resolved = resolveOptions(options);
    const ca =
      options.caPem !== undefined
        ? pemCertificates(options.caPem, "certificateAuthority")
        : options.caFile === undefined
          ? defaultCAs()
          : await readCAFile(options.caFile);
    return new OidcAuthenticator(resolved, ca);
  }

  /** Cheap check without crypto: is this a JWT whose (unverified) iss is our issuer? */
  claims(token: string): boolean {
    return unverifiedIssuer(token) === this.o.issuerUrl;
  }

  /** A user or a rejection with its reason; never throws. */
  async authenticate(token: string): Promise<AuthnResult> {
    try {
      if (this.closed) throw new TokenRejection("the OIDC authenticator is closed");
      const key = createHash("sha256").update(token).digest("base64url");
      const hit = this.cache.get(key);
      if (hit) {
        if (hit.expiresAt > Date.now()) {
          if (hit.user) return userResult(hit.user);
          throw new TokenRejection(hit.rejected ?? "rejected");
        }
        this.cache.delete(key);
      }
      const { outcome, exp } = await this.verify(token);
      this.remember(key, outcome, exp);
      if (typeof outcome === "string") throw new TokenRejection(outcome);
      return userResult(outcome);
    } catch (err) {
      return { kind: "rejected", reason: `OIDC: ${reasonOf(err, this.o)}` };
    }
  }

  /** Stops outgoing connections and forgets cached tokens; later calls to authenticate are rejected. */
  close(): void {
    this.closed = true;
    this.cache.clear();
    this.agent.destroy().catch(() => {});
  }

  /** The user a valid token maps to, or why its claims are refused; throws for an invalid token. */
  private async verify(token: string): Promise<{ outcome: UserInfo | string; exp: number }> {
    const header = this.precheck(token);
    const keys = await this.jwks();
    const options: JWTVerifyOptions = {
      issuer: this.o.issuerUrl,
      audience: this.o.audiences,
      algorithms: this.o.signingAlgs,
      clockTolerance: this.o.clockToleranceSec,
      requiredClaims: ["exp"],
    };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, options));
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey) {
        const kid = header.kid === undefined ? "no kid" : `kid ${JSON.stringify(header.kid)}`;
        throw new TokenRejection(`no key of the issuer matches the token (${kid}, alg "${header.alg}")`);
      }
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
      // No kid (or a shared one) and several keys fit: the token is good if any of them verifies it.
      payload = await verifyWithAny(token, err, options);
    }
    const now = Date.now() / 1000;
    if (typeof payload.iat === "number" && payload.iat > now + this.o.clockToleranceSec) {
      throw new TokenRejection(`token was issued in the future (iat ${isoTime(payload.iat)})`);
    }
    const exp = payload.exp as number;
    try {
      return { outcome: this.userOf(payload, token), exp };
    } catch (err) {
      if (err instanceof TokenRejection) return { outcome: err.message, exp };
      throw err;
    }
  }

  /** Everything that can be decided without keys: shape, algorithm, issuer. */
  private precheck(token: string): ProtectedHeaderParameters {
    if (typeof token !== "string" || token === "") throw new TokenRejection("empty token");
    if (token.length > MAX_TOKEN_LENGTH)
      throw new TokenRejection(`token is longer than ${MAX_TOKEN_LENGTH} characters`);
    const parts = token.split(".").length;
    if (parts === 5) throw new TokenRejection("encrypted tokens (JWE) are not supported");
    if (parts !== 3) throw new TokenRejection("malformed token: a JWT has three dot-separated parts");
    let header: ProtectedHeaderParameters;
    let payload: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      payload = decodeJwt(token);
    } catch (err) {
      throw new TokenRejection(`malformed token: ${(err as Error).message}`);
    }
    const alg = header.alg;
    if (typeof alg !== "string") throw new TokenRejection('malformed token: no "alg" in the header');
    if (alg.toLowerCase() === "none")
      throw new TokenRejection('unsigned tokens (alg "none") are not accepted');
    if (!this.o.signingAlgs.includes(alg)) {
      throw new TokenRejection(
        `signing algorithm "${alg}" is not accepted (accepted: ${this.o.signingAlgs.join(", ")})`,
      );
    }
    if (payload.iss !== this.o.issuerUrl) {
      throw new TokenRejection(`token issuer ${JSON.stringify(payload.iss)} is not "${this.o.issuerUrl}"`);
    }
    return header;
  }

  /** `token` is the verified token the claims come from: CEL reads its payload's own text. */
  private userOf(claims: JWTPayload, token: string): UserInfo {
    const x = this.o.expressions;
    const payloadJson = () => Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8");
    const cel = x ? new ClaimEvaluation(x, payloadJson()) : undefined;
    // In kube-apiserver's order, so that the first failure reported is the one it would report.
    const name = cel?.username() ?? this.o.usernamePrefix + this.usernameOf(claims);
    const groups = cel?.groups() ?? this.groupsOf(claims).map((g) => this.o.groupsPrefix + g);
    const uid = cel?.uid() ?? this.uidOf(claims);
    const extra = cel?.extra() ?? {};
    for (const [claim, want] of this.o.requiredClaims) {
      if (!Object.hasOwn(claims, claim)) throw new TokenRejection(`required claim "${claim}" is missing`);
      if (claims[claim] !== want) {
        throw new TokenRejection(`required claim "${claim}" does not have the required value "${want}"`);
      }
    }
    const user: UserInfo = { name, ...(uid !== undefined ? { uid } : {}), groups, extra };
    cel?.validate(user);
    return user;
  }

  private usernameOf(claims: JWTPayload): string {
    const claim = this.o.usernameClaim;
    const username = claims[claim];
    if (username === undefined) throw new TokenRejection(`username claim "${claim}" is missing`);
    if (typeof username !== "string") throw new TokenRejection(`username claim "${claim}" is not a string`);
    if (username === "") throw new TokenRejection(`username claim "${claim}" is empty`);
    if (claim === "email" && Object.hasOwn(claims, "email_verified")) {
      const verified = claims.email_verified;
      if (typeof verified !== "boolean") throw new TokenRejection('"email_verified" claim is not a boolean');
      if (!verified)
        throw new TokenRejection(`email "${username}" is not verified (email_verified is false)`);
    }
    return username;
  }

  private uidOf(claims: JWTPayload): string | undefined {
    const claim = this.o.uidClaim;
    if (claim === undefined) return undefined;
    const uid = claims[claim];
    if (typeof uid !== "string" || uid === "")
      throw new TokenRejection(`uid claim "${claim}" is not a non-empty string`);
    return uid;
  }

  private groupsOf(claims: JWTPayload): string[] {
    const claim = this.o.groupsClaim;
    if (claim === undefined) return [];
    if (!Object.hasOwn(claims, claim)) {
      const names = claims._claim_names;
      if (typeof names === "object" && names !== null && Object.hasOwn(names, claim)) {
        throw new TokenRejection(
          `groups claim "${claim}" is a distributed claim, which kubegate does not resolve`,
        );
      }
      return [];
    }
    const value = claims[claim];
    if (typeof value === "string") return [value];
    if (Array.isArray(value) && value.every((g) => typeof g === "string")) return [...value];
    throw new TokenRejection(`groups claim "${claim}" is neither a string nor an array of strings`);
  }

  private remember(key: string, outcome: UserInfo | string, exp: number): void {
    const now = Date.now();
    const expiresAt = Math.min(exp * 1000, now + CACHE_TTL_MS);
    if (expiresAt <= now) return;
    if (this.cache.size >= CACHE_MAX_ENTRIES) {
      for (const [k, v] of this.cache) if (v.expiresAt <= now) this.cache.delete(k);
      // Still full: drop the oldest entries (a Map iterates in insertion order).
      for (const k of this.cache.keys()) {
        if (this.cache.size < CACHE_MAX_ENTRIES) break;
        this.cache.delete(k);
      }
    }
    this.cache.set(
      key,
      typeof outcome === "string" ? { rejected: outcome, expiresAt } : { user: outcome, expiresAt },
    );
  }

  /** The issuer's key set, discovering it on first use; concurrent callers share one attempt. */
  private async jwks(): Promise<JWTVerifyGetKey> {
    if (this.keys) return this.keys;
    const failure = this.discoveryFailure;
    if (failure && Date.now() < failure.until) throw new TokenRejection(failure.reason);
    this.discovering ??= this.discover()
      .then(
        (keys) => {
          this.keys = keys;
          this.discoveryFailure = undefined;
          return keys;
        },
        (err: unknown) => {
          const reason = `discovery at ${this.discoveryUrl} failed: ${describe(err)}`;
          this.discoveryFailure = { reason, until: Date.now() + RETRY_AFTER_MS };
          throw new TokenRejection(reason);
        },
      )
      .finally(() => {
        this.discovering = undefined;
      });
    return this.discovering;
  }

  private async discover(): Promise<JWTVerifyGetKey> {
    const res = await this.get(
      this.discoveryUrl,
      { accept: "application/json" },
      AbortSignal.timeout(HTTP_TIMEOUT_MS),
    );
    if (res.status !== 200) throw badAnswer(`HTTP ${res.status}`);
    let doc: unknown;
    try {
      doc = JSON.parse(res.body);
    } catch {
      throw badAnswer("the discovery document is not JSON");
    }
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
      throw badAnswer("the discovery document is not a JSON object");
    }
    const { issuer, jwks_uri: jwksUri } = doc as { issuer?: unknown; jwks_uri?: unknown };
    if (issuer !== this.o.issuerUrl) {
      throw new KubegateError(
        `the discovery document names issuer ${JSON.stringify(issuer)}, not "${this.o.issuerUrl}"`,
        { code: "KUBEGATE_OIDC_ISSUER_MISMATCH" },
      );
    }
    if (typeof jwksUri !== "string") throw badAnswer('the discovery document has no "jwks_uri"');
    let url: URL;
    try {
      url = new URL(jwksUri);
    } catch {
      throw badAnswer(`jwks_uri "${jwksUri}" is not a URL`);
    }
    if (url.protocol !== "https:") throw badAnswer(`jwks_uri "${jwksUri}" is not https`);
    // jose refetches on every verification while it has no keys: a failure is remembered briefly so
    // that a broken JWKS endpoint is not hit once per request.
    let failure: { reason: string; until: number } | undefined;
    const fetchJwks: FetchImplementation = async (href, init) => {
      if (failure && Date.now() < failure.until) throw new TokenRejection(failure.reason);
      let r: { status: number; body: string };
      try {
        r = await this.get(href, Object.fromEntries(init.headers), init.signal);
        if (r.status !== 200) throw badAnswer(`HTTP ${r.status}`);
      } catch (err) {
        failure = {
          reason: `could not fetch the JWKS from ${href}: ${describe(err)}`,
          until: Date.now() + RETRY_AFTER_MS,
        };
        throw new TokenRejection(failure.reason);
      }
      failure = undefined;
      return new Response(r.body, { status: 200, headers: { "content-type": "application/json" } });
    };
    const remote = createRemoteJWKSet(url, {
      timeoutDuration: HTTP_TIMEOUT_MS,
      cooldownDuration: this.o.jwksCooldownMs,
      cacheMaxAge: this.o.jwksMaxAgeMs,
      [customFetch]: fetchJwks,
    });
    // When the keys have gone stale and the issuer cannot be reached, keep verifying with the keys last
    // fetched rather than locking everyone out (go-oidc, in kube-apiserver, never expires keys at all).
    let stale: ReturnType<typeof createLocalJWKSet> | undefined;
    return async (header, token) => {
      try {
        const key = await remote(header, token);
        stale = undefined;
        return key;
      } catch (err) {
        const last = err instanceof TokenRejection ? remote.jwks() : undefined;
        if (last === undefined) throw err;
        stale ??= createLocalJWKSet(last);
        return stale(header, token);
      }
    };
  }

  /**
   * One GET through our own agent, which carries the issuer CA: jose's default fetch cannot be given a
   * CA, so the JWKS comes through here too (jose's `customFetch` option). No redirects are followed.
   */
  private async get(
    href: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<{ status: number; body: string }> {
    const url = new URL(href);
    const res = await this.agent.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: "GET",
      headers,
      signal,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_RESPONSE_BYTES) {
        res.body.destroy();
        throw badAnswer(`response is larger than ${MAX_RESPONSE_BYTES} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    return { status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") };
  }
}

function userResult(user: UserInfo): AuthnResult {
  // A copy, so that no caller can change what the cache hands out next time.
  const extra = Object.fromEntries(Object.entries(user.extra).map(([k, v]) => [k, [...v]]));
  const copy: UserInfo = { name: user.name, groups: [...user.groups], extra };
  if (user.uid !== undefined) copy.uid = user.uid;
  return { kind: "user", method: "oidc", user: copy };
}

async function verifyWithAny(
  token: string,
  candidates: errors.JWKSMultipleMatchingKeys,
  options: JWTVerifyOptions,
): Promise<JWTPayload> {
  for await (const key of candidates) {
    try {
      return (await jwtVerify(token, key, options)).payload;
    } catch (err) {
      if (!(err instanceof errors.JWSSignatureVerificationFailed)) throw err;
    }
  }
  throw new errors.JWSSignatureVerificationFailed();
}

function isoTime(sec: unknown): string {
  return typeof sec === "number" && Number.isFinite(sec) ? new Date(sec * 1000).toISOString() : String(sec);
}

function describe(err: unknown): string {
  if (err instanceof TokenRejection) return err.message;
  const e = err as { message?: string; code?: string; cause?: { message?: string } };
  const message = e?.message ?? String(err);
  const code = e?.code && !message.includes(e.code) ? ` (${e.code})` : "";
  const cause = e?.cause?.message ? `: ${e.cause.message}` : "";
  return `${message}${code}${cause}`;
}

/** The reason reported for a failed verification. */
function reasonOf(err: unknown, o: ResolvedOptions): string {
  if (err instanceof TokenRejection) return err.message;
  if (err instanceof errors.JWTExpired) {
    return `token has expired (exp ${isoTime(err.payload.exp)})`;
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    const { claim, reason, payload } = err;
    if (reason === "missing") return `token has no "${claim}" claim`;
    switch (claim) {
      case "iss":
        return `token issuer ${JSON.stringify(payload.iss)} is not "${o.issuerUrl}"`;
      case "aud":
        return `token audience ${JSON.stringify(payload.aud)} does not include ${o.audiences.map((a) => `"${a}"`).join(" or ")}`;
      case "nbf":
        return `token is not valid yet (nbf ${isoTime(payload.nbf)})`;
      default:
        return `token claim "${claim}" is invalid: ${err.message}`;
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return "token signature is invalid";
  if (err instanceof errors.JWKSNoMatchingKey) return "no key of the issuer matches the token";
  if (err instanceof errors.JOSEAlgNotAllowed) return "token signing algorithm is not accepted";
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid)
    return `malformed token: ${err.message}`;
  if (err instanceof errors.JWKSTimeout) return "timed out fetching the issuer's JWKS";
  if (err instanceof errors.JWKSInvalid || err instanceof errors.JWKInvalid) {
    return `the issuer's JWKS is invalid: ${err.message}`;
  }
  if (err instanceof errors.JOSEError && err.message.includes("JSON Web Key Set")) {
    return `the issuer's JWKS is unusable: ${err.message}`;
  }
  if (err instanceof errors.JOSEError) return `token rejected: ${err.message}`;
  return `token could not be verified: ${describe(err)}`;
}

function resolveOptions(o: OidcOptions): ResolvedOptions {
  const bad = (message: string): never => {
    throw new KubegateError(`OIDC: ${message}`);
  };
  if (typeof o.issuerUrl !== "string" || o.issuerUrl === "") bad("issuerUrl is required");
  let issuer: URL | undefined;
  try {
    issuer = new URL(o.issuerUrl);
  } catch {
    bad(`issuerUrl "${o.issuerUrl}" is not a URL`);
  }
  if (issuer?.protocol !== "https:") bad(`issuerUrl "${o.issuerUrl}" must use https`);
  if (issuer?.username || issuer?.password) bad(`issuerUrl "${o.issuerUrl}" must not contain credentials`);
  if (o.issuerUrl.includes("?") || o.issuerUrl.includes("#")) {
    bad(`issuerUrl "${o.issuerUrl}" must not have a query or fragment`);
  }
  if (o.discoveryUrl !== undefined) {
    let discovery: URL | undefined;
    try {
      discovery = new URL(o.discoveryUrl);
    } catch {
      bad(`discoveryUrl "${o.discoveryUrl}" is not a URL`);
    }
    if (discovery?.protocol !== "https:") bad(`discoveryUrl "${o.discoveryUrl}" must use https`);
    if (discovery?.username || discovery?.password || discovery?.search || discovery?.hash)
      bad(`discoveryUrl "${o.discoveryUrl}" must not have credentials, a query or a fragment`);
    if (o.discoveryUrl.replace(/\/+$/, "") === o.issuerUrl.replace(/\/+$/, ""))
      bad("discoveryUrl must differ from issuerUrl");
  }
  if (typeof o.clientId !== "string" || o.clientId === "") bad("clientId is required");
  const audiences = [o.clientId, ...(o.extraAudiences ?? [])];
  if (audiences.some((a) => typeof a !== "string" || a === "")) bad("audiences must be non-empty strings");
  if (o.caPem !== undefined && o.caFile !== undefined) bad("caPem and caFile exclude each other");
  const usernameClaim = o.usernameClaim ?? DEFAULT_USERNAME_CLAIM;
  if (typeof usernameClaim !== "string" || usernameClaim === "")
    bad("usernameClaim must be a non-empty string");
  if (o.usernamePrefix !== undefined && typeof o.usernamePrefix !== "string")
    bad("usernamePrefix must be a string");
  if (o.groupsClaim !== undefined && (typeof o.groupsClaim !== "string" || o.groupsClaim === "")) {
    bad("groupsClaim must be a non-empty string");
  }
  if (o.groupsPrefix !== undefined) {
    if (typeof o.groupsPrefix !== "string") bad("groupsPrefix must be a string");
    if (o.groupsClaim === undefined) bad("groupsPrefix needs groupsClaim");
  }
  if (o.uidClaim !== undefined && (typeof o.uidClaim !== "string" || o.uidClaim === ""))
    bad("uidClaim must be a non-empty string");
  const requiredClaims = Object.entries(o.requiredClaims ?? {});
  for (const [name, value] of requiredClaims) {
    if (name === "") bad("requiredClaims has an empty claim name");
    if (typeof value !== "string") bad(`requiredClaims["${name}"] must be a string`);
  }
  const x = o.expressions;
  if (x?.username && (o.usernameClaim !== undefined || o.usernamePrefix !== undefined))
    bad("a username expression excludes usernameClaim and usernamePrefix");
  if (x?.groups && (o.groupsClaim !== undefined || o.groupsPrefix !== undefined))
    bad("a groups expression excludes groupsClaim and groupsPrefix");
  if (x?.uid && o.uidClaim !== undefined) bad("a uid expression excludes uidClaim");
  const signingAlgs = o.signingAlgs ?? [...DEFAULT_SIGNING_ALGS];
  if (!Array.isArray(signingAlgs) || signingAlgs.length === 0)
    bad("signingAlgs must list at least one algorithm");
  for (const alg of signingAlgs) {
    if (typeof alg === "string" && alg.toLowerCase() === "none") bad('signingAlgs must not contain "none"');
    if (typeof alg === "string" && /^HS\d+$/i.test(alg)) {
      bad(`signingAlgs must not contain "${alg}": OIDC tokens are verified with the issuer's public keys`);
    }
    if (!SUPPORTED_SIGNING_ALGS.includes(alg)) {
      bad(`signing algorithm "${alg}" is not supported (supported: ${SUPPORTED_SIGNING_ALGS.join(", ")})`);
    }
  }
  const clockToleranceSec = o.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC;
  if (!Number.isFinite(clockToleranceSec) || clockToleranceSec < 0 || clockToleranceSec > 300) {
    bad("clockToleranceSec must be between 0 and 300");
  }
  const jwksCooldownSec = o.jwksCooldownSec ?? DEFAULT_JWKS_COOLDOWN_SEC;
  if (!Number.isFinite(jwksCooldownSec) || jwksCooldownSec < 0) bad("jwksCooldownSec must be 0 or more");
  const jwksMaxAgeSec = o.jwksMaxAgeSec ?? DEFAULT_JWKS_MAX_AGE_SEC;
  if (!Number.isFinite(jwksMaxAgeSec) || jwksMaxAgeSec < 0) bad("jwksMaxAgeSec must be 0 or more");
  const usernamePrefix = o.usernamePrefix ?? "";
  return {
    issuerUrl: o.issuerUrl,
    discoveryUrl: o.discoveryUrl,
    clientId: o.clientId,
    audiences: [...new Set(audiences)],
    usernameClaim,
    usernamePrefix,
    groupsClaim: o.groupsClaim,
    groupsPrefix: o.groupsPrefix ?? "",
    uidClaim: o.uidClaim,
    requiredClaims,
    expressions: o.expressions,
    signingAlgs: [...new Set(signingAlgs)],
    clockToleranceSec,
    jwksCooldownMs: jwksCooldownSec * 1000,
    jwksMaxAgeMs: jwksMaxAgeSec * 1000,
  };
}

/** Node's default trust store plus the operating system's, as kube-apiserver uses the host's roots. */
function defaultCAs(): string[] {
  const cas = new Set(getCACertificates("default"));
  try {
    for (const ca of getCACertificates("system")) cas.add(ca);
  } catch {
    // No readable system store: the default one still applies.
  }
  return [...cas];
}

async function readCAFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new KubegateError(`OIDC: cannot read caFile "${path}": ${(err as Error).message}`);
  }
  return pemCertificates(text, `caFile "${path}"`);
}

/** The PEM certificates of a bundle, each checked to parse; `what` names the bundle in errors. */
function pemCertificates(text: string, what: string): string[] {
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw new KubegateError(`OIDC: ${what} holds no PEM certificate`);
  for (const pem of pems) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new KubegateError(`OIDC: ${what} holds an unreadable certificate: ${(err as Error).message}`);
    }
  }
  return pems;
}
