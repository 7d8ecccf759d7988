import { checkServingCertificate } from "./cert-checks.ts";
import { describeError, getObject } from "./kube-api.ts";
import { serviceHost } from "./names.ts";
import { fetchServedCertificates, hostPort } from "./tls-probe.ts";
import { type DoctorContext, type Finding, type HostPort, problem, warning } from "./types.ts";

/** How kube-apiserver names a backend: a Service reference (APIService, webhook) or a URL (webhook). */
export type Target = { service: { name: string; namespace: string; port?: number } } | { url: string };

interface ServiceObject {
  spec?: { type?: string; externalName?: string; clusterIP?: string; ports?: { port: number }[] };
}

export interface EndpointInput {
  /** e.g. "the aggregated server's serving certificate" */
  what: string;
  target: Target;
  /** An address the operator gave, used instead of resolving the Service. */
  override?: HostPort;
  overrideFlag: string;
  caBundlePem: string;
  caBundleSource: string;
  reissue: string;
}

type Resolved =
  | { address: HostPort; host: string; viaClusterIp: boolean }
  | { findings: Finding[]; host: string };

/** Where kube-apiserver would dial, resolved the way its service resolver does. */
async function resolve(ctx: DoctorContext, i: EndpointInput): Promise<Resolved> {
  if ("url" in i.target) {
    const u = new URL(i.target.url);
    const host = u.hostname.replace(/^\[|\]$/g, "");
    return { address: i.override ?? { host, port: Number(u.port || 443) }, host, viaClusterIp: false };
  }
  const { name, namespace } = i.target.service;
  const port = i.target.service.port ?? 443;
  const host = serviceHost(name, namespace);
  if (i.override) return { address: i.override, host, viaClusterIp: false };
  const svc = await getObject<ServiceObject>(
    ctx.upstream,
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(name)}`,
  );
  if (!svc) {
    return {
      host,
      findings: [
        problem(
          `Service ${namespace}/${name} does not exist, so kube-apiserver has nowhere to send requests`,
          "apply the deploy manifests (kubectl apply -k deploy/base, or kubegate manifests | kubectl apply -f -)",
        ),
      ],
    };
  }
  const spec = svc.spec ?? {};
  if (spec.type === "ExternalName" && spec.externalName) {
    return { address: { host: spec.externalName, port }, host, viaClusterIp: false };
  }
  if (!spec.clusterIP || spec.clusterIP === "None") {
    return {
      host,
      findings: [
        problem(
          `Service ${namespace}/${name} is headless (clusterIP None); kube-apiserver cannot route to it`,
          "give the Service a cluster IP (remove clusterIP: None)",
        ),
      ],
    };
  }
  if (!(spec.ports ?? []).some((p) => p.port === port)) {
    return {
      host,
      findings: [
        problem(
          `Service ${namespace}/${name} has no port ${port} (it has ${(spec.ports ?? []).map((p) => p.port).join(", ") || "none"})`,
          `make the Service's port and the registration's port agree`,
        ),
      ],
    };
  }
  return { address: { host: spec.clusterIP, port }, host, viaClusterIp: true };
}

/** Fetches the certificate where kube-apiserver would connect and judges it as kube-apiserver would. */
export async function checkEndpoint(ctx: DoctorContext, i: EndpointInput): Promise<Finding[]> {
  const r = await resolve(ctx, i);
  if ("findings" in r) return r.findings;
  let served: Awaited<ReturnType<typeof fetchServedCertificates>>;
  try {
    served = await fetchServedCertificates(r.address, r.host, ctx.stepTimeoutMs);
  } catch (err) {
    const why = `cannot fetch ${i.what} from ${hostPort(r.address)}: ${describeError(err)}`;
    if (r.viaClusterIp && "service" in i.target) {
      // Cluster IPs are usually unreachable from a workstation: that says nothing about the server.
      const { name, namespace } = i.target.service;
      return [
        warning(
          `${why}; a cluster IP is often unreachable from outside the cluster, so the certificate was not checked`,
          `port-forward and give the local address: kubectl -n ${namespace} port-forward svc/${name} 8443:${r.address.port}, then ${i.overrideFlag} 127.0.0.1:8443`,
        ),
      ];
    }
    return [
      problem(why, `is it running and listening there? (${i.overrideFlag} HOST:PORT checks another address)`),
    ];
  }
  return checkServingCertificate({
    what: i.what,
    served,
    caBundlePem: i.caBundlePem,
    caBundleSource: i.caBundleSource,
    host: r.host,
    now: ctx.now,
    reissue: i.reissue,
  });
}

/** A caBundle field (base64 of PEM) as PEM text; empty when unset. */
export const decodeCaBundle = (b64: string | undefined) =>
  b64 ? Buffer.from(b64, "base64").toString("utf8") : "";
