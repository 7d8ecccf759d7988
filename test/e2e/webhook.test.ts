import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { useCluster } from "../cluster/harness.ts";
import { startKubegate } from "../support/gateway-process.ts";
import { rawRequest } from "../support/https-client.ts";
import { servedFingerprint } from "../support/tls.ts";
import { defaultServiceAccount, kubectl, kubegate, ok } from "./run.ts";

const cluster = await useCluster();
const dir = await mkdtemp(join(tmpdir(), "kubegate-webhook-"));
const at = (n: string) => join(dir, n);
const admin = (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args);
const FQDN = "api.kubegate.example.";

await ok(
  kubegate("certs", "ca", "--cn", "webhook-ca", "--out-cert", at("ca.crt"), "--out-key", at("ca.key")),
);
await ok(
  kubegate(
    ...[
      "certs",
      "server",
      "--ca-cert",
      at("ca.crt"),
      "--ca-key",
      at("ca.key"),
      "--cn",
      "kubegate-webhook.kubegate-system.svc",
    ],
    ...["--ip", "127.0.0.1", "--dns", "localhost", "--out-cert", at("tls.crt"), "--out-key", at("tls.key")],
  ),
);

function startWebhook(extra: string[] = []) {
  return startKubegate("webhook", [
    ...["--apiserver-fqdn", FQDN, "--cert-dir", dir, "--host", "127.0.0.1", "--port", "0"],
    ...extra,
  ]);
}
const webhook = await startWebhook();
after(() => webhook.stop());

// The shipped registration, pointed at this loopback process instead of the in-cluster Service.
const shipped = parse(
  readFileSync(new URL("../../deploy/base/webhook-configuration.yaml", import.meta.url), "utf8"),
);
shipped.metadata.name = "kubegate-e2e-pod-apiserver-env";
shipped.webhooks[0].clientConfig = {
  url: `${webhook.url}/webhook/pod-apiserver-env`,
  caBundle: Buffer.from(readFileSync(at("ca.crt"))).toString("base64"),
};
const config = stringify(shipped);
await writeFile(at("webhook.yaml"), config);
await ok(admin("apply", "-f", at("webhook.yaml")));
for (const ns of ["wh-on", "wh-off"]) {
  await ok(admin("create", "namespace", ns));
  // No controller-manager runs in the test cluster: the ServiceAccount admission plugin needs "default".
  await defaultServiceAccount(cluster.adminKubeconfig, ns);
}
await ok(admin("label", "namespace", "wh-off", "kubegate.dev/inject-apiserver-env=disable"));

function podYaml(name: string, ns: string, labels = "{}") {
  return `
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${ns}, labels: ${labels} }
spec:
  initContainers:
  - { name: init, image: busybox }
  containers:
  - { name: first, image: nginx, env: [{ name: OTHER, value: "1" }] }
  - { name: second, image: nginx, env: [{ name: KUBERNETES_SERVICE_HOST, value: preset.example }] }
`;
}

type Env = { name: string; value?: string }[] | undefined;
async function envs(ns: string, name: string): Promise<Record<string, Env>> {
  const pod = JSON.parse(await ok(admin("get", "pod", name, "-n", ns, "-o", "json")));
  const out: Record<string, Env> = {};
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) out[c.name] = c.env;
  return out;
}

