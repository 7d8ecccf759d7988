// The Helm chart (charts/kubegate, issue #21) against the real helm, built from its Go module like the
// cluster's programs: it lints, it renders exactly the objects `kubegate manifests` renders for the
// same settings (tenancy off and on, every value that has a flag), and the real apiserver accepts the
// rendering (server-side dry run). Installing it on the real node is test/e2e/serial/helm-install.
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { ensureClientBinaries } from "../../src/devcluster/build.ts";
import { type KubeObject, renderManifests } from "../../src/manifests/render.ts";
import { createCA } from "../../src/pki/certificates.ts";
import { useCluster } from "../cluster/harness.ts";
import { ok, run } from "./run.ts";

const CHART = fileURLToPath(new URL("../../charts/kubegate", import.meta.url));
const cluster = await useCluster();
const dir = await mkdtemp(join(tmpdir(), "kubegate-helm-"));
const usersCa = await createCA("helm-e2e-users");
const usersCaFile = join(dir, "users-ca.crt");
await writeFile(usersCaFile, usersCa.certPem);

/** The settings both renderings get: each has a `kubegate manifests` flag and a chart value. */
interface Settings {
  namespace: string;
  image: string;
  tenancy: boolean;
  teamLabel?: string;
  apiserverFqdn: string;
  nodeLocalIp: string;
  apiserverUpstream: string;
  gatewayDns: string[];
  gatewayIps: string[];
}

const DEFAULTS: Settings = {
  namespace: "kubegate-system",
  image: "ghcr.io/kubegate/kubegate:0.1.0",
  tenancy: false,
  apiserverFqdn: "kubernetes.default.svc.cluster.local.",
  nodeLocalIp: "10.96.0.2",
  apiserverUpstream: "kubernetes.default.svc.cluster.local:443",
  gatewayDns: [],
  gatewayIps: [],
};
const CUSTOM: Settings = {
  namespace: "kg-helm",
  image: "registry.example/kubegate:9.9.9",
  tenancy: true,
  teamLabel: "example.com/team",
  apiserverFqdn: "api.example.com.",
  nodeLocalIp: "169.254.20.11",
  apiserverUpstream: "10.0.0.1:6443",
  gatewayDns: ["kubegate.example.com"],
  gatewayIps: ["203.0.113.7"],
};

let helm = "";

