import assert from "node:assert/strict";
import { createServer } from "node:http";
import { connect, type Socket } from "node:net";
import { describe, it } from "node:test";
import { guardConnections } from "./connection-guard.ts";

async function withServer(
  limits: Parameters<typeof guardConnections>[1],
  run: (port: number) => Promise<void>,
) {
  const server = createServer((_req, res) => res.end("ok"));
  guardConnections(server, limits);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    await run((server.address() as { port: number }).port);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const closedWithin = (s: Socket, ms: number) =>
  // Reading is what lets the client see the server close.
  s.resume() &&
  new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once("close", () => {
      clearTimeout(t);
      resolve(true);
    });
  });

describe("connection guard", () => {
  it("closes a connection that trickles its headers past the deadline", async () => {
    await withServer({ headerTimeoutMs: 300, idleTimeoutMs: 10_000, maxPerAddress: 0 }, async (port) => {
      const s = connect(port, "127.0.0.1");
      s.on("error", () => {});
      s.write("GET / HTTP/1.1\r\n");
      const trickle = setInterval(() => s.write("X"), 50);
      const closed = await closedWithin(s, 2000);
      clearInterval(trickle);
      assert.equal(closed, true);
    });
  });

  it("closes idle keep-alive connections, and never one with a request in progress", async () => {
    await withServer({ headerTimeoutMs: 300, idleTimeoutMs: 300, maxPerAddress: 0 }, async (port) => {
      const s = connect(port, "127.0.0.1");
      s.on("error", () => {});
      s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal(await closedWithin(s, 2000), true);
    });
  });

  it("holds at most N connections per client address", async () => {
    await withServer({ headerTimeoutMs: 5000, idleTimeoutMs: 5000, maxPerAddress: 3 }, async (port) => {
      const sockets = Array.from({ length: 5 }, () => connect(port, "127.0.0.1").on("error", () => {}));
      const closed = await Promise.all(sockets.map((s) => closedWithin(s, 1000)));
      assert.equal(closed.filter(Boolean).length, 2);
      for (const s of sockets) s.destroy();
    });
  });
});
