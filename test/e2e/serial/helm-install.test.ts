// `helm install` of charts/kubegate on a cluster with a real node (issue #21): the real helm, built from
// its Go module, installs kubegate from its own image; every component becomes Ready, the APIService
// Available, a user reaches the gateway Service; an upgrade keeps the serving CA the cluster trusts;
// uninstall removes what was installed. Serial, with a cluster of its own: the release registers the
// cluster-wide APIService and webhook, and one node runs per machine.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ensureClientBinaries } from "../../../src/devcluster/build.ts";
import { down, up } from "../../../src/devcluster/cluster.ts";
import { buildKubegateImage, kubegateImageRef } from "../../../src/devcluster/kubegate-image.ts";
import { importImage, nodeUnsupported } from "../../../src/devcluster/node.ts";
import { createCA, createClientCert } from "../../../src/pki/certificates.ts";
import { inlineKubeconfig } from "../../support/kubeconfig.ts";
import { kubectl, ok, run } from "../run.ts";

const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const CHART = join(REPO, "charts/kubegate");
const NS = "kubegate-system";
const NODE_LOCAL = "10.96.0.2";

describe("helm install of the chart on a real node", { skip: nodeUnsupported() ?? false }, () => {
  it("installs Ready, serves a user, upgrades keeping its CA, and uninstalls cleanly", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kubegate-helm-install-"));
    const { helm } = await ensureClientBinaries({ log: () => undefined });
    const cluster = await up({ dir, node: true, log: () => undefined });
    const admin = (...a: string[]) => kubectl(cluster.adminKubeconfig, ...a);
    const helmRun = (...a: string[]) =>
      run(helm, ["--kubeconfig", cluster.adminKubeconfig, ...a], { timeoutMs: 240_000 });
    try {
      const image = await buildKubegateImage(REPO, join(dir, "kubegate.tar"));
      await importImage(dir, image.path);
      const usersCa = await createCA("helm-users");
      const usersCaFile = join(dir, "users-ca.crt");
      await writeFile(usersCaFile, usersCa.certPem);
      // As the chart's values.yaml says: a namespace the pod webhook leaves alone.
      await ok(admin("create", "namespace", NS));
      await ok(admin("label", "namespace", NS, "kubegate.dev/inject-apiserver-env=disable"));
      const ref = kubegateImageRef(REPO);
      const [repository, tag] = ref.split(/:(?=[^:/]+$)/) as [string, string];
      // No cluster DNS here: the webhook and the node-local proxy use addresses (as in-cluster.test).
      const values = [
        ...["--set", `image.repository=${repository}`, "--set", `image.tag=${tag}`],
        ...["--set", "tenancy.enabled=true", "--set-file", `usersCA.cert=${usersCaFile}`],
        ...["--set", `webhook.apiserverFqdn=${NODE_LOCAL}`, "--set", `nodeAgent.nodeLocalIp=${NODE_LOCAL}`],
        ...["--set", "nodeAgent.apiserverUpstream=10.96.0.1:443"],
      ];
      const started = Date.now();
      await ok(helmRun("install", "kubegate", CHART, "-n", NS, "--wait", "--timeout", "180s", ...values));
      const installMs = Date.now() - started;
      await ok(admin("wait", "--for=condition=Available", "apiservice/v1.custom.api.local", "--timeout=90s"));
      const list = JSON.parse(await ok(helmRun("list", "-n", NS, "-o", "json"))) as {
        name: string;
        status: string;
        chart: string;
      }[];
      assert.deepEqual(
        list.map((r) => [r.name, r.status, r.chart]),
        [["kubegate", "deployed", "kubegate-0.1.0"]],
      );
      const ready = JSON.parse(await ok(admin("get", "deployments,daemonsets", "-n", NS, "-o", "json"))) as {
        items: { kind: string; metadata: { name: string }; status: Record<string, number> }[];
      };
      for (const w of ready.items) {
        const want = w.kind === "DaemonSet" ? w.status.desiredNumberScheduled : w.status.replicas;
        const have = w.kind === "DaemonSet" ? w.status.numberReady : w.status.readyReplicas;
        assert.equal(have, want, `${w.kind} ${w.metadata.name}`);
      }
      assert.equal(ready.items.length, 4, ready.items.map((w) => w.metadata.name).join(", "));

      // A user, through the gateway's Service, with a certificate from the users CA the chart was given.
      const ip = (
        await ok(admin("get", "service", "-n", NS, "kubegate-gateway", "-o", "jsonpath={.spec.clusterIP}"))
      ).trim();
      const servingCa = Buffer.from(
        (
          await ok(admin("get", "apiservice", "v1.custom.api.local", "-o", "jsonpath={.spec.caBundle}"))
        ).trim(),
        "base64",
      ).toString();
      const user = await createClientCert(usersCa, { cn: "helm-alice", organizations: ["helm-team"] });
      const kubeconfig = join(dir, "alice.kubeconfig");
      await writeFile(
        kubeconfig,
        inlineKubeconfig({
          server: `https://${ip}:443`,
          ca: servingCa,
          serverName: `kubegate-gateway.${NS}.svc`,
          ...user,
        }),
        { mode: 0o600 },
      );
      const me = JSON.parse(await ok(kubectl(kubeconfig, "auth", "whoami", "-o", "json"))) as {
        status: { userInfo: { username: string; groups: string[] } };
      };
      assert.equal(me.status.userInfo.username, "helm-alice");
      assert.ok(me.status.userInfo.groups.includes("helm-team"));

      // An upgrade with a changed value keeps the CA the APIService and the webhook trust.
      await ok(
        helmRun(
          "upgrade",
          "kubegate",
          CHART,
          "-n",
          NS,
          "--wait",
          "--timeout",
          "180s",
          ...values,
          "--set",
          "webhook.replicas=1",
        ),
      );
      const after = Buffer.from(
        (
          await ok(admin("get", "apiservice", "v1.custom.api.local", "-o", "jsonpath={.spec.caBundle}"))
        ).trim(),
        "base64",
      ).toString();
      assert.equal(after, servingCa, "the serving CA survived the upgrade");
      assert.equal(
        (
          await ok(
            admin("get", "deployment", "-n", NS, "kubegate-webhook", "-o", "jsonpath={.spec.replicas}"),
          )
        ).trim(),
        "1",
      );
      await ok(admin("wait", "--for=condition=Available", "apiservice/v1.custom.api.local", "--timeout=90s"));
      assert.equal(
        JSON.parse(await ok(kubectl(kubeconfig, "auth", "whoami", "-o", "json"))).status.userInfo.username,
        "helm-alice",
      );

      await ok(helmRun("uninstall", "kubegate", "-n", NS, "--wait", "--timeout", "120s"));
      assert.notEqual((await admin("get", "apiservice", "v1.custom.api.local")).code, 0);
      assert.notEqual(
        (await admin("get", "mutatingwebhookconfiguration", "kubegate-pod-apiserver-env")).code,
        0,
      );
      assert.notEqual((await admin("get", "clusterrole", "kubegate-gateway")).code, 0);
      assert.equal(
        (await ok(admin("get", "deployments,daemonsets,secrets", "-n", NS, "-o", "name"))).trim(),
        "",
      );
      process.stderr.write(`# helm-install: install to Ready ${(installMs / 1000).toFixed(1)} s\n`);
    } finally {
      await down(dir);
    }
  });
});