async function helmTemplate(s: Settings): Promise<KubeObject[]> {
  const [repository, tag] = s.image.split(/:(?=[^:/]+$)/) as [string, string];
  const values = [
    `image.repository=${repository}`,
    `image.tag=${tag}`,
    ...(s.teamLabel ? [`tenancy.teamLabel=${s.teamLabel}`] : []),
    `webhook.apiserverFqdn=${s.apiserverFqdn}`,
    `nodeAgent.nodeLocalIp=${s.nodeLocalIp}`,
    `nodeAgent.apiserverUpstream=${s.apiserverUpstream}`,
    ...(s.gatewayDns.length ? [`gateway.dnsNames={${s.gatewayDns.join(",")}}`] : []),
    ...(s.gatewayIps.length ? [`gateway.ipAddresses={${s.gatewayIps.join(",")}}`] : []),
  ];
  const out = await ok(
    run(helm, [
      ...["template", "kubegate", CHART, "--namespace", s.namespace, "--include-crds"],
      ...["--set-file", `usersCA.cert=${usersCaFile}`],
      // A boolean as a boolean: --set-string would make "false" a non-empty, true string.
      ...["--set", `tenancy.enabled=${s.tenancy}`],
      ...values.flatMap((v) => ["--set-string", v]),
    ]),
  );
  return parseAllDocuments(out)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

const HELM_LABELS = ["app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "helm.sh/chart"];

/**
 * An object as both sources must agree on it: without what only Helm adds (its labels), certificate
 * and key bytes (issued anew by each), and Secret data as the keys it has (data or stringData).
 */
function comparable(o: KubeObject): unknown {
  const copy = structuredClone(o) as Record<string, unknown> & KubeObject;
  const strip = (labels: Record<string, string> | undefined) => {
    for (const l of HELM_LABELS) delete labels?.[l];
  };
  strip(copy.metadata.labels as Record<string, string> | undefined);
  const template = (
    copy.spec as { template?: { metadata?: { labels?: Record<string, string> } } } | undefined
  )?.template;
  strip(template?.metadata?.labels);
  if (copy.kind === "Secret") {
    const keys = Object.keys({ ...(copy.data as object), ...(copy.stringData as object) }).sort();
    delete copy.data;
    delete copy.stringData;
    copy.keys = keys;
  }
  if (copy.kind === "APIService") (copy.spec as { caBundle: string }).caBundle = "<serving CA>";
  if (copy.kind === "MutatingWebhookConfiguration")
    for (const w of copy.webhooks as { clientConfig: { caBundle: string } }[])
      w.clientConfig.caBundle = "<serving CA>";
  return copy;
}

const keyOf = (o: KubeObject) => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`;

function byKey(objects: KubeObject[]): Map<string, KubeObject> {
  return new Map(objects.map((o) => [keyOf(o), o]));
}

describe("the Helm chart", () => {
  before(async () => {
    ({ helm } = await ensureClientBinaries({ log: (l) => process.stderr.write(`# helm: ${l}\n`) }));
  });

  it("lints clean with the real helm", async () => {
    const r = await run(helm, ["lint", "--strict", CHART, "--set-file", `usersCA.cert=${usersCaFile}`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it("refuses to render without the users CA, saying which value is missing", async () => {
    const r = await run(helm, ["template", "kubegate", CHART]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /usersCA\.cert: the CA certificate \(PEM\) that signs users' client certificates/);
  });

  for (const [name, s] of [
    ["defaults", DEFAULTS],
    ["every setting changed, tenancy on", CUSTOM],
  ] as const) {
    it(`renders the objects kubegate manifests renders (${name})`, async () => {
      const manifests = await renderManifests({
        ...s,
        usersCaCert: usersCa.certPem,
        ...(s.teamLabel ? { teamLabel: s.teamLabel } : {}),
      });
      const fromManifests = byKey(manifests.objects.filter((o) => o.kind !== "Namespace"));
      const chart = await helmTemplate(s);
      // What only the chart has: the generated serving CA, kept in the cluster for upgrades.
      const fromChart = byKey(
        chart.filter((o) => !(o.kind === "Secret" && o.metadata.name === "kubegate-serving-ca")),
      );
      assert.deepEqual([...fromChart.keys()].sort(), [...fromManifests.keys()].sort());
      for (const [key, o] of fromManifests)
        assert.deepEqual(comparable(fromChart.get(key) as KubeObject), comparable(o), key);
      // Helm's labels are there, on top of the manifests' own.
      const gateway = fromChart.get(`Deployment ${s.namespace}/kubegate-gateway`) as KubeObject;
      assert.equal(
        (gateway.metadata.labels as Record<string, string>)["app.kubernetes.io/managed-by"],
        "Helm",
      );
    });
  }

  it("issues the serving certificates for the Services' names with one CA, which is the caBundle", async () => {
    const chart = await helmTemplate(CUSTOM);
    const { X509Certificate } = await import("node:crypto");
    const secret = (name: string) =>
      (
        chart.find((o) => o.kind === "Secret" && o.metadata.name === name) as KubeObject & {
          data: Record<string, string>;
        }
      ).data;
    const ca = new X509Certificate(Buffer.from(secret("kubegate-serving-ca")["tls.crt"] as string, "base64"));
    const gw = new X509Certificate(
      Buffer.from(secret("kubegate-gateway-tls")["tls.crt"] as string, "base64"),
    );
    assert.ok(gw.verify(ca.publicKey), "signed by the serving CA");
    assert.match(gw.subjectAltName ?? "", /DNS:kubegate-gateway\.kg-helm\.svc/);
    assert.match(gw.subjectAltName ?? "", /DNS:kubegate\.example\.com/);
    assert.match(gw.subjectAltName ?? "", /IP Address:203\.0\.113\.7/);
    const api = chart.find((o) => o.kind === "APIService") as KubeObject & { spec: { caBundle: string } };
    assert.equal(api.spec.caBundle, secret("kubegate-serving-ca")["tls.crt"]);
  });

  it("the real apiserver accepts the rendering (server-side apply, dry run)", async () => {
    const r = await run(helm, [
      ...["template", "kubegate", CHART, "--namespace", "default", "--include-crds"],
      ...["--set-file", `usersCA.cert=${usersCaFile}`, "--set", "tenancy.enabled=true"],
    ]);
    assert.equal(r.code, 0, r.stderr);
    // CRDs first: a dry run cannot create them for the rest of the same apply to use.
    const applied = await run(
      "kubectl",
      [
        ...["--kubeconfig", cluster.adminKubeconfig, "apply", "--server-side", "--dry-run=server"],
        ...["--force-conflicts", "--field-manager", "helm-e2e", "-f", "-"],
      ],
      { input: r.stdout },
    );
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /deployment\.apps\/kubegate-gateway serverside-applied \(server dry run\)/);
    assert.match(
      applied.stdout,
      /apiservice\.apiregistration\.k8s\.io\/v1\.custom\.api\.local serverside-applied/,
    );
  });
});
