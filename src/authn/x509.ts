import type { TLSSocket } from "node:tls";
import type { AuthnResult } from "./user.ts";

const asList = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

// HTTP/2 multiplexes many requests, and HTTP/1.1 keep-alive many in turn, over one TLS session whose
// certificate cannot change: read it once per connection.
const bySocket = new WeakMap<TLSSocket, AuthnResult>();

/**
 * The client certificate of the TLS connection, verified by the TLS layer against the client CA
 * (chain, validity, clientAuth usage). CN is the user name and every O a group, as in kube-apiserver.
 */
export function authenticateCertificate(socket: TLSSocket): AuthnResult {
  const cached = bySocket.get(socket);
  if (cached) return cached;
  const result = readCertificate(socket);
  bySocket.set(socket, result);
  return result;
}

function readCertificate(socket: TLSSocket): AuthnResult {
  const peer = socket.getPeerCertificate?.();
  if (!peer || Object.keys(peer).length === 0) return { kind: "none" };
  if (!socket.authorized) {
    return {
      kind: "rejected",
      reason: `client certificate rejected: ${socket.authorizationError ?? "not verified"}`,
    };
  }
  const cn = asList(peer.subject?.CN);
  if (cn.length !== 1 || cn[0] === "") {
    return { kind: "rejected", reason: "client certificate must have exactly one non-empty CN" };
  }
  return {
    kind: "user",
    method: "x509",
    user: { name: cn[0] as string, groups: asList(peer.subject?.O), extra: {} },
  };
}
