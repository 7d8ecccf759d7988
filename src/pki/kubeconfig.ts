import { stringify } from "yaml";

export interface KubeconfigOptions {
  server: string;
  caCertPem: string;
  user: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  token?: string;
  clusterName?: string;
  namespace?: string;
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** A self-contained kubeconfig (all data embedded) with one context named after the user. */
export function renderKubeconfig(o: KubeconfigOptions): string {
  const cluster = o.clusterName ?? "kubegate";
  const user: Record<string, string> = {};
  if (o.clientCertPem) user["client-certificate-data"] = b64(o.clientCertPem);
  if (o.clientKeyPem) user["client-key-data"] = b64(o.clientKeyPem);
  if (o.token) user.token = o.token;
  const context: Record<string, string> = { cluster, user: o.user };
  if (o.namespace) context.namespace = o.namespace;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: cluster, cluster: { server: o.server, "certificate-authority-data": b64(o.caCertPem) } },
    ],
    users: [{ name: o.user, user }],
    contexts: [{ name: o.user, context }],
    "current-context": o.user,
    preferences: {},
  });
}
