// Identities the gateway refuses before anything is forwarded.
//
// Reserved: a client certificate or an OIDC token is the users CA's or the identity provider's word,
// and neither should be able to mint Kubernetes' own identities. Names and groups under "system:"
// (system:masters is cluster-admin without RBAC, system:nodes the Node authorizer's, system:
// serviceaccount(s) the service-account token authenticator's) are refused unless the operator passes
// --allow-reserved-identity. TokenReview answers come from kube-apiserver itself and are exempt: a
// service account's token rightly carries system:serviceaccounts.
//
// Carriable: every part of the identity travels upstream in an HTTP header (Impersonate-* or
// X-Remote-*). A control character cannot, and leading or trailing blanks would be trimmed by the
// apiserver's parser into a different name. Such identities get a 401, never a changed identity.
import type { AuthnMethod, UserInfo } from "./user.ts";

export const RESERVED_PREFIX = "system:";

const UNTRUSTED_FOR_RESERVED: ReadonlySet<AuthnMethod> = new Set(["x509", "oidc"]);

/** Why this identity may not pass, or undefined when it may. */
export function identityProblem(
  user: UserInfo,
  method: AuthnMethod,
  allowReserved = false,
): string | undefined {
  if (!allowReserved && UNTRUSTED_FOR_RESERVED.has(method)) {
    if (user.name.startsWith(RESERVED_PREFIX))
      return `the user name "${user.name}" is reserved for Kubernetes (--allow-reserved-identity permits it)`;
    const group = user.groups.find((g) => g.startsWith(RESERVED_PREFIX));
    if (group !== undefined)
      return `the group "${group}" is reserved for Kubernetes (--allow-reserved-identity permits it)`;
  }
  const parts: [string, string][] = [
    ["user name", user.name],
    ...user.groups.map((g): [string, string] => ["group", g]),
    ...(user.uid !== undefined ? [["uid", user.uid] as [string, string]] : []),
    ...Object.entries(user.extra).flatMap(([k, vs]) => [
      ["extra key", k] as [string, string],
      ...vs.map((v): [string, string] => [`extra value of ${k}`, v]),
    ]),
  ];
  for (const [what, value] of parts) {
    const why = uncarriable(value);
    if (why) return `the ${what} ${JSON.stringify(value)} cannot be carried in impersonation headers: ${why}`;
  }
  return undefined;
}

function uncarriable(value: string): string | undefined {
  if (value === "") return "it is empty";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) return "it contains a control character";
  if (/^[ \t]|[ \t]$/.test(value)) return "it starts or ends with a blank";
  return undefined;
}

/**
 * A header value that reaches the apiserver as the UTF-8 bytes of `value`: Node writes header strings
 * as Latin-1, one byte per character, so non-ASCII text is handed over as its UTF-8 bytes.
 */
export function headerValue(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is the common, untouched case
  return /^[\u0000-\u007f]*$/.test(value) ? value : Buffer.from(value, "utf8").toString("latin1");
}
