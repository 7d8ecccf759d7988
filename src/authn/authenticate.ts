import type { TLSSocket } from "node:tls";
import type { Reviews } from "../kube/reviews.ts";
import { identityProblem } from "./identity-policy.ts";
import type { AuthnResult } from "./user.ts";
import { authenticateCertificate } from "./x509.ts";

/** A bearer-token authenticator that recognises its own tokens cheaply (OIDC: a JWT from its issuer). */
export interface TokenAuthenticator {
  claims(token: string): boolean;
  authenticate(token: string): Promise<AuthnResult>;
  close(): void;
}

export interface Authenticators {
  /** TLS client certificates (verified against --client-ca by the TLS layer). */
  certificates: boolean;
  /** Bearer tokens checked with TokenReview. */
  tokenReview?: Reviews;
  tokenAudiences?: string[];
  oidc?: TokenAuthenticator;
  /** Accept system:* names and groups from client certificates and OIDC (off by default). */
  allowReservedIdentity?: boolean;
}

/** The bearer token of an Authorization header, or undefined when there is none of that scheme. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return match?.[1];
}

/**
 * Union of the configured authenticators, deny by default: a verified client certificate wins; else a
 * bearer token decides (OIDC when it is a JWT from our issuer, TokenReview otherwise); a presented but
 * invalid certificate with no token is rejected; nothing at all is rejected.
 */
export async function authenticate(
  a: Authenticators,
  socket: TLSSocket | undefined,
  authorization: string | undefined,
): Promise<AuthnResult> {
  const result = await anyAuthenticator(a, socket, authorization);
  if (result.kind !== "user") return result;
  const problem = identityProblem(result.user, result.method, a.allowReservedIdentity);
  return problem ? { kind: "rejected", reason: problem, tell: true } : result;
}

async function anyAuthenticator(
  a: Authenticators,
  socket: TLSSocket | undefined,
  authorization: string | undefined,
): Promise<AuthnResult> {
  let certificate: AuthnResult = { kind: "none" };
  if (a.certificates && socket && "getPeerCertificate" in socket) {
    certificate = authenticateCertificate(socket);
    if (certificate.kind === "user") return certificate;
  }
  if (authorization !== undefined) {
    const token = bearerToken(authorization);
    if (token === undefined) return { kind: "rejected", reason: "only Bearer tokens are accepted" };
    if (a.oidc?.claims(token)) return a.oidc.authenticate(token);
    if (a.tokenReview) {
      const review = await a.tokenReview.tokenReview(token, a.tokenAudiences);
      return review.authenticated
        ? { kind: "user", method: "token", user: review.user }
        : { kind: "rejected", reason: review.reason };
    }
    return { kind: "rejected", reason: "bearer tokens are not accepted by this gateway" };
  }
  if (certificate.kind === "rejected") return certificate;
  return { kind: "rejected", reason: "no client certificate or bearer token" };
}
