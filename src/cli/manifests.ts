import { isIP } from "node:net";
import { join } from "node:path";
import { Command } from "commander";
import { z } from "zod";
import { days, dnsList, ipList, nonEmpty, parseOptions, path } from "../config/validate.ts";
import { renderManifests, toYaml } from "../manifests/render.ts";
import { createCA, isDnsName } from "../pki/certificates.ts";
import { readInput, writeOutputs } from "../pki/files.ts";
import { KubegateError } from "../status/errors.ts";

const collect = (value: string, previous: string[] = []) => [...previous, value];
const VERSION = process.env.npm_package_version ?? "0.1.0";

const dnsLabel = nonEmpty.regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
  message: "must be a DNS-1123 label (lower-case letters, digits, '-', at most 63)",
});
const upstream = z.string().refine(
  (v) => {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v);
    if (!m || Number(m[3]) > 65535 || Number(m[3]) === 0) return false;
    return m[1] !== undefined ? isIP(m[1]) === 6 : isIP(m[2] ?? "") === 4 || isDnsName(m[2] ?? "");
  },
  { message: "must be HOST:PORT with a DNS name or an IP address, e.g. api.example.com:6443" },
);

const schema = z.object({
  namespace: dnsLabel,
  image: nonEmpty.regex(/^[^\s]+$/, { message: "must be an image reference without spaces" }),
  out: path.optional(),
  usersCaCert: path.optional(),
  apiserverFqdn: nonEmpty.refine(isDnsName, { message: "must be a DNS name, e.g. api.example.com." }),
  nodeLocalIp: z.string().refine((v) => isIP(v) !== 0, { message: "must be an IPv4 or IPv6 address" }),
  apiserverUpstream: upstream,
  tenancy: z.boolean(),
  teamLabel: nonEmpty.optional(),
  gatewayDns: dnsList,
  gatewayIp: ipList,
  days: days.optional(),
  force: z.boolean(),
});

export function manifestsCommand(): Command {
  return new Command("manifests")
    .description(
      "render every kubegate manifest for one namespace and image, with serving certificates and caBundles",
    )
    .option("--namespace <ns>", "namespace kubegate runs in", "kubegate-system")
    .option("--image <ref>", "kubegate container image", `ghcr.io/kubegate/kubegate:${VERSION}`)
    .option(
      "--out <dir>",
      "write a kustomize directory (kubectl apply -k DIR) with the CAs beside it; default: YAML on stdout",
    )
    .option(
      "--users-ca-cert <file>",
      "CA that signs users' client certificates (default with --out: a new one, key saved in DIR)",
    )
    .option(
      "--apiserver-fqdn <name>",
      "KUBERNETES_SERVICE_HOST the pod webhook sets",
      "kubernetes.default.svc.cluster.local.",
    )
    .option(
      "--node-local-ip <ip>",
      "address the node agent holds and the apiserver proxy listens on",
      "10.96.0.2",
    )
    .option(
      "--apiserver-upstream <host:port>",
      "kube-apiserver address the node-local proxy connects to",
      "kubernetes.default.svc.cluster.local:443",
    )
    .option("--tenancy", "enable Tenant/ProxySetting filtering (adds the gateway's tenancy RBAC)", false)
    .option("--team-label <key>", "namespace label naming the team (group) that may see it")
    .option("--gateway-dns <names>", "extra DNS names of the gateway's certificate (repeatable)", collect)
    .option(
      "--gateway-ip <addresses>",
      "extra IP addresses of the gateway's certificate (repeatable)",
      collect,
    )
    .option("--days <n>", "validity of the serving certificates", "365")
    .option("--force", "overwrite key files in --out", false)
    .addHelpText(
      "after",
      `
Examples:
  kubegate manifests --out ./kubegate-deploy --gateway-dns kubegate.example.com
  kubectl apply --server-side -k ./kubegate-deploy
  kubegate manifests --users-ca-cert users-ca.crt --image registry.local/kubegate:dev | kubectl apply -f -`,
    )
    .action(async (raw) => {
      const o = parseOptions(schema, raw);
      if (!o.out && !o.usersCaCert) {
        throw new KubegateError(
          "pass --users-ca-cert (the CA of your users' client certificates) or --out DIR to have one made and saved there",
        );
      }
      const usersCa = o.usersCaCert
        ? await loadUsersCaCert(o.usersCaCert)
        : await createCA("kubegate-users-ca", { days: 3650 });
      const rendered = await renderManifests({
        namespace: o.namespace,
        image: o.image,
        apiserverFqdn: o.apiserverFqdn,
        nodeLocalIp: o.nodeLocalIp,
        apiserverUpstream: o.apiserverUpstream,
        tenancy: o.tenancy,
        teamLabel: o.teamLabel,
        gatewayDns: o.gatewayDns,
        gatewayIps: o.gatewayIp,
        usersCaCert: usersCa.certPem,
        days: o.days,
      });
      const yaml = toYaml(rendered.objects);
      if (!o.out) {
        process.stdout.write(yaml);
        return;
      }
      const at = (n: string) => join(o.out as string, n);
      await writeOutputs(
        [
          // The manifests hold the serving keys: the whole file is secret.
          { path: at("kubegate.yaml"), content: yaml, secret: true },
          {
            path: at("kustomization.yaml"),
            content:
              "# Made by `kubegate manifests`: apply with kubectl apply --server-side -k <this directory>.\n" +
              "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - kubegate.yaml\n",
            secret: false,
          },
          { path: at("serving-ca.crt"), content: rendered.servingCa.certPem, secret: false },
          { path: at("serving-ca.key"), content: rendered.servingCa.keyPem, secret: true },
          { path: at("users-ca.crt"), content: usersCa.certPem, secret: false },
          ...("keyPem" in usersCa && usersCa.keyPem
            ? [{ path: at("users-ca.key"), content: usersCa.keyPem, secret: true }]
            : []),
        ],
        { force: o.force },
      );
      console.log(`wrote ${rendered.objects.length} objects to ${at("kubegate.yaml")}
  apply:        kubectl apply --server-side -k ${o.out}
  user certs:   kubegate certs client --ca-cert ${at("users-ca.crt")} --ca-key ${at("users-ca.key")} --cn alice --o team-a ...
  users trust:  ${at("serving-ca.crt")} (the gateway's serving CA)`);
    });
}

/** Only the certificate is needed in the cluster; a key next to it is not read. */
async function loadUsersCaCert(file: string): Promise<{ certPem: string; keyPem?: string }> {
  const pem = await readInput(file, "users CA certificate");
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new KubegateError(`${file} is not a PEM certificate`);
  }
  return { certPem: pem };
}
