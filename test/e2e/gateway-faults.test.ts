// Behaviour that needs control over the upstream: a TCP relay that can be cut (upstream down and back),
// a loopback HTTPS upstream that accepts upgrades (tunnel bytes both ways) or answers slowly (drain).
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { copyFile, writeFile } from "node:fs/promises";
import { type IncomingHttpHeaders, type IncomingMessage, STATUS_CODES } from "node:http";
import { createServer as createHttpsServer, request } from "node:https";
import { connect, createServer as createNetServer, type Socket } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { createCA, createServerCert } from "../../src/pki/certificates.ts";
import { renderKubeconfig } from "../../src/pki/kubeconfig.ts";
import { useCluster } from "../cluster/harness.ts";
import { startGatewayProcess } from "../support/gateway-process.ts";
import { rawRequest } from "../support/https-client.ts";
import { servedFingerprint } from "../support/tls.ts";
import { gatewayArgs, gatewayUser, prepareGatewayEnv } from "./gateway-env.ts";
import { kubectl, kubegate } from "./run.ts";

const cluster = await useCluster();
const env = await prepareGatewayEnv(cluster);
const pem = (p: string) => readFileSync(p, "utf8");

/** A TCP relay to kube-apiserver that the test can take down and bring back on the same port. */
async function relay(target: number) {
  let server = createNetServer();
  const sockets = new Set<Socket>();
  let port = 0;
  const start = () =>
    new Promise<void>((resolve) => {
      server = createNetServer((client) => {
        const upstream = connect(target, "127.0.0.1");
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
          s.on("error", () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, "127.0.0.1", () => {
        port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  await start();
  return { port: () => port, start, stop };
}

/** A fake apiserver on loopback: records what it was sent, accepts upgrades and echoes, or stalls. */
async function fakeApiserver() {
  const ca = await createCA("fake-apiserver-ca");
  const serving = await createServerCert(ca, { cn: "localhost", ipAddresses: ["127.0.0.1"] });
  const seen: IncomingHttpHeaders[] = [];
  const server = createHttpsServer(
    { cert: serving.certPem, key: serving.keyPem },
    (req: IncomingMessage, res) => {
      seen.push(req.headers);
      const delay = Number(new URL(req.url ?? "/", "https://x").searchParams.get("delayMs") ?? 0);
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Success", code: 200 }));
      }, delay);
    },
  );
  const tunnels = new Set<Socket>();
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    seen.push(req.headers);
    tunnels.add(socket);
    socket.on("close", () => tunnels.delete(socket));
    socket.on("end", () => socket.end());
    if (req.url?.includes("refuse")) {
      const body = JSON.stringify({
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        code: 403,
        reason: "Forbidden",
      });
      socket.end(
        `HTTP/1.1 403 ${STATUS_CODES[403]}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      return;
    }
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n",
    );
    if (head.length) socket.write(head);
    socket.on("data", (d) => socket.write(Buffer.concat([Buffer.from("echo:"), d])));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const kubeconfig = join(env.dir, "fake-upstream.kubeconfig");
  await writeFile(
    kubeconfig,
    renderKubeconfig({
      server: `https://127.0.0.1:${port}`,
      caCertPem: ca.certPem,
      user: "gw",
      token: "gateway-own-token",
    }),
  );
  const close = () =>
    new Promise<void>((r) => {
      for (const t of tunnels) t.destroy();
      server.closeAllConnections();
      server.close(() => r());
    });
  return { seen, kubeconfig, close };
}

describe("gateway: upstream down and back", () => {
  it("answers 503 Status quickly while kube-apiserver is unreachable and recovers when it returns", async () => {
    const r = await relay(cluster.ports.apiserver);
    const kubeconfig = join(env.dir, "relay.kubeconfig");
    const text = readFileSync(env.upstreamKubeconfig, "utf8").replace(
      cluster.server,
      `https://127.0.0.1:${r.port()}`,
    );
    await writeFile(kubeconfig, text);
    const args = gatewayArgs(env).map((a) => (a === env.upstreamKubeconfig ? kubeconfig : a));
    const gw = await startGatewayProcess(args);
    after(async () => {
      await gw.stop();
      await r.stop();
    });
    const carol = await gatewayUser(env, gw.url, "gw-carol");
    assert.equal((await kubectl(carol, "get", "--raw", "/version")).code, 0);

    await r.stop();
    const t0 = Date.now();
    const down = await rawRequest(gw.url, {
      path: "/version",
      ca: pem(env.servingCa.cert),
      cert: pem(join(env.dir, "gw-carol.crt")),
      key: pem(join(env.dir, "gw-carol.key")),
    });
    assert.equal(down.status, 503, down.body);
    assert.equal(JSON.parse(down.body).reason, "ServiceUnavailable");
    assert.ok(Date.now() - t0 < 6000, `503 took ${Date.now() - t0} ms`);

    await r.start();
    const t1 = Date.now();
    let back = 1;
    while (back !== 0 && Date.now() - t1 < 5000) {
      back = (await kubectl(carol, "get", "--raw", "/version", "--request-timeout=3s")).code;
    }
    assert.equal(back, 0, "recovered within 5 s of the apiserver's return");
  });
});

describe("gateway: upgrade tunnel and drain (loopback upstream)", async () => {
  const fake = await fakeApiserver();
  const gw = await startGatewayProcess([
    ...gatewayArgs(env).map((a) => (a === env.upstreamKubeconfig ? fake.kubeconfig : a)),
    "--no-token-review",
    "--shutdown-grace",
    "10s",
  ]);
  after(async () => {
    await gw.stop();
    await fake.close();
  });
  await gatewayUser(env, gw.url, "gw-dave", ["gw-ops"]);
  const tls = {
    ca: pem(env.servingCa.cert),
    cert: pem(join(env.dir, "gw-dave.crt")),
    key: pem(join(env.dir, "gw-dave.key")),
  };

  /** Sends a raw upgrade request through the gateway; returns the socket and what came back first. */
  function upgrade(path: string, extraHeaders = "", protocol = "SPDY/3.1") {
    const url = new URL(gw.url);
    return new Promise<{ socket: Socket; head: string }>((resolve, reject) => {
      const socket = tlsConnect(
        { host: url.hostname, port: Number(url.port), ...tls, ALPNProtocols: ["http/1.1"] },
        () => {
          socket.write(
            `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n` +
              `X-Stream-Protocol-Version: v4.channel.k8s.io\r\n${extraHeaders}\r\n`,
          );
        },
      );
      let buf = "";
      const onData = (d: Buffer) => {
        buf += d.toString("latin1");
        if (buf.includes("\r\n\r\n")) {
          socket.off("data", onData);
          resolve({ socket, head: buf });
        }
      };
      socket.on("data", onData);
      socket.on("error", reject);
    });
  }

  it("tunnels bytes both ways after the apiserver's 101, with the user impersonated", async () => {
    const { socket, head } = await upgrade(
      "/api/v1/namespaces/ns/pods/p/exec?command=sh&stdin=true",
      "Authorization: Bearer stolen\r\nImpersonate-User: gw-dave\r\nX-Remote-User: root\r\n",
    );
    assert.match(head, /^HTTP\/1\.1 403/, "a client Impersonate-User is judged even on upgrades");
    socket.destroy();

    const ok = await upgrade(
      "/api/v1/namespaces/ns/pods/p/exec?command=sh&stdin=true",
      "X-Remote-User: root\r\n",
    );
    assert.match(ok.head, /^HTTP\/1\.1 101/);
    assert.match(ok.head, /X-Stream-Protocol-Version: v4\.channel\.k8s\.io/i);
    const reply = await new Promise<string>((resolve) => {
      ok.socket.once("data", (d) => resolve(d.toString()));
      ok.socket.write("ping");
    });
    assert.equal(reply, "echo:ping");
    ok.socket.destroy();
    const sent = fake.seen.at(-1) as IncomingHttpHeaders;
    assert.equal(sent["impersonate-user"], "gw-dave");
    assert.equal(sent["impersonate-group"], "gw-ops");
    assert.equal(sent.authorization, "Bearer gateway-own-token");
    assert.equal(sent["x-remote-user"], undefined);
    assert.equal(sent.upgrade, "SPDY/3.1");

    // WebSocket (kubectl's default since 1.31) takes the same tunnel.
    const ws = await upgrade(
      "/api/v1/namespaces/ns/pods/p/portforward?ports=80",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n",
      "websocket",
    );
    assert.match(ws.head, /^HTTP\/1\.1 101/);
    const wsReply = await new Promise<string>((resolve) => {
      ws.socket.once("data", (d) => resolve(d.toString()));
      ws.socket.write("frame");
    });
    assert.equal(wsReply, "echo:frame");
    ws.socket.destroy();
    const wsSent = fake.seen.at(-1) as IncomingHttpHeaders;
    assert.equal(wsSent.upgrade, "websocket");
    assert.equal(wsSent["sec-websocket-protocol"], "v4.channel.k8s.io");
    assert.equal(wsSent["impersonate-user"], "gw-dave");
  });

  it("passes a refused upgrade back as it came and closes the connection", async () => {
    const { socket, head } = await upgrade("/api/v1/namespaces/ns/pods/refuse/exec?command=sh");
    assert.match(head, /^HTTP\/1\.1 403/);
    assert.match(head, /Connection: close/i);
    await new Promise((resolve) => socket.once("close", resolve));
  });

  it("in redirect mode answers 307 to the apiserver for exec, as the seed did", async () => {
    const redirecting = await startGatewayProcess([
      ...gatewayArgs(env).map((a) => (a === env.upstreamKubeconfig ? fake.kubeconfig : a)),
      "--no-token-review",
      "--interactive-mode",
      "redirect",
    ]);
    try {
      const r = await rawRequest(redirecting.url, {
        method: "POST",
        path: "/api/v1/namespaces/ns/pods/p/exec?command=sh",
        ...tls,
      });
      assert.equal(r.status, 307);
      assert.match(
        String(r.headers.location),
        /^https:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/ns\/pods\/p\/exec\?command=sh$/,
      );
    } finally {
      await redirecting.stop();
    }
  });

  it("reloads a rotated serving certificate from disk without a restart", async () => {
    const fingerprint = () => servedFingerprint(gw.url);
    const before = await fingerprint();
    const ca = await createCA("rotated-ca");
    const next = await createServerCert(ca, { cn: "localhost", ipAddresses: ["127.0.0.1"] });
    await copyFile(env.serving.cert, `${env.serving.cert}.orig`);
    await writeFile(env.serving.key, next.keyPem);
    await writeFile(env.serving.cert, next.certPem);
    const expected = new X509Certificate(next.certPem).fingerprint256;
    const t0 = Date.now();
    let now = before;
    while (now !== expected && Date.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 100));
      now = await fingerprint();
    }
    assert.equal(now, expected);
  });

  it("SIGTERM lets a request in flight finish, then exits 0", async () => {
    const url = new URL(gw.url);
    const inFlight = new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: "/api/v1/namespaces?delayMs=1500",
          ...tls,
          rejectUnauthorized: false,
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end();
    });
    await new Promise((r) => setTimeout(r, 300));
    const exit = gw.stop();
    assert.equal(await inFlight, 200);
    assert.equal(await exit, 0);
  });
});

