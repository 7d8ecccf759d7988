// A user's first tries, through kubegate, on a real kubelet (issue #18): kubectl exec (WebSocket and
// SPDY), exec with stdin, attach, logs and logs -f, port-forward (both protocols) and cp, into a pod
// that really runs. Another tenant gets the apiserver's refusal, through the same tunnel.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Agent, WebSocket } from "undici";
import { buildKubegateImage, kubegateImageRef } from "../../src/devcluster/kubegate-image.ts";
import { readNodeInfo } from "../../src/devcluster/node.ts";
import { useCluster, wantNode } from "../cluster/harness.ts";
import { startGatewayProcess } from "../support/gateway-process.ts";
import { gatewayArgs, gatewayUser, prepareGatewayEnv } from "./gateway-env.ts";
import { kubectl, ok, run } from "./run.ts";

const cluster = await useCluster({ node: true });
const skip = cluster.node
  ? false
  : `the test cluster has no node: ${wantNode() ?? "it was started without one"}`;

const NS = `rn-${randomBytes(3).toString("hex")}`;
const POD_YAML = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: ${NS}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: docker.io/library/busybox:1.35
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-pod > /www/index.html && httpd -p 8080 -h /www && echo started && i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.5; done"]
`;

/** Output of a long-running kubectl as it comes, until it shows what is waited for. */
function streaming(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child: ChildProcess = spawn("kubectl", args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  return {
    get out() {
      return out;
    },
    async until(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = pattern.exec(out);
        if (m) return m;
        if (Date.now() > deadline || child.exitCode !== null)
          assert.fail(`kubectl ${args.join(" ")}: no ${pattern} in:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: () => child.kill(),
  };
}

const SPDY = {
  ...process.env,
  KUBECTL_REMOTE_COMMAND_WEBSOCKETS: "false",
  KUBECTL_PORT_FORWARD_WEBSOCKETS: "false",
};
const WEBSOCKETS = {
  ...process.env,
  KUBECTL_REMOTE_COMMAND_WEBSOCKETS: "true",
  KUBECTL_PORT_FORWARD_WEBSOCKETS: "true",
};

