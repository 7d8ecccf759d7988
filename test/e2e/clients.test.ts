// The clients tenants already use, through kubegate as a tenant (issue #21): none of them written by
// this project. client-go's shared informers (a Go program built from the pinned client-go, JSON and
// protobuf), Debian's Python `kubernetes` client, helm (install, list, list -A, uninstall of a small
// chart in the tenant's namespace), and k9s run headless in tmux and read off the screen. kubectl is
// every other file's client. Each one sees exactly the tenant's slice: its namespaces, the pods and
// objects in them, nothing of the other tenant.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ensureClientBinaries } from "../../src/devcluster/build.ts";
import { startGatewayProcess } from "../support/gateway-process.ts";
import { hasCommand } from "../support/system-packages.ts";
import { startTmux } from "../support/tmux.ts";
import { applyYaml, gatewayArgs, gatewayUser, prepareTenancyEnv } from "./gateway-env.ts";
import { gatedPod, ok, run } from "./run.ts";

const { cluster, env, admin } = await prepareTenancyEnv();
const PYTHON = "/usr/bin/python3";
const PYTHON_CLIENT = "/usr/lib/python3/dist-packages/kubernetes/__init__.py";

await applyYaml(
  cluster,
  env.dir,
  "cc-objects.yaml",
  `
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: cc }
spec:
  owners: [{ kind: User, name: cc-alice }]
---
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: cc-rival }
spec:
  owners: [{ kind: User, name: cc-rival }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: cc-editor }
rules:
- { apiGroups: ["", apps], resources: [configmaps, secrets, services, pods, deployments], verbs: ["*"] }
${["cc-a", "cc-b", "cc-rival-a"]
  .map(
    (ns) => `---
apiVersion: v1
kind: Namespace
metadata: { name: ${ns}, labels: { kubegate.dev/tenant: ${ns.startsWith("cc-rival") ? "cc-rival" : "cc"} } }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: cc-editor, namespace: ${ns} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cc-editor }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: ${ns.startsWith("cc-rival") ? "cc-rival" : "cc-alice"} }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: marker, namespace: ${ns} }
`,
  )
  .join("\n")}
`,
);
for (const ns of ["cc-a", "cc-b", "cc-rival-a"]) await gatedPod(cluster.adminKubeconfig, ns, `pod-${ns}`);

const gateway = await startGatewayProcess(gatewayArgs(env, ["--tenancy"]));
const alice = await gatewayUser(env, gateway.url, "cc-alice");
after(() => gateway.stop());

const OWN_PODS = ["cc-a/pod-cc-a", "cc-b/pod-cc-b"];

