import { connect, type DetailedPeerCertificate } from "node:tls";
import { x509 } from "../pki/x509.ts";
import { KubegateError } from "../status/errors.ts";
import type { HostPort } from "./types.ts";

/**
 * The certificates a TLS server presents (leaf first), fetched without trusting them: doctor judges
 * them itself, against the caBundle kube-apiserver would use. SNI carries the Service name, as
 * kube-apiserver sends it.
 */
export function fetchServedCertificates(
  address: HostPort,
  serverName: string,
  timeoutMs: number,
): Promise<x509.X509Certificate[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: address.host,
      port: address.port,
      servername: serverName,
      rejectUnauthorized: false,
      timeout: timeoutMs,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new KubegateError(`no TLS handshake with ${hostPort(address)} within ${timeoutMs} ms`, {
          code: "KUBEGATE_TLS_HANDSHAKE_TIMEOUT",
        }),
      );
    }, timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      const certs: x509.X509Certificate[] = [];
      let peer: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      const seen = new Set<string>();
      while (peer?.raw && !seen.has(peer.fingerprint256)) {
        seen.add(peer.fingerprint256);
        certs.push(new x509.X509Certificate(peer.raw));
        peer = peer.issuerCertificate;
      }
      socket.destroy();
      resolve(certs);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}

export const hostPort = (a: HostPort) =>
  a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
