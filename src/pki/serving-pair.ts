import { createPrivateKey, X509Certificate } from "node:crypto";
import { KubegateError } from "../status/errors.ts";

/**
 * Proves a certificate and key read from disk form a usable serving pair before a server swaps them in.
 * A rotation caught half-way (an empty or truncated file, a new key beside the old certificate) must
 * keep the old pair: node's TLS would otherwise accept a context with no certificate and fail every
 * handshake until the next reload.
 */
export function checkServingPair(certPem: string, keyPem: string): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw new KubegateError("the certificate file holds no complete PEM certificate");
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new KubegateError("the key file holds no complete PEM private key");
  }
  if (!cert.checkPrivateKey(key)) throw new KubegateError("the key does not belong to the certificate");
}
