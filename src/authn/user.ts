/** The identity of a caller, as Kubernetes models it (authentication.k8s.io UserInfo). */
export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/** Outcome of one authenticator: a user, "not mine" (no credential of its kind), or a rejection. */
export type AuthnResult =
  | { kind: "user"; user: UserInfo; method: AuthnMethod }
  | { kind: "none" }
  | {
      kind: "rejected";
      reason: string /** Safe to tell the client (it is about its own identity). */;
      tell?: boolean;
    };

/** A credential that was checked and refused, with the reason to report. */
export class TokenRejection extends Error {}

export type AuthnMethod = "x509" | "token" | "oidc";
