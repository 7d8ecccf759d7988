import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { describe, it } from "node:test";
import { createCA } from "../pki/certificates.ts";
import { type KubeObject, renderManifests, toYaml } from "./render.ts";

const usersCa = await createCA("test-users-ca");
const base = {
  namespace: "tenant-gw",
  image: "registry.local/kubegate:test",
  apiserverFqdn: "api.example.com.",
  nodeLocalIp: "10.96.0.9",
  apiserverUpstream: "api.example.com:6443",
  tenancy: false,
  gatewayDns: ["kg.example.com"],
  gatewayIps: ["192.0.2.7"],
  usersCaCert: usersCa.certPem,
};

const find = (objects: KubeObject[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind} ${name} is rendered`);
  return o;
};
const podSpec = (o: KubeObject) =>
  (o.spec as { template: { spec: Record<string, unknown> } }).template.spec as {
    containers: Array<{
      name: string;
      image: string;
      args: string[];
      securityContext?: Record<string, unknown>;
    }>;
    securityContext?: Record<string, unknown>;
    hostNetwork?: boolean;
  };
const secretData = (objects: KubeObject[], name: string) =>
  (find(objects, "Secret", name) as unknown as { stringData: Record<string, string> }).stringData;

describe("renderManifests", async () => {
  const { objects, servingCa } = await renderManifests(base);
  const yaml = toYaml(objects);

  it("leaves no reference to the base namespace and moves service references and subjects", () => {
    assert.equal(yaml.includes("kubegate-system"), false);
    const api = find(objects, "APIService", "v1.custom.api.local") as unknown as {
      spec: { service: { namespace: string } };
    };
    assert.equal(api.spec.service.namespace, "tenant-gw");
    const binding = find(objects, "ClusterRoleBinding", "kubegate-gateway") as unknown as {
      subjects: Array<{ namespace: string }>;
    };
    assert.equal(binding.subjects[0]?.namespace, "tenant-gw");
    // The reader binding stays where the configmap is.
    const reader = find(
      objects,
      "RoleBinding",
      "kubegate-apiserver:extension-apiserver-authentication-reader",
    );
    assert.equal(reader.metadata.namespace, "kube-system");
  });

  it("sets the image everywhere and the flags the options name", () => {
    const images = objects.flatMap((o) =>
      o.kind === "Deployment" || o.kind === "DaemonSet" ? podSpec(o).containers.map((c) => c.image) : [],
    );
    assert.equal(images.length, 5);
    assert.ok(images.every((i) => i === base.image));
    const hook = podSpec(find(objects, "Deployment", "kubegate-webhook")).containers[0];
    assert.ok(hook?.args.includes("--apiserver-fqdn=api.example.com."));
    const ds = podSpec(find(objects, "DaemonSet", "kubegate-node-agent"));
    assert.ok(ds.containers[0]?.args.includes("--ip-address=10.96.0.9"));
    assert.ok(ds.containers[1]?.args.includes("--listen=10.96.0.9:443"));
    assert.ok(ds.containers[1]?.args.includes("--upstream=api.example.com:6443"));
  });

  it("fills both caBundles with the serving CA, which verifies every serving certificate and its names", () => {
    const bundle = Buffer.from(servingCa.certPem).toString("base64");
    const api = find(objects, "APIService", "v1.custom.api.local") as unknown as {
      spec: { caBundle: string; insecureSkipTLSVerify?: boolean };
    };
    assert.equal(api.spec.caBundle, bundle);
    assert.equal(api.spec.insecureSkipTLSVerify, undefined);
    const mwc = find(objects, "MutatingWebhookConfiguration", "kubegate-pod-apiserver-env") as unknown as {
      webhooks: Array<{ clientConfig: { caBundle: string } }>;
    };
    assert.ok(mwc.webhooks.every((w) => w.clientConfig.caBundle === bundle));
    const ca = new X509Certificate(servingCa.certPem);
    for (const [secret, host] of [
      ["kubegate-gateway-tls", "kubegate-gateway.tenant-gw.svc"],
      ["kubegate-gateway-tls", "kg.example.com"],
      ["custom-api-tls", "custom-api.tenant-gw.svc"],
      ["kubegate-webhook-tls", "kubegate-webhook.tenant-gw.svc"],
    ] as const) {
      const cert = new X509Certificate(secretData(objects, secret)["tls.crt"] as string);
      assert.ok(cert.verify(ca.publicKey), `${secret} is signed by the serving CA`);
      assert.equal(cert.checkHost(host), host, `${secret} names ${host}`);
    }
    const gw = new X509Certificate(secretData(objects, "kubegate-gateway-tls")["tls.crt"] as string);
    assert.equal(gw.checkIP("192.0.2.7"), "192.0.2.7");
    assert.equal(gw.checkHost("custom-api.tenant-gw.svc"), undefined);
    assert.equal(secretData(objects, "kubegate-users-ca")["ca.crt"], usersCa.certPem);
    assert.equal(secretData(objects, "kubegate-users-ca")["ca.key"], undefined);
  });

  it("puts Secrets before the workloads that mount them", () => {
    const index = (kind: string, name: string) =>
      objects.findIndex((o) => o.kind === kind && o.metadata.name === name);
    assert.ok(index("Secret", "kubegate-gateway-tls") < index("Deployment", "kubegate-gateway"));
    assert.ok(index("Namespace", "tenant-gw") < index("Secret", "kubegate-gateway-tls"));
  });

  it("runs every Deployment non-root with a read-only root and no capabilities, twice, behind a PDB", () => {
    for (const name of ["kubegate-gateway", "kubegate-apiserver", "kubegate-webhook"]) {
      const d = find(objects, "Deployment", name);
      assert.equal((d.spec as { replicas: number }).replicas, 2);
      const spec = podSpec(d);
      assert.equal(spec.securityContext?.runAsNonRoot, true);
      for (const c of spec.containers) {
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
        assert.deepEqual(c.securityContext?.capabilities, { drop: ["ALL"] });
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
      }
      find(objects, "PodDisruptionBudget", name);
    }
    const ds = podSpec(find(objects, "DaemonSet", "kubegate-node-agent"));
    assert.equal(ds.hostNetwork, true);
    assert.deepEqual(ds.containers[0]?.securityContext?.capabilities, { drop: ["ALL"], add: ["NET_ADMIN"] });
  });

  it("grants the tenancy RBAC and flags only with tenancy", async () => {
    assert.equal(
      objects.some((o) => o.metadata.name === "kubegate-gateway-tenancy"),
      false,
    );
    const withTenancy = (await renderManifests({ ...base, tenancy: true, teamLabel: "team" })).objects;
    find(withTenancy, "ClusterRole", "kubegate-gateway-tenancy");
    const binding = find(withTenancy, "ClusterRoleBinding", "kubegate-gateway-tenancy") as unknown as {
      subjects: Array<{ namespace: string }>;
    };
    assert.equal(binding.subjects[0]?.namespace, "tenant-gw");
    for (const name of ["kubegate-gateway", "kubegate-apiserver"]) {
      const args = podSpec(find(withTenancy, "Deployment", name)).containers[0]?.args ?? [];
      assert.ok(args.includes("--tenancy"), `${name} runs with --tenancy`);
      assert.ok(args.includes("--team-label=team"), `${name} gets the team label`);
    }
  });
});
