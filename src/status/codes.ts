// Stable error codes, as undici's UND_ERR_* and Node's ERR_* are: logs and tests match on these, never
// on message text, which may be reworded. A code once given keeps its meaning.
export type ErrorCode =
  // A Status by its HTTP code, when nothing more specific applies.
  | "KUBEGATE_BAD_REQUEST"
  | "KUBEGATE_UNAUTHENTICATED"
  | "KUBEGATE_FORBIDDEN"
  | "KUBEGATE_NOT_FOUND"
  | "KUBEGATE_CONFLICT"
  | "KUBEGATE_UNSUPPORTED_MEDIA_TYPE"
  | "KUBEGATE_TOO_MANY_REQUESTS"
  | "KUBEGATE_INTERNAL"
  | "KUBEGATE_UNAVAILABLE"
  | "KUBEGATE_TIMEOUT"
  // Specific conditions.
  | "KUBEGATE_BAD_PATH"
  | "KUBEGATE_BAD_SELECTOR"
  | "KUBEGATE_BAD_CONTINUE"
  | "KUBEGATE_BODY_TOO_LARGE"
  | "KUBEGATE_IDENTITY_REFUSED"
  | "KUBEGATE_TENANCY_RULE"
  | "KUBEGATE_TENANCY_NOT_READY"
  | "KUBEGATE_TOO_MANY_LONG_RUNNING"
  | "KUBEGATE_TOO_MANY_AUTHENTICATIONS"
  | "KUBEGATE_TOO_MANY_WATCH_STREAMS"
  | "KUBEGATE_UPSTREAM_UNAVAILABLE"
  | "KUBEGATE_UPSTREAM_BAD_ANSWER"
  | "KUBEGATE_CLIENT_CLOSED"
  // kube-apiserver answered a call the gateway makes as itself (an informer's list or watch) with an
  // error: typically RBAC the gateway lacks, or kubegate's CRDs missing.
  | "KUBEGATE_UPSTREAM_REFUSED"
  // The OIDC issuer's discovery or JWKS endpoint answered something unusable.
  | "KUBEGATE_OIDC_BAD_ANSWER"
  // The issuer's discovery document names another issuer than the one configured.
  | "KUBEGATE_OIDC_ISSUER_MISMATCH"
  // An --authentication-config file that cannot be read, or that kubegate refuses (field named).
  | "KUBEGATE_AUTHN_CONFIG_INVALID"
  | "KUBEGATE_CONNECT_TIMEOUT"
  | "KUBEGATE_TLS_HANDSHAKE_TIMEOUT"
  // The node agent's network namespace has no lo, or the address it manages is already the node's.
  | "KUBEGATE_NO_LOOPBACK"
  | "KUBEGATE_ADDRESS_IN_USE"
  // Errors for the person running kubegate (KubegateError).
  | "KUBEGATE_INVALID_INPUT"
  | "KUBEGATE_INVALID_OPTION"
  | "KUBEGATE_CLUSTER_SETUP"
  | "KUBEGATE_COMMAND_FAILED";

const BY_HTTP_CODE: Record<number, ErrorCode> = {
  400: "KUBEGATE_BAD_REQUEST",
  401: "KUBEGATE_UNAUTHENTICATED",
  403: "KUBEGATE_FORBIDDEN",
  404: "KUBEGATE_NOT_FOUND",
  409: "KUBEGATE_CONFLICT",
  413: "KUBEGATE_BODY_TOO_LARGE",
  415: "KUBEGATE_UNSUPPORTED_MEDIA_TYPE",
  429: "KUBEGATE_TOO_MANY_REQUESTS",
  502: "KUBEGATE_UPSTREAM_BAD_ANSWER",
  503: "KUBEGATE_UNAVAILABLE",
  504: "KUBEGATE_TIMEOUT",
};

export function codeForHttp(httpCode: number): ErrorCode {
  return BY_HTTP_CODE[httpCode] ?? (httpCode >= 500 ? "KUBEGATE_INTERNAL" : "KUBEGATE_BAD_REQUEST");
}

/** The stable code of any error: ours, undici's (UND_ERR_*) or Node's (ECONNREFUSED, ERR_*). */
export function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}
