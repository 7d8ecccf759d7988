// kubegate deployed the way a platform team deploys it (issue #19): its image built without a Docker
// engine, `kubegate manifests --out` then `kubectl apply --server-side -k`, on a cluster with a real
// node. Serial: the deployment registers the cluster-wide APIService and webhook other files also
// register, and one node runs per machine, so it brings a cluster of its own.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { DEMO_OBJECTS } from "../../../src/dev/demo.ts";
import { down, up } from "../../../src/devcluster/cluster.ts";
import { buildKubegateImage, kubegateImageRef } from "../../../src/devcluster/kubegate-image.ts";
import { importImage, nodeUnsupported } from "../../../src/devcluster/node.ts";
import { createClientCert, loadCA } from "../../../src/pki/certificates.ts";
import { inlineKubeconfig } from "../../support/kubeconfig.ts";
import { defaultServiceAccount, kubectl, kubegate, ok, run } from "../run.ts";

const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const NS = "kubegate-system";
/** The node-local address: the node agent holds it, the apiserver-proxy listens on it, the webhook points pods at it. */
const NODE_LOCAL = "10.96.0.2";

/** A pod's own check of the way to the apiserver it was given: TLS verified with its service account CA. */
const PROBE = `const fs=require("fs"),https=require("https"),d="/var/run/secrets/kubernetes.io/serviceaccount/";
https.get({host:process.env.KUBERNETES_SERVICE_HOST,port:process.env.KUBERNETES_SERVICE_PORT,path:"/version",ca:fs.readFileSync(d+"ca.crt"),headers:{authorization:"Bearer "+fs.readFileSync(d+"token","utf8")}},
r=>{let b="";r.on("data",c=>b+=c);r.on("end",()=>console.log(JSON.stringify({host:process.env.KUBERNETES_SERVICE_HOST,code:r.statusCode,version:JSON.parse(b).gitVersion})))})
.on("error",e=>{console.log(JSON.stringify({host:process.env.KUBERNETES_SERVICE_HOST,error:e.message}));process.exit(1)})`;

interface Load {
  total: number;
  /** Requests whose first try failed (a connection closed under it, a 5xx). */
  failedOnce: number;
  /** Requests that failed again when retried once on a new connection, as client-go retries a GET. */
  failed: number;
  errors: string[];
}

