import { readFile } from "node:fs/promises";
import { parseAllDocuments, stringify } from "yaml";
import { createCA, createServerCert, type SigningCA, serviceDnsNames } from "../pki/certificates.ts";
import { KubegateError } from "../status/errors.ts";

/** The shipped kustomize base and the tenancy component: the one source of every manifest. */
const DEPLOY_DIR = new URL("../../deploy/", import.meta.url);
const BASE_NAMESPACE = "kubegate-system";
const TENANCY_RBAC = "components/tenancy/gateway-tenancy-rbac.yaml";

export interface RenderOptions {
  namespace: string;
  image: string;
  /** Value the pod webhook gives KUBERNETES_SERVICE_HOST. */
  apiserverFqdn: string;
  /** Node-local address the node agent holds and the apiserver proxy listens on. */
  nodeLocalIp: string;
  /** Where the node-local apiserver proxy sends connections. */
  apiserverUpstream: string;
  tenancy: boolean;
  teamLabel?: string;
  /** Extra names and addresses users reach the gateway at (its LoadBalancer, DNS name). */
  gatewayDns: readonly string[];
  gatewayIps: readonly string[];
  /** CA certificate that signs users' client certificates (only the certificate goes to the cluster). */
  usersCaCert: string;
  /** Signs the three serving certificates; its certificate becomes the caBundles. */
  servingCa?: SigningCA;
  days?: number;
}

export interface Rendered {
  /** Every object, in apply order (namespace and CRDs first). */
  objects: KubeObject[];
  servingCa: SigningCA;
}

export type KubeObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
};

/** Reads the base's kustomization so the renderer and `kubectl apply -k` use the same file list. */
async function baseFiles(): Promise<string[]> {
  const text = await readFile(new URL("base/kustomization.yaml", DEPLOY_DIR), "utf8");
  const [doc] = parseAllDocuments(text);
  const resources = (doc?.toJS() as { resources?: unknown } | undefined)?.resources;
  if (!Array.isArray(resources)) throw new KubegateError("deploy/base/kustomization.yaml lists no resources");
  return resources.map((r) => `base/${String(r)}`);
}

async function load(file: string): Promise<KubeObject[]> {
  const text = await readFile(new URL(file, DEPLOY_DIR), "utf8");
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

function containers(o: KubeObject): Array<{ name: string; image: string; args: string[] }> {
  const spec = (o.spec as { template?: { spec?: { containers?: unknown } } } | undefined)?.template?.spec;
  return (spec?.containers as Array<{ name: string; image: string; args: string[] }>) ?? [];
}

/** Replaces `--flag=value` in a container's args, or appends it; fails loudly if the base changed shape. */
function setArg(args: string[], flag: string, value: string | undefined): void {
  const at = args.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  const arg = value === undefined ? flag : `${flag}=${value}`;
  if (at >= 0) args[at] = arg;
  else args.push(arg);
}

function argsOf(objects: KubeObject[], kind: string, name: string, container: string): string[] {
  const c = containers(
    objects.find((o) => o.kind === kind && o.metadata.name === name) ?? ({} as KubeObject),
  ).find((x) => x.name === container);
  if (!c) throw new KubegateError(`the deploy base has no container ${container} in ${kind} ${name}`);
  return c.args;
}

/** Moves every reference to the base namespace to the chosen one (objects, subjects, service refs). */
function renamespace(o: KubeObject, ns: string): void {
  if (o.kind === "Namespace" && o.metadata.name === BASE_NAMESPACE) o.metadata.name = ns;
  if (o.metadata.namespace === BASE_NAMESPACE) o.metadata.namespace = ns;
  for (const s of (o.subjects as Array<{ namespace?: string }> | undefined) ?? []) {
    if (s.namespace === BASE_NAMESPACE) s.namespace = ns;
  }
  const svc = (o.spec as { service?: { namespace?: string } } | undefined)?.service;
  if (svc?.namespace === BASE_NAMESPACE) svc.namespace = ns;
  for (const w of (o.webhooks as Array<{ clientConfig: { service?: { namespace?: string } } }> | undefined) ??
    []) {
    if (w.clientConfig.service?.namespace === BASE_NAMESPACE) w.clientConfig.service.namespace = ns;
  }
}

function tlsSecret(name: string, ns: string, cert: string, key: string, ca: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: ns, labels: { "app.kubernetes.io/part-of": "kubegate" } },
    type: "kubernetes.io/tls",
    stringData: { "tls.crt": cert, "tls.key": key, "ca.crt": ca },
  };
}

