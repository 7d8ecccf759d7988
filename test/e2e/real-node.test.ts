// A user's first tries, through kubegate, on a real kubelet (issue #18): kubectl run and a Deployment,
// exec (WebSocket and SPDY) with its exit code, exec with stdin, attach, logs and logs -f,
// port-forward (both protocols, bytes both ways) and cp, into pods that really run; tunnels that stay
// open idle and under traffic past a minute, and that SIGTERM cuts. A user who may read pods but not
// exec into them, and another tenant, get the apiserver's refusal, and the audit log has it.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Agent, WebSocket } from "undici";
import { parse as parseYaml, stringify } from "yaml";
import { buildKubegateImage, kubegateImageRef } from "../../src/devcluster/kubegate-image.ts";
import { importImage } from "../../src/devcluster/node.ts";
import { useCluster, wantNode } from "../cluster/harness.ts";
import { startGatewayProcess, startKubegate } from "../support/gateway-process.ts";
import { rawRequest } from "../support/https-client.ts";
import { kubectlProcess } from "../support/kubectl-process.ts";
import { gatewayArgs, gatewayUser, prepareGatewayEnv, readText } from "./gateway-env.ts";
import { kubectl, kubegate, ok, run } from "./run.ts";

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
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-pod > /www/index.html && httpd -p 8080 -h /www && (nc -ll -p 9000 -e cat &) && echo started && i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.5; done"]
`;

/** A container that only waits, from the node's one image. */
const SLEEPER = {
  name: "main",
  image: "docker.io/library/busybox:1.35",
  imagePullPolicy: "Never",
  command: ["sleep", "3600"],
};

/** A TCP connection to a local port that hands back exactly `n` bytes read from it. */
async function tcp(
  port: string,
): Promise<{ socket: Socket; closed: Promise<void>; read(n: number, timeoutMs?: number): Promise<Buffer> }> {
  const socket = connect(Number(port), "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  let buffered = Buffer.alloc(0);
  let wake: () => void = () => undefined;
  let ended = false;
  socket.on("data", (d: Buffer) => {
    buffered = Buffer.concat([buffered, d]);
    wake();
  });
  const closed = new Promise<void>((resolve) =>
    socket.on("close", () => {
      ended = true;
      wake();
      resolve();
    }),
  );
  // A reset is a close too: the caller learns of it from `closed` and from read().
  socket.on("error", () => undefined);
  return {
    socket,
    closed,
    async read(n, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (buffered.length < n) {
        if (ended) assert.fail(`the connection closed after ${buffered.length} of ${n} bytes`);
        if (Date.now() > deadline) assert.fail(`${buffered.length} of ${n} bytes in ${timeoutMs} ms`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 200);
        });
      }
      const out = buffered.subarray(0, n);
      buffered = buffered.subarray(n);
      return out;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
  let victor = "";
  let gatewayUrl = "";
  let gatewayCa = "";
  let env: Awaited<ReturnType<typeof prepareGatewayEnv>>;
  let auditLog = "";
  let stopGateway: () => Promise<void> = async () => undefined;
  const admin = (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args);
  const as = (kubeconfig: string, ...args: string[]) => kubectl(kubeconfig, "-n", NS, ...args);

  before(async () => {
    env = await prepareGatewayEnv(cluster);
    auditLog = join(env.dir, "audit.log");
    const gateway = await startGatewayProcess(gatewayArgs(env, ["--audit-log", auditLog]));
    gatewayUrl = gateway.url;
    gatewayCa = await readFile(env.servingCa.cert, "utf8");
    stopGateway = async () => {
      await gateway.stop();
    };
    // Certificates from the gateway's own users CA, which kube-apiserver does not trust: every answer
    // below came through kubegate.
    alice = await gatewayUser(env, gateway.url, `${NS}-alice`, [`${NS}-team`]);
    mallory = await gatewayUser(env, gateway.url, `${NS}-mallory`, [`${NS}-other`]);
    victor = await gatewayUser(env, gateway.url, `${NS}-victor`, [`${NS}-viewers`]);
    await ok(admin("create", "namespace", NS));
    await ok(
      admin("create", "rolebinding", "team-edit", "-n", NS, "--clusterrole=edit", `--group=${NS}-team`),
    );
    // Reads pods and their logs, nothing else: no pods/exec, attach or portforward.
    await ok(
      admin("create", "role", "pod-reader", "-n", NS, "--verb=get,list,watch", "--resource=pods,pods/log"),
    );
    await ok(
      admin("create", "rolebinding", "pod-reader", "-n", NS, "--role=pod-reader", `--group=${NS}-viewers`),
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

  it("kubectl run and a Deployment, made through the gateway, become Running", async () => {
    await ok(
      as(
        alice,
        "run",
        "runner",
        "--image=docker.io/library/busybox:1.35",
        "--image-pull-policy=Never",
        "--restart=Never",
        "--",
        "sleep",
        "3600",
      ),
    );
    const deployment = JSON.stringify({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "sleepers", namespace: NS },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "sleepers" } },
        template: {
          metadata: { labels: { app: "sleepers" } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [SLEEPER],
          },
        },
      },
    });
    await ok(run("kubectl", ["--kubeconfig", alice, "apply", "-f", "-"], { input: deployment }));
    await ok(as(alice, "wait", "--for=condition=Ready", "pod/runner", "--timeout=60s"));
    await ok(as(alice, "rollout", "status", "deployment/sleepers", "--timeout=60s"));
    const pods = JSON.parse(await ok(as(alice, "get", "pods", "-l", "app=sleepers", "-o", "json"))) as {
      items: { status: { phase: string } }[];
    };
    assert.deepEqual(
      pods.items.map((p) => p.status.phase),
      ["Running", "Running"],
    );
    await ok(as(alice, "delete", "deployment/sleepers", "pod/runner", "--wait=false"));
  });

  it("kubectl exec gives back the command's exit code, over WebSocket and over SPDY", async () => {
    for (const env of [WEBSOCKETS, SPDY]) {
      for (const code of [3, 42]) {
        const r = await run(
          "kubectl",
          ["--kubeconfig", alice, "-n", NS, "exec", "web", "--", "sh", "-c", `echo out; exit ${code}`],
          { env },
        );
        assert.equal(r.code, code, r.stderr);
        assert.equal(r.stdout, "out\n");
        assert.match(r.stderr, new RegExp(`command terminated with exit code ${code}`));
      }
    }
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
    const follow = kubectlProcess(["--kubeconfig", alice, "-n", NS, "logs", "-f", "web"]);
    try {
      await follow.until(new RegExp(`tick ${last + 3}\\n`));
    } finally {
      follow.stop();
    }
  });

  it("kubectl attach shows the main process's output as it runs", async () => {
    const attach = kubectlProcess(["--kubeconfig", alice, "-n", NS, "attach", "web", "-c", "main"]);
    try {
      const first = Number((await attach.until(/tick (\d+)/))[1]);
      await attach.until(new RegExp(`tick ${first + 2}`));
    } finally {
      attach.stop();
    }
  });

  it("kubectl port-forward reaches the pod's port, over WebSocket and over SPDY", async () => {
    for (const env of [WEBSOCKETS, SPDY]) {
      const pf = kubectlProcess(["--kubeconfig", alice, "-n", NS, "port-forward", "pod/web", ":8080"], {
        env: env,
      });
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

  it("kubectl port-forward carries a megabyte each way, byte for byte, over WebSocket and over SPDY", async () => {
    for (const env of [WEBSOCKETS, SPDY]) {
      const pf = kubectlProcess(["--kubeconfig", alice, "-n", NS, "port-forward", "pod/web", ":9000"], {
        env: env,
      });
      try {
        const port = (await pf.until(/Forwarding from 127\.0\.0\.1:(\d+)/))[1] as string;
        // The pod's nc runs cat on the connection: what goes up comes back down.
        const conn = await tcp(port);
        const sent = randomBytes(1024 * 1024);
        conn.socket.write(sent);
        assert.ok((await conn.read(sent.length, 30_000)).equals(sent));
        conn.socket.destroy();
      } finally {
        pf.stop();
      }
    }
  });

  it("tunnels stay open past a minute, idle and under traffic (exec and port-forward)", async () => {
    const exec = kubectlProcess(["--kubeconfig", alice, "-n", NS, "exec", "-i", "web", "--", "cat"], {
      env: WEBSOCKETS,
      stdin: true,
    });
    const idleForward = kubectlProcess(
      ["--kubeconfig", alice, "-n", NS, "port-forward", "pod/web", ":9000"],
      { env: WEBSOCKETS },
    );
    const busyForward = kubectlProcess(
      ["--kubeconfig", alice, "-n", NS, "port-forward", "pod/web", ":9000"],
      { env: SPDY },
    );
    try {
      exec.write("first\n");
      await exec.until(/first\n/);
      const idle = await tcp((await idleForward.until(/Forwarding from 127\.0\.0\.1:(\d+)/))[1] as string);
      idle.socket.write("hello\n");
      assert.equal((await idle.read(6)).toString(), "hello\n");
      const busy = await tcp((await busyForward.until(/Forwarding from 127\.0\.0\.1:(\d+)/))[1] as string);
      // 65 s, a round trip every second on the busy tunnel, nothing on the idle ones. The gateway's
      // idle timeout is 90 s, but it is for HTTP/1.1 between requests: a tunnel is one request.
      const until = Date.now() + 65_000;
      let rounds = 0;
      while (Date.now() < until) {
        const chunk = randomBytes(16 * 1024);
        busy.socket.write(chunk);
        assert.ok((await busy.read(chunk.length)).equals(chunk), `round ${rounds}`);
        rounds++;
        await sleep(1000);
      }
      assert.ok(rounds >= 50, `${rounds} rounds`);
      exec.write("second\n");
      await exec.until(/first\nsecond\n/);
      idle.socket.write("again\n");
      assert.equal((await idle.read(6)).toString(), "again\n");
      for (const c of [idle, busy]) c.socket.destroy();
    } finally {
      for (const p of [exec, idleForward, busyForward]) p.stop();
    }
  });

  it("SIGTERM cuts open tunnels at once, then the gateway exits 0", async (t) => {
    const gateway = await startGatewayProcess(gatewayArgs(env, ["--shutdown-grace", "20s"]));
    const user = await gatewayUser(env, gateway.url, `${NS}-sigterm`, [`${NS}-team`]);
    const exec = kubectlProcess(["--kubeconfig", user, "-n", NS, "exec", "-i", "web", "--", "cat"], {
      env: WEBSOCKETS,
      stdin: true,
    });
    const forward = kubectlProcess(["--kubeconfig", user, "-n", NS, "port-forward", "pod/web", ":9000"], {
      env: SPDY,
    });
    try {
      exec.write("ping\n");
      await exec.until(/ping\n/);
      const conn = await tcp((await forward.until(/Forwarding from 127\.0\.0\.1:(\d+)/))[1] as string);
      conn.socket.write("x\n");
      assert.equal((await conn.read(2)).toString(), "x\n");
      const started = Date.now();
      const code = await gateway.stop("SIGTERM");
      const tookMs = Date.now() - started;
      assert.equal(code, 0, gateway.logs());
      // Tunnels are cut, not waited for: well inside the 20 s grace.
      assert.ok(tookMs < 10_000, `the gateway took ${tookMs} ms to exit`);
      const ended = await Promise.race([exec.exited.then(() => true), sleep(10_000).then(() => false)]);
      assert.ok(ended, "kubectl exec ended when its tunnel was cut");
      t.diagnostic(
        `gateway exited in ${tookMs} ms, kubectl exec ended ${Date.now() - started} ms after SIGTERM`,
      );
      // The forwarded connection is over: its next bytes find no tunnel.
      const closed = await Promise.race([conn.closed.then(() => true), sleep(10_000).then(() => false)]);
      assert.ok(closed, "the port-forward connection was closed");
      t.diagnostic(`the forwarded connection closed ${Date.now() - started} ms after SIGTERM`);
    } finally {
      exec.stop();
      forward.stop();
      await gateway.stop("SIGKILL");
    }
  });

  it("a user who may read pods but not exec into them gets the apiserver's 403 Status, and the audit log has it", async () => {
    assert.match(await ok(as(victor, "get", "pod", "web", "-o", "name")), /pod\/web/);
    assert.match(await ok(as(victor, "logs", "web", "--tail=1")), /tick \d+/);
    for (const env of [WEBSOCKETS, SPDY]) {
      const r = await run(
        "kubectl",
        ["--kubeconfig", victor, "-n", NS, "exec", "web", "--", "echo", "nope"],
        {
          env,
        },
      );
      assert.notEqual(r.code, 0);
      assert.doesNotMatch(r.stdout, /nope/);
      assert.match(r.stderr, new RegExp(`User "${NS}-victor" cannot (get|create) resource "pods/exec"`));
    }
    // The answer itself, to a WebSocket upgrade as kubectl sends it.
    const answer = await rawRequest(gatewayUrl, {
      path: `/api/v1/namespaces/${NS}/pods/web/exec?command=echo&command=nope&stdout=true`,
      headers: [
        ["Connection", "Upgrade"],
        ["Upgrade", "websocket"],
        ["Sec-WebSocket-Version", "13"],
        ["Sec-WebSocket-Key", randomBytes(16).toString("base64")],
        ["Sec-WebSocket-Protocol", "v5.channel.k8s.io"],
      ],
      ca: gatewayCa,
      cert: await readFile(join(env.dir, `${NS}-victor.crt`), "utf8"),
      key: await readFile(join(env.dir, `${NS}-victor.key`), "utf8"),
    });
    assert.equal(answer.status, 403, answer.body);
    const st = JSON.parse(answer.body) as {
      kind: string;
      code: number;
      reason: string;
      details?: { kind?: string };
    };
    assert.equal(st.kind, "Status");
    assert.equal(st.code, 403);
    assert.equal(st.reason, "Forbidden");
    assert.equal(st.details?.kind, "pods");
    // One audit event per refused attempt, with the user and the subresource.
    type AuditEvent = {
      user?: { username?: string };
      objectRef?: { resource?: string; subresource?: string; name?: string; namespace?: string };
      responseStatus?: { code?: number };
    };
    let refused: AuditEvent[] = [];
    // kubectl's WebSocket executor falls back to SPDY when the upgrade is refused: 3 or 4 attempts.
    for (let i = 0; i < 50 && refused.length < 3; i++) {
      if (i) await sleep(100);
      refused = (await readText(auditLog))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as AuditEvent)
        .filter(
          (e) =>
            e.user?.username === `${NS}-victor` &&
            e.objectRef?.subresource === "exec" &&
            e.objectRef.name === "web" &&
            e.objectRef.namespace === NS,
        );
    }
    assert.ok(refused.length >= 3, `${refused.length} audited: two kubectl execs and the raw upgrade`);
    for (const e of refused) assert.equal(e.responseStatus?.code, 403);
  });

  it("a pod made through the gateway gets the webhook's KUBERNETES_SERVICE_HOST, and its container sees it", async () => {
    const dir = join(cluster.dir, `${NS}-webhook`);
    await ok(run("mkdir", ["-p", dir]));
    const at = (n: string) => join(dir, n);
    await ok(
      kubegate("certs", "ca", "--cn", "rn-webhook-ca", "--out-cert", at("ca.crt"), "--out-key", at("ca.key")),
    );
    await ok(
      kubegate(
        ...["certs", "server", "--ca-cert", at("ca.crt"), "--ca-key", at("ca.key"), "--cn", "webhook"],
        ...["--ip", "127.0.0.1", "--out-cert", at("tls.crt"), "--out-key", at("tls.key")],
      ),
    );
    const host = "apiserver.kubegate.example";
    const webhook = await startKubegate("webhook", [
      ...["--apiserver-fqdn", host, "--cert-dir", dir, "--host", "127.0.0.1", "--port", "0"],
    ]);
    // The shipped registration, pointed at this process and at this file's namespace only (other
    // files' pods run meanwhile).
    const registration = parseYaml(
      await readFile(new URL("../../deploy/base/webhook-configuration.yaml", import.meta.url), "utf8"),
    );
    registration.metadata.name = `kubegate-e2e-${NS}`;
    registration.webhooks[0].clientConfig = {
      url: `${webhook.url}/webhook/pod-apiserver-env`,
      caBundle: Buffer.from(await readFile(at("ca.crt"))).toString("base64"),
    };
    registration.webhooks[0].namespaceSelector = { matchLabels: { "kubernetes.io/metadata.name": NS } };
    await ok(
      run("kubectl", ["--kubeconfig", cluster.adminKubeconfig, "apply", "-f", "-"], {
        input: stringify(registration),
      }),
    );
    try {
      const pod = JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "envcheck", namespace: NS },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [SLEEPER],
        },
      });
      // The apiserver takes up a new registration within moments: dry runs until it mutates.
      let mutated = false;
      for (let i = 0; i < 50 && !mutated; i++) {
        if (i) await sleep(200);
        const dry = await ok(
          run("kubectl", ["--kubeconfig", alice, "create", "--dry-run=server", "-o", "json", "-f", "-"], {
            input: pod,
          }),
        );
        mutated = dry.includes(host);
      }
      assert.ok(mutated, "the webhook mutated a dry run within 10 s");
      await ok(run("kubectl", ["--kubeconfig", alice, "create", "-f", "-"], { input: pod }));
      await ok(as(alice, "wait", "--for=condition=Ready", "pod/envcheck", "--timeout=60s"));
      const seen = (await ok(as(alice, "exec", "envcheck", "--", "env")))
        .split("\n")
        .filter((l) => l.startsWith("KUBERNETES_SERVICE_HOST="));
      // The webhook's value, not the kubelet's service address it would otherwise have.
      assert.deepEqual(seen, [`KUBERNETES_SERVICE_HOST=${host}`]);
      await ok(as(alice, "delete", "pod/envcheck", "--wait=false"));
    } finally {
      await admin("delete", "mutatingwebhookconfiguration", `kubegate-e2e-${NS}`);
      await webhook.stop();
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
    await importImage(cluster.dir, tarball);
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