describe("gateway: --insecure-http (loopback testing only)", () => {
  it("serves plain HTTP on loopback with bearer tokens only, and refuses any other address", async () => {
    const refused = await kubegate(
      "gateway",
      "--insecure-http",
      "--listen",
      "0.0.0.0:0",
      "--upstream-kubeconfig",
      env.upstreamKubeconfig,
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--insecure-http listens on loopback only/);
    const gw = await startGatewayProcess([
      "--insecure-http",
      "--listen",
      "127.0.0.1:0",
      "--metrics-listen",
      "127.0.0.1:0",
      "--upstream-kubeconfig",
      env.upstreamKubeconfig,
    ]);
    after(() => gw.stop());
    assert.match(gw.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(gw.logs(), /--insecure-http: serving plain HTTP/);
    const admin = (...a: string[]) => kubectl(cluster.adminKubeconfig, ...a);
    assert.equal((await admin("create", "serviceaccount", "gw-plain", "-n", "default")).code, 0);
    const token = (await admin("create", "token", "gw-plain", "-n", "default")).stdout.trim();
    const noAuth = await fetch(`${gw.url}/version`);
    assert.equal(noAuth.status, 401);
    const withToken = await fetch(`${gw.url}/apis/authentication.k8s.io/v1/selfsubjectreviews`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }),
    });
    assert.equal(withToken.status, 201);
    assert.equal(
      ((await withToken.json()) as { status: { userInfo: { username: string } } }).status.userInfo.username,
      "system:serviceaccount:default:gw-plain",
    );
  });
});