describe("a real node through the gateway: exec, attach, port-forward, logs, cp", { skip }, () => {
  let alice = "";
  let mallory = "";
  let gatewayUrl = "";
  let gatewayCa = "";
  let stopGateway: () => Promise<void> = async () => undefined;
  const admin = (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args);
  const as = (kubeconfig: string, ...args: string[]) => kubectl(kubeconfig, "-n", NS, ...args);

  before(async () => {
    const env = await prepareGatewayEnv(cluster);
    const gateway = await startGatewayProcess(gatewayArgs(env));
    gatewayUrl = gateway.url;
    gatewayCa = await readFile(env.servingCa.cert, "utf8");
    stopGateway = async () => {
      await gateway.stop();
    };
    // Certificates from the gateway's own users CA, which kube-apiserver does not trust: every answer
    // below came through kubegate.
    alice = await gatewayUser(env, gateway.url, `${NS}-alice`, [`${NS}-team`]);
    mallory = await gatewayUser(env, gateway.url, `${NS}-mallory`, [`${NS}-other`]);
    await ok(admin("create", "namespace", NS));
    await ok(
      admin("create", "rolebinding", "team-edit", "-n", NS, "--clusterrole=edit", `--group=${NS}-team`),
    );
    // The controller manager makes each namespace's default service account; a pod needs it.
    for (let i = 0; i < 100 && (await admin("get", "serviceaccount", "default", "-n", NS)).code !== 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    await ok(run("kubectl", ["--kubeconfig", alice, "apply", "-f", "-"], { input: POD_YAML }));
    await ok(as(alice, "wait", "--for=condition=Ready", "pod/web", "--timeout=60s"));
  });
  after(async () => {
    await admin("delete", "namespace", NS, "--wait=false");
    await stopGateway();
  });

  it("kubectl exec runs in the container, over WebSocket and over SPDY", async () => {
    assert.equal(
      (
        await ok(
          run("kubectl", ["--kubeconfig", alice, "-n", NS, "exec", "web", "--", "echo", "hi-ws"], {
            env: WEBSOCKETS,
          }),
        )
      ).trim(),
      "hi-ws",
    );
    assert.equal(
      (
        await ok(
          run("kubectl", ["--kubeconfig", alice, "-n", NS, "exec", "web", "--", "echo", "hi-spdy"], {
            env: SPDY,
          }),
        )
      ).trim(),
      "hi-spdy",
    );
    // The process runs in the pod: its hostname is the pod's.
    assert.equal((await ok(as(alice, "exec", "web", "--", "hostname"))).trim(), "web");
  });

  it("kubectl exec -i passes stdin through, byte for byte", async () => {
    const input = `${randomBytes(48 * 1024).toString("base64")}\n`;
    for (const env of [WEBSOCKETS, SPDY]) {
      const r = await ok(
        run(
          "kubectl",
          ["--kubeconfig", alice, "-n", NS, "exec", "-i", "web", "--", "sh", "-c", "cat; echo END"],
          { env, input },
        ),
      );
      assert.equal(r, `${input}END\n`);
    }
  });

  it("kubectl logs, and logs -f streams lines written after it started", async () => {
    const logs = await ok(as(alice, "logs", "web"));
    assert.match(logs, /^started\ntick 0\n/);
    const last = Number(/tick (\d+)\n$/.exec(logs)?.[1]);
    const follow = streaming(["--kubeconfig", alice, "-n", NS, "logs", "-f", "web"]);
    try {
      await follow.until(new RegExp(`tick ${last + 3}\\n`));
    } finally {
      follow.stop();
    }
  });

  it("kubectl attach shows the main process's output as it runs", async () => {
    const attach = streaming(["--kubeconfig", alice, "-n", NS, "attach", "web", "-c", "main"]);
    try {
      const first = Number((await attach.until(/tick (\d+)/))[1]);
      await attach.until(new RegExp(`tick ${first + 2}`));
    } finally {
      attach.stop();
    }
  });

  it("kubectl port-forward reaches the pod's port, over WebSocket and over SPDY", async () => {
    for (const env of [WEBSOCKETS, SPDY]) {
      const pf = streaming(["--kubeconfig", alice, "-n", NS, "port-forward", "pod/web", ":8080"], env);
      try {
        const port = (await pf.until(/Forwarding from 127\.0\.0\.1:(\d+)/))[1];
        const res = await fetch(`http://127.0.0.1:${port}/`);
        assert.equal(res.status, 200);
        assert.equal(await res.text(), "hello-from-pod\n");
      } finally {
        pf.stop();
      }
    }
  });

  it("kubectl cp copies a file in and back out unchanged", async () => {
    const dir = join(cluster.dir, NS);
    await ok(run("mkdir", ["-p", dir]));
    const original = randomBytes(200 * 1024);
    await writeFile(join(dir, "in.bin"), original);
    await ok(as(alice, "cp", join(dir, "in.bin"), `${NS}/web:/tmp/in.bin`));
    assert.equal(
      (await ok(as(alice, "exec", "web", "--", "wc", "-c", "/tmp/in.bin"))).trim().split(/\s+/)[0],
      String(original.length),
    );
    await ok(as(alice, "cp", `${NS}/web:/tmp/in.bin`, join(dir, "out.bin")));
    assert.ok((await readFile(join(dir, "out.bin"))).equals(original));
  });

  it("another tenant is refused exec, logs and port-forward by the apiserver, as themselves", async () => {
    const exec = await as(mallory, "exec", "web", "--", "echo", "nope");
    assert.notEqual(exec.code, 0);
    assert.match(exec.stderr, new RegExp(`User "${NS}-mallory" cannot (get|create) resource "pods`));
    assert.doesNotMatch(exec.stdout, /nope/);
    const logs = await as(mallory, "logs", "web");
    assert.notEqual(logs.code, 0);
    assert.match(logs.stderr, /forbidden/);
    const pf = await run("kubectl", ["--kubeconfig", mallory, "-n", NS, "port-forward", "pod/web", ":8080"], {
      timeoutMs: 20_000,
    });
    assert.notEqual(pf.code, 0);
    assert.match(pf.stderr, /forbidden/);
  });

  it("exec over a WebSocket whose bearer token rides in the subprotocol, as browsers send it", async () => {
    await ok(admin("create", "serviceaccount", "ws-robot", "-n", NS));
    await ok(
      admin(
        "create",
        "rolebinding",
        "ws-robot-edit",
        "-n",
        NS,
        "--clusterrole=edit",
        `--serviceaccount=${NS}:ws-robot`,
      ),
    );
    const token = (await ok(admin("create", "token", "ws-robot", "-n", NS))).trim();
    const exec = (protocols: string[]) =>
      new Promise<{ stdout: string; protocol: string; opened: boolean }>((resolve) => {
        const url = `${gatewayUrl.replace("https:", "wss:")}/api/v1/namespaces/${NS}/pods/web/exec?command=echo&command=hi-ws-token&stdout=true`;
        const ws = new WebSocket(url, { protocols, dispatcher: new Agent({ connect: { ca: gatewayCa } }) });
        ws.binaryType = "arraybuffer";
        let stdout = "";
        let opened = false;
        ws.onopen = () => {
          opened = true;
        };
        ws.onmessage = (m) => {
          const data = Buffer.from(m.data as ArrayBuffer);
          if (data[0] === 1) stdout += data.subarray(1).toString();
        };
        ws.onclose = () => resolve({ stdout, protocol: ws.protocol, opened });
      });
    const bearer = `base64url.bearer.authorization.k8s.io.${Buffer.from(token).toString("base64url")}`;
    const done = await exec(["v5.channel.k8s.io", bearer]);
    assert.equal(done.opened, true);
    assert.equal(done.protocol, "v5.channel.k8s.io");
    assert.equal(done.stdout, "hi-ws-token\n");
    // A token that does not authenticate gets no tunnel.
    const refused = await exec([
      "v5.channel.k8s.io",
      `base64url.bearer.authorization.k8s.io.${Buffer.from("not-a-token").toString("base64url")}`,
    ]);
    assert.equal(refused.stdout, "");
    assert.equal(refused.opened, false, "the handshake fails");
  });

  it("kubegate's own image, built without a Docker engine, runs on the node as the manifests run it", async () => {
    const repo = fileURLToPath(new URL("../..", import.meta.url));
    const tarball = join(cluster.dir, "kubegate-image.tar");
    const built = await buildKubegateImage(repo, tarball);
    const node = await readNodeInfo(cluster.dir);
    const imported = spawnSync(
      "ctr",
      ["--address", node?.containerdSocket ?? "", "-n", "k8s.io", "images", "import", tarball],
      { encoding: "utf8" },
    );
    assert.equal(imported.status, 0, imported.stderr);
    const ref = kubegateImageRef(repo);
    assert.equal(built.ref, ref);
    // The gateway's pod security settings from deploy/base: non-root 65532, read-only root, no capabilities.
    const pod = JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "kubegate-version", namespace: NS },
      spec: {
        restartPolicy: "Never",
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 65532,
          runAsGroup: 65532,
          seccompProfile: { type: "RuntimeDefault" },
        },
        containers: [
          {
            name: "kubegate",
            image: ref,
            args: ["--version"],
            securityContext: {
              readOnlyRootFilesystem: true,
              allowPrivilegeEscalation: false,
              capabilities: { drop: ["ALL"] },
            },
          },
        ],
      },
    });
    await ok(run("kubectl", ["--kubeconfig", cluster.adminKubeconfig, "apply", "-f", "-"], { input: pod }));
    await ok(
      admin(
        "wait",
        "-n",
        NS,
        "--for=jsonpath={.status.phase}=Succeeded",
        "pod/kubegate-version",
        "--timeout=60s",
      ),
    );
    const version = JSON.parse(await readFile(join(repo, "package.json"), "utf8")).version as string;
    assert.equal((await ok(admin("logs", "-n", NS, "kubegate-version"))).trim(), version);
  });
});
