import { X509Certificate } from "node:crypto";

/**
 * What kube-apiserver publishes in kube-system/extension-apiserver-authentication for extension
 * servers: which CA signs the aggregator's client certificate, which CNs it may have, and which
 * headers carry the user. Client-go's requestheader authenticator reads the same keys.
 */
export interface AuthConfig {
  clientCa: X509Certificate[];
  clientCaPem: string;
  requestHeaderCa: X509Certificate[];
  requestHeaderCaPem: string;
  allowedNames: string[];
  usernameHeaders: string[];
  uidHeaders: string[];
  groupHeaders: string[];
  extraPrefixes: string[];
}

export const AUTH_CONFIGMAP = { namespace: "kube-system", name: "extension-apiserver-authentication" };

function splitPem(bundle: string | undefined): { certs: X509Certificate[]; pem: string } {
  const blocks = (bundle ?? "").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const certs: X509Certificate[] = [];
  for (const block of blocks) {
    try {
      certs.push(new X509Certificate(block));
    } catch {
      // An unreadable block trusts nothing; the rest of the bundle still counts.
    }
  }
  return { certs, pem: blocks.join("\n") };
}

function jsonList(value: string | undefined): string[] {
  if (!value) return [];
  try {
    const parsed = JSON.parse(value) as unknown;
    return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === "string" && v !== "") : [];
  } catch {
    return [];
  }
}

export function parseAuthConfig(data: Record<string, string> | undefined): AuthConfig {
  const d = data ?? {};
  const client = splitPem(d["client-ca-file"]);
  const requestHeader = splitPem(d["requestheader-client-ca-file"]);
  return {
    clientCa: client.certs,
    clientCaPem: client.pem,
    requestHeaderCa: requestHeader.certs,
    requestHeaderCaPem: requestHeader.pem,
    allowedNames: jsonList(d["requestheader-allowed-names"]),
    usernameHeaders: jsonList(d["requestheader-username-headers"]).map((h) => h.toLowerCase()),
    uidHeaders: jsonList(d["requestheader-uid-headers"]).map((h) => h.toLowerCase()),
    groupHeaders: jsonList(d["requestheader-group-headers"]).map((h) => h.toLowerCase()),
    extraPrefixes: jsonList(d["requestheader-extra-headers-prefix"]).map((h) => h.toLowerCase()),
  };
}

/** True when `cert` was issued and signed by one of `cas` and is within its validity period. */
export function issuedByAny(
  cert: X509Certificate,
  cas: readonly X509Certificate[],
  now = new Date(),
): boolean {
  if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) return false;
  return cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
}