describe("clients tenants use, through the gateway", () => {
  let helm = "";
  let informers = "";
  let k9s = "";
  before(async () => {
    ({ helm, informers, k9s } = await ensureClientBinaries({
      log: (l) => process.stderr.write(`# clients: ${l}\n`),
    }));
    // The gateway's index has the Tenants and namespaces a moment after it starts.
    for (let i = 0; i < 50; i++) {
      const r = await run("kubectl", ["--kubeconfig", alice, "get", "namespaces", "-o", "name"]);
      if (r.stdout.includes("cc-b")) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  });

  for (const protobuf of [false, true]) {
    it(`client-go shared informers, ${protobuf ? "protobuf" : "JSON"}: synced on the tenant's slice, events delivered`, async () => {
      const name = `from-client-go-${protobuf ? "proto" : "json"}`;
      const out = await ok(
        run(informers, [
          ...["--kubeconfig", alice, "--namespace", "cc-a", "--create", name, "--timeout", "40s"],
          ...(protobuf ? ["--protobuf"] : []),
        ]),
      );
      const r = JSON.parse(out) as {
        contentType: string;
        namespaces: string[];
        configMaps: string[];
        pods: string[];
        added: string;
      };
      assert.equal(r.contentType, protobuf ? "application/vnd.kubernetes.protobuf" : "application/json");
      assert.deepEqual(r.namespaces, ["cc-a", "cc-b"]);
      // All-namespaces pods: the gateway's merged list and watch, read as the tenant.
      assert.deepEqual(r.pods, OWN_PODS);
      assert.ok(r.configMaps.includes("cc-a/marker"), r.configMaps.join(", "));
      assert.equal(r.added, name);
    });
  }

  it("the Python kubernetes client (Debian's python3-kubernetes): lists, all-namespaces, create, watch", {
    skip: existsSync(PYTHON_CLIENT) ? false : `${PYTHON_CLIENT} missing: apt-get install python3-kubernetes`,
  }, async () => {
    const script = `
import json, sys
from kubernetes import client, config, watch
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
out = {
  "namespaces": sorted(n.metadata.name for n in v1.list_namespace().items),
  "pods": sorted(p.metadata.namespace + "/" + p.metadata.name for p in v1.list_pod_for_all_namespaces().items),
  "configmaps": sorted(c.metadata.name for c in v1.list_namespaced_config_map("cc-b").items),
}
v1.create_namespaced_config_map("cc-b", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="from-python")))
seen = []
for e in watch.Watch().stream(v1.list_namespace, timeout_seconds=2):
  seen.append(e["type"] + " " + e["object"].metadata.name)
out["watched"] = sorted(seen)
try:
  v1.read_namespace("cc-rival-a")
  out["rival"] = "visible"
except client.exceptions.ApiException as e:
  out["rival"] = e.status
print(json.dumps(out))
`;
    const r = JSON.parse(await ok(run(PYTHON, ["-c", script, alice]))) as Record<string, unknown>;
    assert.deepEqual(r.namespaces, ["cc-a", "cc-b"]);
    assert.deepEqual(r.pods, OWN_PODS);
    assert.ok((r.configmaps as string[]).includes("marker"));
    assert.deepEqual(r.watched, ["ADDED cc-a", "ADDED cc-b"]);
    assert.equal(r.rival, 404);
    assert.equal(
      (await ok(admin("get", "configmap", "from-python", "-n", "cc-b", "-o", "name"))).trim(),
      "configmap/from-python",
    );
  });

  it("helm installs, lists (in the namespace and with -A) and uninstalls a chart in the tenant's namespace", async () => {
    const chart = join(env.dir, "cc-chart");
    await mkdir(join(chart, "templates"), { recursive: true });
    await writeFile(join(chart, "Chart.yaml"), "apiVersion: v2\nname: cc-demo\nversion: 1.2.3\n");
    await writeFile(
      join(chart, "templates", "objects.yaml"),
      `apiVersion: v1
kind: ConfigMap
metadata: { name: {{ .Release.Name }}-settings }
data: { greeting: hello }
---
apiVersion: v1
kind: Service
metadata: { name: {{ .Release.Name }} }
spec:
  ports: [{ port: 80 }]
  selector: { app: {{ .Release.Name }} }
`,
    );
    const h = (...args: string[]) => run(helm, ["--kubeconfig", alice, ...args], { timeoutMs: 120_000 });
    await ok(h("install", "demo", chart, "-n", "cc-a", "--wait", "--timeout", "60s"));
    const listed = JSON.parse(await ok(h("list", "-n", "cc-a", "-o", "json"))) as {
      name: string;
      status: string;
    }[];
    assert.deepEqual(
      listed.map((x) => [x.name, x.status]),
      [["demo", "deployed"]],
    );
    // helm list -A reads release Secrets across every namespace: the gateway's all-namespaces view.
    await ok(
      admin(
        "create",
        "secret",
        "generic",
        "sh.helm.release.v1.rival.v1",
        "-n",
        "cc-rival-a",
        "--from-literal=release=x",
      ),
    );
    await ok(
      admin(
        "label",
        "secret",
        "sh.helm.release.v1.rival.v1",
        "-n",
        "cc-rival-a",
        "owner=helm",
        "name=rival",
        "status=deployed",
      ),
    );
    const everywhere = await h("list", "-A", "-o", "json");
    assert.equal(everywhere.code, 0, everywhere.stderr);
    assert.deepEqual(
      (JSON.parse(everywhere.stdout) as { name: string; namespace: string }[]).map(
        (x) => `${x.namespace}/${x.name}`,
      ),
      ["cc-a/demo"],
    );
    assert.equal(
      (
        await ok(admin("get", "configmap", "demo-settings", "-n", "cc-a", "-o", "jsonpath={.data.greeting}"))
      ).trim(),
      "hello",
    );
    const rival = await h("install", "intruder", chart, "-n", "cc-rival-a");
    assert.notEqual(rival.code, 0);
    assert.match(rival.stderr, /forbidden/i);
    await ok(h("uninstall", "demo", "-n", "cc-a", "--wait"));
    assert.notEqual((await admin("get", "configmap", "demo-settings", "-n", "cc-a")).code, 0);
  });

  it("kubectl auth can-i list pods -A: yes for the tenant (the gateway's merged view), no for a user of no tenant", async () => {
    const nobody = await gatewayUser(env, gateway.url, "cc-nobody");
    const can = async (kubeconfig: string, verb: string) =>
      (await run("kubectl", ["--kubeconfig", kubeconfig, "auth", "can-i", verb, "pods", "-A"])).stdout.trim();
    assert.equal(await can(alice, "list"), "yes");
    assert.equal(await can(alice, "watch"), "yes");
    assert.equal(await can(alice, "delete"), "no");
    assert.equal(await can(nobody, "list"), "no");
  });

  it("k9s, headless in tmux: the tenant's pods in all its namespaces, then its namespaces, no error", {
    skip: hasCommand("tmux") ? false : "tmux missing: apt-get install tmux",
  }, async () => {
    // Its own HOME and XDG directories: k9s writes config, state, logs and a discovery cache.
    const home = await mkdtemp(join(env.dir, "k9s-home-"));
    await mkdir(join(home, "config", "k9s"), { recursive: true });
    // No release check: nothing but the gateway is reachable, and its failure is only noise in the log.
    await writeFile(join(home, "config", "k9s", "config.yaml"), "k9s:\n  skipLatestRevCheck: true\n");
    const session = await startTmux({
      command: [k9s, "--kubeconfig", alice, "--readonly", "--headless", "--logoless", "-A", "-c", "pods"],
      env: {
        PATH: process.env.PATH,
        HOME: home,
        ...Object.fromEntries(
          ["CONFIG", "DATA", "STATE", "CACHE"].map((d) => [`XDG_${d}_HOME`, join(home, d.toLowerCase())]),
        ),
      },
    });
    try {
      const mine = ["pod-cc-a", "pod-cc-b"];
      const pods = await session.waitFor(
        (screen) => mine.every((p) => screen.includes(p)),
        "the tenant's pods",
      );
      assertCleanScreen(pods);
      await session.sendKeys(":");
      await session.sendKeys("-l", "ns");
      await session.sendKeys("Enter");
      const namespaces = await session.waitFor(
        (screen) => /namespaces/i.test(screen) && !screen.includes("pod-cc-a") && screen.includes("cc-b"),
        "the tenant's namespaces",
      );
      assertCleanScreen(namespaces);
      for (const ns of ["cc-a", "cc-b"]) assert.match(namespaces, new RegExp(`\\b${ns}\\b`));
      for (const ns of ["default", "kube-system"]) assert.doesNotMatch(namespaces, new RegExp(`\\b${ns}\\b`));
    } finally {
      await session.stop();
    }
  });
});

/** Nothing of the other tenant, and none of the error banners k9s flashes when a call fails. */
function assertCleanScreen(screen: string): void {
  assert.doesNotMatch(screen, /cc-rival/, screen);
  assert.doesNotMatch(screen, /boom|error|forbidden|denied|unauthorized/i, screen);
}
