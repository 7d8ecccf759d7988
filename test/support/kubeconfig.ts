// A kubeconfig with everything inline, for a user reaching a server by address with a client
// certificate: what the in-cluster tests hand kubectl to talk to a Service from the node's host.

export interface InlineKubeconfig {
  server: string;
  /** PEM of the CA the server's certificate is checked against. */
  ca: string;
  /** The name the server's certificate carries, when the address is not one of them. */
  serverName?: string;
  certPem: string;
  keyPem: string;
}

export function inlineKubeconfig(k: InlineKubeconfig): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "server",
        cluster: {
          server: k.server,
          "certificate-authority-data": b64(k.ca),
          ...(k.serverName ? { "tls-server-name": k.serverName } : {}),
        },
      },
    ],
    users: [
      { name: "user", user: { "client-certificate-data": b64(k.certPem), "client-key-data": b64(k.keyPem) } },
    ],
    contexts: [{ name: "user", context: { cluster: "server", user: "user" } }],
    "current-context": "user",
  });
}