/** GETs through the gateway one after another on keep-alive connections until `done` resolves. */
async function steadyGets(
  o: { host: string; servername: string; ca: string; cert: string; key: string },
  done: Promise<void>,
): Promise<Load> {
  const load: Load = { total: 0, failedOnce: 0, failed: 0, errors: [] };
  let over = false;
  void done.then(() => {
    over = true;
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const get = (a: Agent | false) =>
    new Promise<string | undefined>((resolve) => {
      const req = request(
        {
          host: o.host,
          port: 443,
          path: "/api/v1/namespaces/default",
          servername: o.servername,
          ca: o.ca,
          cert: o.cert,
          key: o.key,
          agent: a,
          timeout: 10_000,
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve((res.statusCode ?? 0) >= 500 ? `HTTP ${res.statusCode}` : undefined));
          res.on("error", (e) => resolve(e.message));
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (e) => resolve(e.message));
      req.end();
    });
  while (!over) {
    load.total++;
    const first = await get(agent);
    if (first) {
      load.failedOnce++;
      const again = await get(false);
      if (again) {
        load.failed++;
        load.errors.push(`${first}; retry: ${again}`);
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  agent.destroy();
  return load;
}

describe("kubegate in the cluster, from its own image and manifests", {
  skip: nodeUnsupported() ?? false,
}, () => {
  it("comes up Ready with the shipped security contexts; the gateway, the APIService and the webhook's path work", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kubegate-in-cluster-"));
    const cluster = await up({ dir, node: true, log: () => undefined });
    const admin = (...a: string[]) => kubectl(cluster.adminKubeconfig, ...a);
    try {
      const image = await buildKubegateImage(REPO, join(dir, "kubegate.tar"));
      await importImage(dir, image.path);

      const m = join(dir, "manifests");
      await ok(
        kubegate(
          "manifests",
          ...["--out", m, "--image", kubegateImageRef(REPO), "--tenancy"],
          // No cluster DNS here: the webhook points pods at the node-local address itself, and the
          // node-local proxy reaches the apiserver through the `kubernetes` Service's cluster IP.
          ...[
            "--apiserver-fqdn",
            NODE_LOCAL,
            "--node-local-ip",
            NODE_LOCAL,
            "--apiserver-upstream",
            "10.96.0.1:443",
          ],
        ),
      );
      const applied = Date.now();
      await ok(admin("apply", "--server-side", "-k", m));
      await ok(admin("wait", "-n", NS, "--for=condition=Available", "deployment", "--all", "--timeout=120s"));
      await ok(admin("rollout", "status", "-n", NS, "daemonset/kubegate-node-agent", "--timeout=120s"));
      const readyMs = Date.now() - applied;
      await ok(admin("wait", "--for=condition=Available", "apiservice/v1.custom.api.local", "--timeout=90s"));
      process.stderr.write(
        `# in-cluster: image ${(image.bytes / 2 ** 20).toFixed(0)} MiB in ${image.seconds.toFixed(1)} s; apply to Ready ${(readyMs / 1000).toFixed(1)} s\n`,
      );

      // Every pod runs as the manifests say, as the cluster admitted and started it: a read-only root, no
      // privilege escalation, every capability dropped; non-root 65532, except the node agent's two
      // containers, which run as root with exactly the one capability each needs.
      type SecurityContext = {
        runAsUser?: number;
        runAsNonRoot?: boolean;
        readOnlyRootFilesystem?: boolean;
        allowPrivilegeEscalation?: boolean;
        capabilities?: { drop?: string[]; add?: string[] };
      };
      const pods = JSON.parse(await ok(admin("get", "pods", "-n", NS, "-o", "json"))) as {
        items: {
          metadata: { name: string };
          spec: {
            securityContext?: SecurityContext;
            containers: { name: string; securityContext?: SecurityContext }[];
          };
          status: { phase: string; containerStatuses?: { name: string; ready: boolean }[] };
        }[];
      };
      assert.ok(pods.items.length >= 6, `pods: ${pods.items.map((p) => p.metadata.name)}`);
      const ROOT_CAPABILITIES: Record<string, string[]> = {
        "node-agent": ["NET_ADMIN"],
        "apiserver-proxy": ["NET_BIND_SERVICE"],
      };
      for (const p of pods.items) {
        assert.equal(p.status.phase, "Running", p.metadata.name);
        for (const c of p.spec.containers) {
          const where = `${p.metadata.name}/${c.name}`;
          const sc = c.securityContext ?? {};
          const user = sc.runAsUser ?? p.spec.securityContext?.runAsUser;
          const nonRoot = sc.runAsNonRoot ?? p.spec.securityContext?.runAsNonRoot;
          assert.equal(sc.readOnlyRootFilesystem, true, where);
          assert.equal(sc.allowPrivilegeEscalation, false, where);
          assert.deepEqual(sc.capabilities?.drop, ["ALL"], where);
          const root = p.metadata.name.startsWith("kubegate-node-agent")
            ? ROOT_CAPABILITIES[c.name]
            : undefined;
          if (root) {
            assert.equal(user, 0, where);
            assert.deepEqual(sc.capabilities?.add, root, where);
          } else {
            assert.equal(user, 65532, where);
            assert.equal(nonRoot, true, where);
            assert.equal(sc.capabilities?.add, undefined, where);
          }
          assert.ok(p.status.containerStatuses?.find((s) => s.name === c.name)?.ready, `${where} ready`);
        }
      }
      // The Deployments' replicas and disruption budgets, as applied.
      const gateway = JSON.parse(
        await ok(admin("get", "deployment", "-n", NS, "kubegate-gateway", "-o", "json")),
      ) as { spec: { replicas: number }; status: { readyReplicas?: number } };
      assert.equal(gateway.spec.replicas, 2);
      assert.equal(gateway.status.readyReplicas, 2);
      const budgets = JSON.parse(await ok(admin("get", "poddisruptionbudget", "-n", NS, "-o", "json"))) as {
        items: {
          metadata: { name: string };
          status: { disruptionsAllowed: number; currentHealthy: number };
        }[];
      };
      const gatewayBudget = budgets.items.find((b) => b.metadata.name === "kubegate-gateway");
      assert.ok(gatewayBudget, `budgets: ${budgets.items.map((b) => b.metadata.name)}`);
      assert.equal(gatewayBudget.status.currentHealthy, 2);

      // The aggregated API, served from a pod, through the real aggregation layer.
      assert.match(
        await ok(admin("get", "--raw", "/apis/custom.api.local/v1")),
        /"groupVersion":"custom.api.local\/v1"/,
      );

      // The gateway, through its Service, as a user with a certificate from the users CA it trusts.
      const ip = (
        await ok(admin("get", "service", "-n", NS, "kubegate-gateway", "-o", "jsonpath={.spec.clusterIP}"))
      ).trim();
      const usersCa = await loadCA(
        readFileSync(join(m, "users-ca.crt"), "utf8"),
        readFileSync(join(m, "users-ca.key"), "utf8"),
      );
      const alice = await createClientCert(usersCa, { cn: "ic-alice", organizations: ["ic-team"] });
      const kubeconfigFor = (c: { certPem: string; keyPem: string }) =>
        inlineKubeconfig({
          server: `https://${ip}:443`,
          ca: readFileSync(join(m, "serving-ca.crt"), "utf8"),
          serverName: `kubegate-gateway.${NS}.svc`,
          ...c,
        });
      const kubeconfig = join(dir, "alice.kubeconfig");
      await writeFile(kubeconfig, kubeconfigFor(alice), { mode: 0o600 });
      const me = JSON.parse(await ok(kubectl(kubeconfig, "auth", "whoami", "-o", "json"))) as {
        status: { userInfo: { username: string; groups: string[] } };
      };
      assert.equal(me.status.userInfo.username, "ic-alice");
      assert.ok(me.status.userInfo.groups.includes("ic-team"));

      // A rolling restart of the gateway (2 replicas, a PDB) under a steady stream of GETs.
      await ok(
        admin("create", "clusterrolebinding", "ic-team-view", "--clusterrole=view", "--group=ic-team"),
      );
      let finish!: () => void;
      const restarted = new Promise<void>((r) => {
        finish = r;
      });
      const loading = steadyGets(
        {
          host: ip,
          servername: `kubegate-gateway.${NS}.svc`,
          ca: readFileSync(join(m, "serving-ca.crt"), "utf8"),
          cert: alice.certPem,
          key: alice.keyPem,
        },
        restarted,
      );
      // And kubectl itself, one `get` after another, as a user's script would run it: each is a new
      // process and connection, and kubectl does not retry a refused or reset connection.
      const kubectlRuns = (async () => {
        const runs = { total: 0, failed: [] as string[] };
        let over = false;
        void restarted.then(() => {
          over = true;
        });
        while (!over) {
          runs.total++;
          const r = await kubectl(kubeconfig, "get", "namespace", "default", "-o", "name");
          if (r.code !== 0 || r.stdout.trim() !== "namespace/default") runs.failed.push(r.stderr.trim());
        }
        return runs;
      })();
      await new Promise((r) => setTimeout(r, 1000));
      await ok(admin("rollout", "restart", "-n", NS, "deployment/kubegate-gateway"));
      await ok(admin("rollout", "status", "-n", NS, "deployment/kubegate-gateway", "--timeout=120s"));
      await new Promise((r) => setTimeout(r, 2000));
      finish();
      const load = await loading;
      const runs = await kubectlRuns;
      process.stderr.write(
        `# in-cluster: rolling restart under load: ${load.total} GETs, ${load.failedOnce} failed on the first try, ${load.failed} after one retry; ${runs.total} kubectl gets, ${runs.failed.length} failed\n`,
      );
      assert.ok(load.total > 50, `only ${load.total} requests`);
      assert.deepEqual(load.errors, []);
      assert.ok(runs.total > 10, `only ${runs.total} kubectl runs`);
      assert.deepEqual(runs.failed, []);

      // kubegate doctor on the deployment, with a user's kubeconfig and a dry-run pod for the webhook.
      await ok(admin("create", "namespace", "ic-dry"));
      await defaultServiceAccount(cluster.adminKubeconfig, "ic-dry");
      const doctor = await kubegate(
        "doctor",
        ...[
          "--kubeconfig",
          cluster.adminKubeconfig,
          "--client-kubeconfig",
          kubeconfig,
          "--dry-run-namespace",
          "ic-dry",
        ],
      );
      assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
      // All ok: exit 0 also allows warnings and skipped checks, so read the report itself.
      const report = JSON.parse(
        await ok(
          kubegate(
            "doctor",
            ...["--kubeconfig", cluster.adminKubeconfig, "--client-kubeconfig", kubeconfig],
            ...["--dry-run-namespace", "ic-dry", "--output", "json"],
          ),
        ),
      ) as {
        ok: boolean;
        summary: { ok: number; warning: number; problem: number; skipped: number };
        checks: { id: string; outcome: string }[];
      };
      process.stderr.write(
        `# in-cluster: kubegate doctor: ${report.checks.map((c) => `${c.id}=${c.outcome}`).join(" ")}\n`,
      );
      assert.deepEqual(
        report.checks.filter((c) => c.outcome !== "ok").map((c) => `${c.id}=${c.outcome}`),
        [],
      );
      assert.equal(report.summary.ok, report.checks.length);

      // Seed 002's path: the webhook sets KUBERNETES_SERVICE_HOST, the node agent holds that address,
      // the apiserver-proxy forwards it to the apiserver; the pod's TLS check of the apiserver passes.
      await ok(admin("create", "namespace", "ic-app"));
      await defaultServiceAccount(cluster.adminKubeconfig, "ic-app");
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "probe", namespace: "ic-app" },
        spec: {
          restartPolicy: "Never",
          containers: [
            { name: "probe", image: kubegateImageRef(REPO), command: ["/usr/local/bin/node", "-e", PROBE] },
          ],
        },
      };
      await ok(
        run("kubectl", ["--kubeconfig", cluster.adminKubeconfig, "apply", "-f", "-"], {
          input: JSON.stringify(pod),
        }),
      );
      await ok(
        admin(
          "wait",
          "-n",
          "ic-app",
          "--for=jsonpath={.status.phase}=Succeeded",
          "pod/probe",
          "--timeout=60s",
        ),
      );
      const seen = JSON.parse((await ok(admin("logs", "-n", "ic-app", "probe"))).trim()) as {
        host: string;
        code: number;
        version: string;
      };
      assert.deepEqual(seen, { host: NODE_LOCAL, code: 200, version: cluster.versions.kubernetes });

      // The demo tenants (kubegate dev's), through the in-cluster gateway: each user sees their slice.
      // Last: the demo's Node objects have no kubelet, and nothing may be scheduled after them.
      await ok(
        run("kubectl", ["--kubeconfig", cluster.adminKubeconfig, "apply", "--server-side", "-f", "-"], {
          input: DEMO_OBJECTS,
        }),
      );
      const names = async (user: string, groups: string[], what: string) => {
        const cert = await createClientCert(usersCa, { cn: user, organizations: groups });
        const config = join(dir, `${user}.kubeconfig`);
        await writeFile(config, kubeconfigFor(cert), { mode: 0o600 });
        const out = await ok(kubectl(config, "get", what, "-o", "name"));
        return out.trim().split("\n").filter(Boolean).sort();
      };
      // The gateway's index follows the Tenants through its informers: a moment after the apply.
      const eventually = async (f: () => Promise<string[]>, want: string[]) => {
        let got: string[] = [];
        for (let i = 0; i < 50; i++) {
          got = await f();
          if (JSON.stringify(got) === JSON.stringify(want)) return;
          await new Promise((r) => setTimeout(r, 200));
        }
        assert.deepEqual(got, want);
      };
      await eventually(
        () => names("alice", ["team-a"], "namespaces"),
        ["namespace/team-a-dev", "namespace/team-a-prod"],
      );
      await eventually(
        () => names("alice", ["team-a"], "storageclasses"),
        ["storageclass.storage.k8s.io/team-a-ssd"],
      );
      await eventually(() => names("alice", ["team-a"], "nodes"), ["node/node-team-a"]);
      await eventually(() => names("bob", ["contractors"], "namespaces"), ["namespace/team-a-dev"]);
      await eventually(
        () => names("bob", ["contractors"], "storageclasses"),
        ["storageclass.storage.k8s.io/team-a-ssd"],
      );
    } finally {
      // The node agent removes its address and rules when it is stopped.
      await admin("delete", "-n", NS, "daemonset/kubegate-node-agent", "--wait=true", "--timeout=30s");
      await down(dir);
    }
    const lo = spawnSync("ip", ["-o", "addr", "show", "dev", "lo"], { encoding: "utf8" }).stdout;
    assert.doesNotMatch(
      lo,
      new RegExp(NODE_LOCAL.replaceAll(".", "\\.")),
      "the node agent's address is gone",
    );
    assert.doesNotMatch(spawnSync("iptables-save", [], { encoding: "utf8" }).stdout, /KUBE-|10\.96\.0\.2/);
  });
});
