import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createServer } from "node:tls";
import { parse, stringify } from "yaml";
import type { Report } from "../../src/doctor/types.ts";
import { createClientCert, loadCA } from "../../src/pki/certificates.ts";
import { useCluster } from "../cluster/harness.ts";
import { startKubegate } from "../support/gateway-process.ts";
import { prepareGatewayEnv } from "./gateway-env.ts";
import { defaultServiceAccount, kubectl, kubegate, ok, type RunResult } from "./run.ts";
import { makeUserKubeconfig } from "./users.ts";

// A healthy kubegate deployment as doctor expects it (the deploy manifests' names), with the servers
// running on this machine behind ExternalName Services, then each part broken on purpose.
const cluster = await useCluster();
// A namespace of this file's own (given with --namespace): other files register their test Services
// in kubegate-system.
const NS = "kubegate-doctor-e2e";
const FQDN = "api.doctor.example.";
const DAY = 24 * 3600 * 1000;
const dir = await mkdtemp(join(tmpdir(), "kubegate-doctor-"));
const at = (n: string) => join(dir, n);
const admin = (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args);
const b64 = (path: string) => Buffer.from(readFileSync(path)).toString("base64");

async function serverCert(ca: string, cn: string, out: string, service?: string) {
  await ok(
    kubegate(
      ...["certs", "server", "--ca-cert", at(`${ca}.crt`), "--ca-key", at(`${ca}.key`), "--cn", cn],
      ...(service ? ["--service", service] : []),
      ...["--dns", "localhost", "--ip", "127.0.0.1", "--out-cert", `${out}.crt`, "--out-key", `${out}.key`],
    ),
  );
}
for (const ca of ["ca", "other-ca"]) {
  await ok(
    kubegate(
      "certs",
      "ca",
      "--cn",
      `doctor-${ca}`,
      "--out-cert",
      at(`${ca}.crt`),
      "--out-key",
      at(`${ca}.key`),
    ),
  );
}
await serverCert("ca", `custom-api.${NS}.svc`, at("apiserver"), `custom-api.${NS}`);
await mkdir(at("webhook"));
await serverCert("ca", `kubegate-webhook.${NS}.svc`, at("webhook/tls"), `kubegate-webhook.${NS}`);
// Signed by the right CA, but only for localhost: what kube-apiserver refuses for a Service.
await serverCert("ca", "localhost", at("no-service-san"));

// The aggregated server runs as its deployment would: the kubegate-apiserver service account, with
// the RBAC of deploy/base/apiserver-rbac.yaml (auth-delegator, the authentication ConfigMap reader).
await writeFile(
  at("identity.yaml"),
  `
apiVersion: v1
kind: ServiceAccount
metadata: { name: kubegate-apiserver, namespace: ${NS} }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: kubegate-doctor-e2e-ns }
rules:
- { apiGroups: [""], resources: [namespaces], verbs: [get, list, watch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: kubegate-doctor-e2e-ns }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kubegate-doctor-e2e-ns }
subjects: [{ kind: ServiceAccount, name: kubegate-apiserver, namespace: ${NS} }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: kubegate-doctor-e2e-delegator }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:auth-delegator }
subjects: [{ kind: ServiceAccount, name: kubegate-apiserver, namespace: ${NS} }]
`,
);
const readerBinding = `
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: kubegate-doctor-e2e-auth-reader, namespace: kube-system }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: extension-apiserver-authentication-reader }
subjects: [{ kind: ServiceAccount, name: kubegate-apiserver, namespace: ${NS} }]
`;
await writeFile(at("reader.yaml"), readerBinding);
// Created, never deleted: other test files share the namespace, and without a controller-manager a
// deleted namespace would stay Terminating.
await writeFile(at("namespace.yaml"), `{ apiVersion: v1, kind: Namespace, metadata: { name: ${NS} } }`);
await ok(admin("apply", "-f", at("namespace.yaml")));
await ok(admin("apply", "-f", at("identity.yaml")));
await ok(admin("apply", "-f", at("reader.yaml")));
const token = (await ok(admin("create", "token", "kubegate-apiserver", "-n", NS, "--duration=2h"))).trim();
await ok(
  kubegate(
    ...["kubeconfig", "--server", cluster.server, "--ca-cert", cluster.ca.cert, "--token", token],
    ...["--user", "kubegate-apiserver", "--out", at("apiserver.kubeconfig")],
  ),
);

