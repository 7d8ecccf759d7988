import assert from "node:assert/strict";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { pino } from "pino";
import { proxyHeaderV1, proxyHeaderV2 } from "./proxy-protocol.ts";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";

const log = pino({ level: "silent" });

/** An upstream that records everything it receives per connection and answers each chunk with "ack:". */
async function recordingUpstream() {
  const received: Buffer[][] = [];
  const server: Server = createServer({ allowHalfOpen: true }, (s) => {
    const chunks: Buffer[] = [];
    received.push(chunks);
    s.on("data", (d) => {
      chunks.push(d);
      s.write(Buffer.concat([Buffer.from("ack:"), d]));
    });
    // Half-close: once the client is done sending, answer once more and finish.
    s.on("end", () => s.end("bye"));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as AddressInfo).port, received };
}

function proxyOn(port: number, over: Partial<Parameters<typeof startTcpProxy>[0]> = {}) {
  return startTcpProxy({
    listen: { host: "127.0.0.1", port: 0 },
    upstream: { host: "127.0.0.1", port },
    maxConnections: 100,
    connectTimeoutMs: 2000,
    metricsListen: { host: "127.0.0.1", port: 0 },
    shutdownGraceMs: 500,
    log,
    ...over,
  });
}

/** Connects, sends `data`, half-closes, and collects everything until the proxy closes. */
function exchange(p: TcpProxy, data: string): Promise<{ text: string; local: AddressInfo }> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect({ host: p.address.host, port: p.address.port }, () => {
      const local = { address: s.localAddress, port: s.localPort, family: "IPv4" } as AddressInfo;
      s.end(data);
      const parts: Buffer[] = [];
      s.on("data", (d) => parts.push(d));
      s.on("close", () => resolve({ text: Buffer.concat(parts).toString(), local }));
    });
    s.on("error", reject);
  });
}

const until = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("apiserver-proxy (TCP passthrough)", async () => {
  const up = await recordingUpstream();
  after(() => up.server.close());

  it("passes bytes through untouched both ways, half-close included", async () => {
    const p = await proxyOn(up.port);
    try {
      const r = await exchange(p, "\x16\x03\x01 not really a ClientHello");
      assert.equal(r.text, "ack:\x16\x03\x01 not really a ClientHello" + "bye");
      assert.equal(
        Buffer.concat(up.received.at(-1) ?? []).toString(),
        "\x16\x03\x01 not really a ClientHello",
      );
      await until(() => p.active() === 0);
    } finally {
      await p.close();
    }
  });

  for (const version of ["v1", "v2"] as const) {
    it(`PROXY protocol ${version}: the header comes first, with the client's and the listener's address`, async () => {
      const p = await proxyOn(up.port, { proxyProtocol: version });
      try {
        const r = await exchange(p, "payload");
        const got = Buffer.concat(up.received.at(-1) ?? []);
        const conn = {
          source: { address: "127.0.0.1", port: r.local.port },
          destination: { address: "127.0.0.1", port: p.address.port },
        };
        const header = version === "v1" ? proxyHeaderV1(conn) : proxyHeaderV2(conn);
        assert.deepEqual(got.subarray(0, header.length), header);
        assert.equal(got.subarray(header.length).toString(), "payload");
        assert.match(r.text, /payload/);
      } finally {
        await p.close();
      }
    });
  }

  it("closes connections beyond --max-connections at once and counts them", async () => {
    const p = await proxyOn(up.port, { maxConnections: 1 });
    try {
      const first = connect({ host: "127.0.0.1", port: p.address.port });
      await new Promise((r) => first.once("connect", r));
      await until(() => p.active() === 1);
      const second = connect({ host: "127.0.0.1", port: p.address.port });
      const ended = await new Promise<string>((resolve) => {
        second.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
        second.on("close", () => resolve("closed"));
      });
      assert.ok(["ECONNRESET", "closed"].includes(ended), ended);
      first.destroy();
      const metrics = await (await fetch(`${p.metricsUrl}/metrics`)).text();
      assert.match(metrics, /kubegate_apiserver_proxy_connections_total\{result="rejected"\} 1/);
      assert.match(metrics, /kubegate_apiserver_proxy_connections_total\{result="proxied"\} 1/);
    } finally {
      await p.close();
    }
  });

  it("an unreachable upstream closes the client and is counted; /readyz says so, /healthz stays ok", async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const p = await proxyOn(port);
    try {
      // Closed without a byte of answer (a reset, as the client's data was never read).
      const r = await exchange(p, "hello").catch((e: NodeJS.ErrnoException) => ({ text: e.code }));
      assert.ok(r.text === "" || r.text === "ECONNRESET", r.text);
      assert.equal((await fetch(`${p.metricsUrl}/healthz`)).status, 200);
      const ready = await fetch(`${p.metricsUrl}/readyz`);
      assert.equal(ready.status, 503);
      assert.match(await ready.text(), /unreachable/);
      assert.match(
        await (await fetch(`${p.metricsUrl}/metrics`)).text(),
        /kubegate_apiserver_proxy_connections_total\{result="upstream_failed"\} 1/,
      );
    } finally {
      await p.close();
    }
  });

  it("/readyz is ok with a reachable upstream; bytes are counted; unknown paths are 404", async () => {
    const p = await proxyOn(up.port);
    try {
      await exchange(p, "12345");
      assert.equal((await fetch(`${p.metricsUrl}/readyz`)).status, 200);
      assert.equal((await fetch(`${p.metricsUrl}/nope`)).status, 404);
      await until(() => p.active() === 0);
      const metrics = await (await fetch(`${p.metricsUrl}/metrics`)).text();
      assert.match(metrics, /kubegate_apiserver_proxy_bytes_total\{direction="upstream"\} 5/);
      assert.match(metrics, /kubegate_apiserver_proxy_bytes_total\{direction="downstream"\} 12/);
    } finally {
      await p.close();
    }
  });

  it("close() waits for open connections up to the grace period, then cuts them", async () => {
    const p = await proxyOn(up.port, { shutdownGraceMs: 200 });
    const s = connect({ host: "127.0.0.1", port: p.address.port });
    await new Promise((r) => s.once("connect", r));
    const closed = new Promise((r) => s.once("close", r));
    s.on("error", () => undefined);
    const t0 = Date.now();
    await p.close();
    await closed;
    const took = Date.now() - t0;
    assert.ok(took >= 150 && took < 2000, `took ${took} ms`);
  });
});