/**
 * Renders the deploy base for one installation: namespace, image and flags set, serving certificates
 * issued for the Services' in-cluster names, and the caBundles filled with their CA, so the aggregator
 * and the admission chain verify kubegate's servers (never insecureSkipTLSVerify).
 */
export async function renderManifests(o: RenderOptions): Promise<Rendered> {
  const files = [...(await baseFiles()), ...(o.tenancy ? [TENANCY_RBAC] : [])];
  const objects = (await Promise.all(files.map(load))).flat();
  const ns = o.namespace;
  for (const obj of objects) {
    renamespace(obj, ns);
    for (const c of containers(obj)) c.image = o.image;
  }

  const gateway = argsOf(objects, "Deployment", "kubegate-gateway", "gateway");
  const apiserver = argsOf(objects, "Deployment", "kubegate-apiserver", "apiserver");
  if (o.tenancy) {
    setArg(gateway, "--tenancy", undefined);
    setArg(apiserver, "--tenancy", undefined);
  }
  if (o.teamLabel) {
    setArg(gateway, "--team-label", o.teamLabel);
    setArg(apiserver, "--team-label", o.teamLabel);
  }
  setArg(argsOf(objects, "Deployment", "kubegate-webhook", "webhook"), "--apiserver-fqdn", o.apiserverFqdn);
  setArg(argsOf(objects, "DaemonSet", "kubegate-node-agent", "node-agent"), "--ip-address", o.nodeLocalIp);
  const proxy = argsOf(objects, "DaemonSet", "kubegate-node-agent", "apiserver-proxy");
  setArg(proxy, "--listen", o.nodeLocalIp.includes(":") ? `[${o.nodeLocalIp}]:443` : `${o.nodeLocalIp}:443`);
  setArg(proxy, "--upstream", o.apiserverUpstream);

  const ca = o.servingCa ?? (await createCA("kubegate-serving-ca", { days: o.days ?? 3650 }));
  const serve = (service: string, extraDns: readonly string[] = [], ips: readonly string[] = []) =>
    createServerCert(ca, {
      cn: `${service}.${ns}.svc`,
      dnsNames: [...serviceDnsNames(service, ns), ...extraDns],
      ipAddresses: ips,
      days: o.days ?? 365,
    });
  const [gw, api, hook] = await Promise.all([
    serve("kubegate-gateway", o.gatewayDns, o.gatewayIps),
    serve("custom-api"),
    serve("kubegate-webhook"),
  ]);
  const caBundle = Buffer.from(ca.certPem).toString("base64");
  for (const obj of objects) {
    if (obj.kind === "APIService") (obj.spec as { caBundle: string }).caBundle = caBundle;
    if (obj.kind === "MutatingWebhookConfiguration") {
      for (const w of obj.webhooks as Array<{ clientConfig: { caBundle?: string } }>)
        w.clientConfig.caBundle = caBundle;
    }
  }
  const secrets: KubeObject[] = [
    tlsSecret("kubegate-gateway-tls", ns, gw.certPem, gw.keyPem, ca.certPem),
    tlsSecret("custom-api-tls", ns, api.certPem, api.keyPem, ca.certPem),
    tlsSecret("kubegate-webhook-tls", ns, hook.certPem, hook.keyPem, ca.certPem),
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: "kubegate-users-ca",
        namespace: ns,
        labels: { "app.kubernetes.io/part-of": "kubegate" },
      },
      stringData: { "ca.crt": o.usersCaCert },
    },
  ];
  // Secrets right after the namespace and CRDs: Deployments that mount them start without a retry.
  const firstNamespaced = objects.findIndex((x) => x.metadata.namespace !== undefined);
  objects.splice(firstNamespaced < 0 ? objects.length : firstNamespaced, 0, ...secrets);
  return { objects, servingCa: ca };
}

export function toYaml(objects: readonly KubeObject[]): string {
  return objects.map((x) => stringify(x, { lineWidth: 0 })).join("---\n");
}