// The gateway's identity: the e2e gateway user with its least-privilege RBAC.
await prepareGatewayEnv(cluster);
const GATEWAY_USER = "kubegate-e2e-gateway";

const apiserver = await startKubegate("apiserver", [
  ...["--listen", "127.0.0.1:0", "--tls-cert", at("apiserver.crt"), "--tls-key", at("apiserver.key")],
  ...["--kubeconfig", at("apiserver.kubeconfig")],
]);
after(() => apiserver.stop());
const webhook = await startKubegate("webhook", [
  ...["--apiserver-fqdn", FQDN, "--cert-dir", at("webhook"), "--host", "127.0.0.1", "--port", "0"],
]);
after(() => webhook.stop());
const apiserverPort = Number(new URL(apiserver.url).port);
const webhookPort = Number(new URL(webhook.url).port);

const shippedWebhook = parse(
  readFileSync(new URL("../../deploy/base/webhook-configuration.yaml", import.meta.url), "utf8"),
);
shippedWebhook.webhooks[0].clientConfig.service.port = webhookPort;
shippedWebhook.webhooks[0].clientConfig.service.namespace = NS;
shippedWebhook.webhooks[0].clientConfig.caBundle = b64(at("ca.crt"));
const externalName = (name: string, port: number) => `
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${NS} }
spec:
  type: ExternalName
  externalName: localhost
  ports: [{ name: https, port: ${port}, protocol: TCP }]
`;
await writeFile(
  at("registration.yaml"),
  [
    externalName("custom-api", apiserverPort),
    externalName("kubegate-webhook", webhookPort),
    `
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: { name: v1.custom.api.local }
spec:
  group: custom.api.local
  version: v1
  service: { name: custom-api, namespace: ${NS}, port: ${apiserverPort} }
  caBundle: ${b64(at("ca.crt"))}
  groupPriorityMinimum: 2000
  versionPriority: 10
`,
    stringify(shippedWebhook),
  ].join("\n---\n"),
);
await ok(admin("apply", "-f", at("registration.yaml")));
after(async () => {
  // Leave no registration pointing at a stopped server for the test files that follow.
  await admin("delete", "apiservice", "v1.custom.api.local", "--ignore-not-found");
  await admin("delete", "mutatingwebhookconfiguration", "kubegate-pod-apiserver-env", "--ignore-not-found");
  await admin("delete", "-f", at("identity.yaml"), "--ignore-not-found");
  await admin("delete", "-f", at("reader.yaml"), "--ignore-not-found");
});

// Pods can be created in the dry-run namespace once its "default" ServiceAccount exists.
await writeFile(at("dry.yaml"), "{ apiVersion: v1, kind: Namespace, metadata: { name: doctor-dry } }");
await ok(admin("apply", "-f", at("dry.yaml")));
await defaultServiceAccount(cluster.adminKubeconfig, "doctor-dry");

const alice = await makeUserKubeconfig({
  dir,
  name: "doctor-alice",
  groups: ["team-a", "dev"],
  signer: cluster.ca,
  server: cluster.server,
  serverCa: cluster.ca.cert,
});

/** kubegate doctor on this deployment, as its operator would run it. */
function doctor(...extra: string[]): Promise<RunResult> {
  const client = extra.includes("--client-cert") ? [] : ["--client-kubeconfig", alice];
  return kubegate(
    ...["doctor", "--kubeconfig", cluster.adminKubeconfig, "--namespace", NS, "--gateway-user", GATEWAY_USER],
    ...["--dry-run-namespace", "doctor-dry", "--timeout", "8s", ...client, ...extra],
  );
}
async function doctorJson(
  ...extra: string[]
): Promise<{ code: number; report: Report; byId: Map<string, Report["checks"][number]> }> {
  const r = await doctor("--output", "json", ...extra);
  let report: Report;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, byId: new Map(report.checks.map((c) => [c.id, c])) };
}
const outcomes = (report: Report) => Object.fromEntries(report.checks.map((c) => [c.id, c.outcome]));
const problems = (c: Report["checks"][number] | undefined) =>
  (c?.findings ?? []).filter((f) => f.outcome === "problem").map((f) => f.message);

