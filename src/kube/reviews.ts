import { createHash } from "node:crypto";
import type { UserInfo } from "../authn/user.ts";
import { TtlCache } from "./ttl-cache.ts";
import type { Upstream } from "./upstream.ts";

export interface ResourceAttributes {
  verb: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface NonResourceAttributes {
  verb: string;
  path: string;
}

export interface AccessDecision {
  allowed: boolean;
  reason: string;
}

export type TokenReviewResult =
  | { authenticated: true; user: UserInfo }
  | { authenticated: false; reason: string };

interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
}

const TTL_MS = 10_000;

/**
 * TokenReview and SubjectAccessReview against kube-apiserver, each cached for ~10 s so a burst of
 * kubectl requests costs one review. Tokens are cached by their hash, never kept in clear.
 */
export class Reviews {
  private readonly tokens = new TtlCache<TokenReviewResult>();
  // Refused tokens apart: a flood of random tokens must not push valid users out of the cache.
  private readonly refusedTokens = new TtlCache<TokenReviewResult>();
  private readonly access = new TtlCache<AccessDecision>();

  constructor(
    private readonly upstream: Upstream,
    private readonly ttlMs = TTL_MS,
  ) {}

  async tokenReview(token: string, audiences?: string[]): Promise<TokenReviewResult> {
    const key = createHash("sha256").update(token).digest("base64url");
    const cached = this.tokens.get(key) ?? this.refusedTokens.get(key);
    if (cached) return cached;
    const spec: Record<string, unknown> = { token };
    if (audiences?.length) spec.audiences = audiences;
    const res = await this.upstream.json<{ status?: TokenReviewStatus; message?: string }>(
      "POST",
      "/apis/authentication.k8s.io/v1/tokenreviews",
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec },
    );
    let result: TokenReviewResult;
    const s = res.body.status;
    if (res.code !== 201 && res.code !== 200) {
      // Not a verdict on the token: do not cache, never treat as success.
      return {
        authenticated: false,
        reason: `TokenReview failed with HTTP ${res.code}: ${res.body.message ?? ""}`,
      };
    }
    if (s?.authenticated === true && s.user?.username) {
      const user: UserInfo = {
        name: s.user.username,
        groups: s.user.groups ?? [],
        extra: s.user.extra ?? {},
      };
      if (s.user.uid) user.uid = s.user.uid;
      result = { authenticated: true, user };
    } else {
      result = { authenticated: false, reason: s?.error || "token not authenticated" };
    }
    (result.authenticated ? this.tokens : this.refusedTokens).set(key, result, this.ttlMs);
    return result;
  }

  async subjectAccessReview(
    user: UserInfo,
    attributes: { resource: ResourceAttributes } | { nonResource: NonResourceAttributes },
  ): Promise<AccessDecision> {
    const spec: Record<string, unknown> = { user: user.name, groups: user.groups, extra: user.extra };
    if (user.uid) spec.uid = user.uid;
    if ("resource" in attributes) spec.resourceAttributes = attributes.resource;
    else spec.nonResourceAttributes = attributes.nonResource;
    const key = JSON.stringify(spec);
    const cached = this.access.get(key);
    if (cached) return cached;
    const res = await this.upstream.json<{
      status?: { allowed?: boolean; reason?: string };
      message?: string;
    }>("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec,
    });
    if (res.code !== 201 && res.code !== 200) {
      return {
        allowed: false,
        reason: `SubjectAccessReview failed with HTTP ${res.code}: ${res.body.message ?? ""}`,
      };
    }
    const decision = { allowed: res.body.status?.allowed === true, reason: res.body.status?.reason ?? "" };
    this.access.set(key, decision, this.ttlMs);
    return decision;
  }
}