describe("pod webhook on the real apiserver", () => {
  it("the stored pod has the variable exactly where it was missing", async () => {
    // The apiserver takes up a new webhook configuration within moments: server dry runs until the
    // pod comes back mutated, so the real create below is mutated for certain.
    await writeFile(at("pod.yaml"), podYaml("mutated", "wh-on"));
    let taken = false;
    for (let i = 0; i < 50 && !taken; i++) {
      if (i) await new Promise((r) => setTimeout(r, 200));
      const dry = await ok(admin("create", "--dry-run=server", "-o", "json", "-f", at("pod.yaml")));
      taken = dry.includes(FQDN);
    }
    assert.ok(taken, "the apiserver called the webhook within 10 s");
    await ok(admin("apply", "-f", at("pod.yaml")));
    const e = await envs("wh-on", "mutated");
    assert.deepEqual(e.init, [{ name: "KUBERNETES_SERVICE_HOST", value: FQDN }]);
    assert.deepEqual(e.first, [
      { name: "OTHER", value: "1" },
      { name: "KUBERNETES_SERVICE_HOST", value: FQDN },
    ]);
    assert.deepEqual(e.second, [{ name: "KUBERNETES_SERVICE_HOST", value: "preset.example" }]);
  });

  it("kubectl run gets it too", async () => {
    await ok(admin("run", "runner", "-n", "wh-on", "--image=nginx", "--restart=Never"));
    assert.deepEqual((await envs("wh-on", "runner")).runner, [
      { name: "KUBERNETES_SERVICE_HOST", value: FQDN },
    ]);
  });

  it("the opt-out label on the pod or its namespace prevents it", async () => {
    await writeFile(
      at("optout.yaml"),
      podYaml("opted-out", "wh-on", "{ kubegate.dev/inject-apiserver-env: disable }"),
    );
    await ok(admin("apply", "-f", at("optout.yaml")));
    assert.equal((await envs("wh-on", "opted-out")).init, undefined);
    await writeFile(at("off.yaml"), podYaml("in-off-ns", "wh-off"));
    await ok(admin("apply", "-f", at("off.yaml")));
    const e = await envs("wh-off", "in-off-ns");
    assert.equal(e.init, undefined);
    assert.deepEqual(e.first, [{ name: "OTHER", value: "1" }]);
  });

  it("the seed's curl example: the fixture review decodes to the seed's patch", async () => {
    const fixture = readFileSync(new URL("../fixtures/admission.json", import.meta.url), "utf8");
    const r = await rawRequest(webhook.url, {
      method: "POST",
      path: "/webhook/pod-apiserver-env",
      headers: [
        ["Content-Type", "application/json"],
        ["Accept", "application/json"],
      ],
      body: fixture,
      ca: readFileSync(at("ca.crt"), "utf8"),
    });
    assert.equal(r.status, 200);
    const patch = JSON.parse(Buffer.from(JSON.parse(r.body).response.patch, "base64").toString());
    assert.deepEqual(patch, [
      {
        op: "add",
        path: "/spec/initContainers/0/env",
        value: [{ name: "KUBERNETES_SERVICE_HOST", value: FQDN }],
      },
      {
        op: "add",
        path: "/spec/containers/0/env",
        value: [{ name: "KUBERNETES_SERVICE_HOST", value: FQDN }],
      },
    ]);
  });

  it("bad input: empty body is a plain 400, never a crash; health and metrics answer", async () => {
    const ca = readFileSync(at("ca.crt"), "utf8");
    const empty = await rawRequest(webhook.url, {
      method: "POST",
      path: "/webhook/pod-apiserver-env",
      headers: [["Content-Type", "application/json"]],
      body: "",
      ca,
    });
    assert.equal(empty.status, 400);
    assert.match(empty.body, /empty request body/);
    const health = await rawRequest(webhook.url, { path: "/healthz", ca });
    assert.equal(health.status, 200);
    const metrics = await rawRequest(webhook.url, { path: "/metrics", ca });
    assert.match(metrics.body, /kubegate_webhook_reviews_total\{result="patched"\} [1-9]/);
    assert.match(metrics.body, /kubegate_webhook_reviews_total\{result="bad_request"\} [1-9]/);
  });

  it("requires a client certificate when --client-ca-name is set", async () => {
    await ok(
      kubegate(
        "certs",
        "client",
        "--ca-cert",
        at("ca.crt"),
        "--ca-key",
        at("ca.key"),
        "--cn",
        "kube-apiserver",
        "--out-cert",
        at("client.crt"),
        "--out-key",
        at("client.key"),
      ),
    );
    const strict = await startWebhook(["--client-ca-name", "ca.crt"]);
    try {
      const ca = readFileSync(at("ca.crt"), "utf8");
      await assert.rejects(rawRequest(strict.url, { path: "/healthz", ca }));
      const withCert = await rawRequest(strict.url, {
        path: "/healthz",
        ca,
        cert: readFileSync(at("client.crt"), "utf8"),
        key: readFileSync(at("client.key"), "utf8"),
      });
      assert.equal(withCert.status, 200);
    } finally {
      await strict.stop();
    }
  });

  it("reloads a rotated certificate from --cert-dir without a restart", async () => {
    const certDir = join(dir, "rotating");
    const issue = () =>
      ok(
        kubegate(
          ...["certs", "server", "--ca-cert", at("ca.crt"), "--ca-key", at("ca.key"), "--cn", "localhost"],
          ...[
            "--ip",
            "127.0.0.1",
            "--out-cert",
            join(certDir, "tls.crt"),
            "--out-key",
            join(certDir, "tls.key"),
            "--force",
          ],
        ),
      );
    await issue();
    const rotating = await startKubegate("webhook", [
      "--apiserver-fqdn",
      FQDN,
      "--cert-dir",
      certDir,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--reload-interval",
      "200ms",
    ]);
    try {
      const served = () => servedFingerprint(rotating.url);
      const before = await served();
      await issue();
      const expected = new X509Certificate(readFileSync(join(certDir, "tls.crt"))).fingerprint256;
      assert.notEqual(before, expected);
      const t0 = Date.now();
      let now = before;
      while (now !== expected && Date.now() - t0 < 5000) {
        await new Promise((r) => setTimeout(r, 100));
        now = await served();
      }
      assert.equal(now, expected);
    } finally {
      await rotating.stop();
    }
  });

  it("refuses a missing or invalid --apiserver-fqdn with exit code 1", async () => {
    for (const [args, message] of [
      [[], /--apiserver-fqdn: is required/],
      [["--apiserver-fqdn", "not a name"], /--apiserver-fqdn: must be a DNS name/],
    ] as const) {
      const r = await kubegate("webhook", "--cert-dir", dir, ...args);
      assert.equal(r.code, 1);
      assert.match(r.stderr, message);
    }
  });
});