/** Re-runs doctor until pred holds (kube-apiserver notices some changes a moment later). */
async function eventually(pred: (r: Awaited<ReturnType<typeof doctorJson>>) => boolean, ...extra: string[]) {
  const t0 = Date.now();
  let last = await doctorJson(...extra);
  while (!pred(last) && Date.now() - t0 < 30_000) {
    await new Promise((r) => setTimeout(r, 1000));
    last = await doctorJson(...extra);
  }
  assert.ok(pred(last), JSON.stringify(last.report, null, 2));
  return last;
}

const ALL_OK = {
  connection: "ok",
  apiservice: "ok",
  "apiserver-cert": "ok",
  "gateway-rbac": "ok",
  "apiserver-rbac": "ok",
  webhook: "ok",
  "client-cert": "ok",
};

describe("kubegate doctor on the real cluster", () => {
  it("reports every check ok on a healthy deployment and exits 0", async () => {
    await ok(admin("wait", "--for=condition=Available", "apiservice/v1.custom.api.local", "--timeout=60s"));
    const r = await eventually((x) => x.code === 0);
    assert.deepEqual(outcomes(r.report), ALL_OK);
    assert.equal(r.report.ok, true);
    const webhookFindings = r.byId.get("webhook")?.findings.map((f) => f.message) ?? [];
    assert.ok(
      webhookFindings.some((m) => m.includes(`KUBERNETES_SERVICE_HOST=${FQDN}`)),
      webhookFindings.join("\n"),
    );
    const client = r.byId.get("client-cert")?.findings[0]?.message ?? "";
    assert.match(client, /user "doctor-alice", groups "team-a", "dev"/);
    const text = await doctor();
    assert.equal(text.code, 0, text.stdout + text.stderr);
    assert.match(text.stdout, /^ok +APIService v1\.custom\.api\.local is Available \[apiservice\]$/m);
    assert.match(text.stdout, /chains to the caBundle of APIService v1\.custom\.api\.local/);
    assert.match(text.stdout, /7 checks: 7 ok, 0 warning, 0 problem, 0 skipped\nno problems found/);
  });

  it("names the gateway's missing impersonation RBAC", async () => {
    await ok(admin("delete", "clusterrolebinding", GATEWAY_USER));
    try {
      const r = await doctorJson();
      assert.equal(r.code, 1);
      assert.equal(outcomes(r.report)["gateway-rbac"], "problem");
      const found = problems(r.byId.get("gateway-rbac"));
      for (const what of [
        "impersonate users",
        "impersonate groups",
        "impersonate uids",
        "impersonate userextras",
        "create tokenreviews",
        "create subjectaccessreviews",
      ]) {
        assert.ok(
          found.some((m) => m.includes(`"${GATEWAY_USER}" may not ${what}`)),
          `${what}: ${found.join("\n")}`,
        );
      }
      assert.match(
        r.byId.get("gateway-rbac")?.findings[0]?.fix ?? "",
        /kubectl create clusterrolebinding .*--user=kubegate-e2e-gateway/,
      );
      assert.equal(outcomes(r.report).apiservice, "ok");
      const text = await doctor();
      assert.equal(text.code, 1);
      assert.match(text.stdout, /^problem +gateway identity may impersonate and review \[gateway-rbac\]$/m);
    } finally {
      await ok(
        admin(
          "create",
          "clusterrolebinding",
          GATEWAY_USER,
          `--clusterrole=${GATEWAY_USER}`,
          `--user=${GATEWAY_USER}`,
        ),
      );
    }
  });

  it("names the aggregated server's missing access to extension-apiserver-authentication", async () => {
    await ok(admin("delete", "-f", at("reader.yaml")));
    try {
      const r = await doctorJson();
      assert.equal(r.code, 1);
      const found = problems(r.byId.get("apiserver-rbac"));
      assert.ok(
        found.some((m) =>
          m.startsWith(
            `"system:serviceaccount:${NS}:kubegate-apiserver" may not get configmap kube-system/extension-apiserver-authentication`,
          ),
        ),
        found.join("\n"),
      );
      assert.match(
        r.byId.get("apiserver-rbac")?.findings.find((f) => f.outcome === "problem")?.fix ?? "",
        new RegExp(
          `--role=extension-apiserver-authentication-reader --serviceaccount=${NS}:kubegate-apiserver`,
        ),
      );
      assert.equal(outcomes(r.report)["gateway-rbac"], "ok");
    } finally {
      await ok(admin("apply", "-f", at("reader.yaml")));
    }
  });

  it("a caBundle from another CA: the served certificate does not chain to it", async () => {
    await ok(
      admin(
        "patch",
        "apiservice",
        "v1.custom.api.local",
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { caBundle: b64(at("other-ca.crt")) } }),
      ),
    );
    try {
      // kube-apiserver may keep its open connection (and Available) for a while: doctor checks at once.
      const r = await doctorJson();
      assert.equal(r.code, 1);
      assert.equal(r.byId.get("apiserver-cert")?.outcome, "problem");
      assert.ok(
        problems(r.byId.get("apiserver-cert")).some((m) =>
          /does not chain to the caBundle of APIService v1\.custom\.api\.local: "CN=custom-api\.kubegate-doctor-e2e\.svc" was issued by "CN=doctor-ca", which is not in the trusted bundle \(it holds "CN=doctor-other-ca"\)/.test(
            m,
          ),
        ),
        JSON.stringify(r.byId.get("apiserver-cert")),
      );
    } finally {
      await ok(
        admin(
          "patch",
          "apiservice",
          "v1.custom.api.local",
          "--type=merge",
          "-p",
          JSON.stringify({ spec: { caBundle: b64(at("ca.crt")) } }),
        ),
      );
      await ok(admin("wait", "--for=condition=Available", "apiservice/v1.custom.api.local", "--timeout=60s"));
    }
  });

  it("a serving certificate without the Service's name is refused for both servers", async () => {
    const tls = createServer(
      { cert: readFileSync(at("no-service-san.crt")), key: readFileSync(at("no-service-san.key")) },
      (s) => s.end(),
    );
    await new Promise<void>((r) => tls.listen(0, "127.0.0.1", r));
    try {
      const address = `127.0.0.1:${(tls.address() as AddressInfo).port}`;
      const r = await doctorJson("--apiserver-address", address, "--webhook-address", address);
      assert.equal(r.code, 1);
      assert.ok(
        problems(r.byId.get("apiserver-cert")).some((m) =>
          m.includes(`is not valid for custom-api.${NS}.svc: it names localhost, 127.0.0.1`),
        ),
        JSON.stringify(r.byId.get("apiserver-cert")),
      );
      assert.ok(
        problems(r.byId.get("webhook")).some((m) =>
          m.includes(`is not valid for kubegate-webhook.${NS}.svc`),
        ),
        JSON.stringify(r.byId.get("webhook")),
      );
    } finally {
      tls.close();
    }
  });

  it("an empty webhook caBundle is named", async () => {
    const patch = (value: string) =>
      ok(
        admin(
          "patch",
          "mutatingwebhookconfiguration",
          "kubegate-pod-apiserver-env",
          "--type=json",
          "-p",
          JSON.stringify([{ op: "add", path: "/webhooks/0/clientConfig/caBundle", value }]),
        ),
      );
    await patch("");
    try {
      const r = await doctorJson();
      assert.equal(r.code, 1);
      assert.ok(
        problems(r.byId.get("webhook")).some((m) => /has an empty caBundle/.test(m)),
        JSON.stringify(r.byId.get("webhook")),
      );
    } finally {
      await patch(b64(at("ca.crt")));
    }
  });

  it("client certificates: expired and not yet valid are problems, expiring soon a warning", async () => {
    const ca = await loadCA(readFileSync(cluster.ca.cert, "utf8"), readFileSync(cluster.ca.key, "utf8"));
    const write = async (name: string, o: { now: Date; days: number }) => {
      const c = await createClientCert(ca, { cn: name, organizations: ["team-a"], ...o });
      await writeFile(at(`${name}.crt`), c.certPem);
      return at(`${name}.crt`);
    };
    const expired = await write("expired", { now: new Date(Date.now() - 10 * DAY), days: 2 });
    const future = await write("future", { now: new Date(Date.now() + 2 * DAY), days: 100 });
    const soon = await write("soon", { now: new Date(), days: 10 });
    const e = await doctorJson("--client-cert", expired);
    assert.equal(e.code, 1);
    assert.match(
      problems(e.byId.get("client-cert"))[0] ?? "",
      /client certificate .*expired\.crt expired on/,
    );
    const f = await doctorJson("--client-cert", future);
    assert.equal(f.code, 1);
    assert.match(problems(f.byId.get("client-cert"))[0] ?? "", /is not valid before/);
    const s = await doctorJson("--client-cert", soon);
    assert.equal(s.code, 0, "a warning alone does not fail");
    assert.equal(outcomes(s.report)["client-cert"], "warning");
    assert.match(s.byId.get("client-cert")?.findings[1]?.message ?? "", /expires in (9|10) day/);
  });

  it("an unreachable cluster is one problem, quickly, and the cluster checks are skipped", async () => {
    const config = readFileSync(cluster.adminKubeconfig, "utf8").replace(
      /server: .*/,
      "server: https://127.0.0.1:1",
    );
    await writeFile(at("unreachable.kubeconfig"), config);
    const t0 = Date.now();
    const r = await kubegate("doctor", "--kubeconfig", at("unreachable.kubeconfig"), "--output", "json");
    assert.ok(Date.now() - t0 < 15_000);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(outcomes(report).connection, "problem");
    assert.equal(outcomes(report).webhook, "skipped");
  });

  it("refuses bad options before doing anything", async () => {
    const r = await kubegate("doctor", "--apiserver-address", "nope", "--timeout", "soon");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--apiserver-address: must be HOST:PORT/);
    assert.match(r.stderr, /--timeout: must be a duration/);
  });

  it("a stopped aggregated server: not Available with the reason, and the certificate cannot be fetched", async () => {
    await apiserver.stop();
    await ok(
      admin("wait", "--for=condition=Available=false", "apiservice/v1.custom.api.local", "--timeout=60s"),
    );
    const r = await doctorJson();
    assert.equal(r.code, 1);
    const apiservice = r.byId.get("apiservice")?.findings.find((f) => f.outcome === "problem");
    assert.match(apiservice?.message ?? "", /is not Available: FailedDiscoveryCheck: /);
    assert.match(apiservice?.fix ?? "", /is kubegate apiserver running/);
    assert.ok(
      problems(r.byId.get("apiserver-cert")).some((m) =>
        /cannot fetch the aggregated server's serving certificate from localhost:\d+: .*ECONNREFUSED/.test(m),
      ),
      JSON.stringify(r.byId.get("apiserver-cert")),
    );
    assert.equal(outcomes(r.report).webhook, "ok");
  });

  it("says clearly what is not deployed", async () => {
    await ok(admin("delete", "apiservice", "v1.custom.api.local"));
    await ok(admin("delete", "mutatingwebhookconfiguration", "kubegate-pod-apiserver-env"));
    await ok(admin("delete", "service", "custom-api", "kubegate-webhook", "-n", NS));
    const r = await doctorJson();
    assert.equal(r.code, 0, JSON.stringify(r.report, null, 2));
    assert.equal(outcomes(r.report).apiservice, "skipped");
    assert.match(r.byId.get("apiservice")?.findings[0]?.message ?? "", /the aggregated API is not deployed/);
    assert.match(r.byId.get("webhook")?.findings[0]?.message ?? "", /the pod webhook is not deployed/);
    assert.equal(outcomes(r.report)["apiserver-rbac"], "ok");
  });
});
