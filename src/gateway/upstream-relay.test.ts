import assert from "node:assert/strict";
import { once } from "node:events";
import {
  createServer,
  get,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { Pool } from "undici";
import { StatusError } from "../status/status.ts";
import { CLIENT_CLOSED, UpstreamRelay } from "./upstream-relay.ts";

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function stop(server: Server): void {
  server.closeAllConnections();
  server.close();
}

/**
 * An upstream served by `upstream`, a front server relaying every request to it, and one client
 * request through the front. `client` may act on the client's response; `onRelay` sees each relay.
 */
async function through(
  upstream: (req: IncomingMessage, res: ServerResponse) => void,
  client: (res: IncomingMessage) => void = () => undefined,
  onRelay: (relay: UpstreamRelay, res: ServerResponse) => void = () => undefined,
  path = "/",
): Promise<{ status: number; body: string; aborted: boolean; outcome: Promise<number> }> {
  const up = createServer(upstream);
  const pool = new Pool(await listen(up), { bodyTimeout: 0 });
  let outcome!: Promise<number>;
  const front = createServer((req, res) => {
    const relay = new UpstreamRelay(res, true);
    onRelay(relay, res);
    outcome = relay.send(pool, {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers: {},
      body: null,
    });
    outcome.catch(() => undefined);
  });
  const frontUrl = await listen(front);
  try {
    return await new Promise((resolve, reject) => {
      get(`${frontUrl}${path}`, { agent: false }, (res) => {
        let body = "";
        let aborted = false;
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          body += d;
        });
        res.on("aborted", () => (aborted = true));
        res.on("error", () => (aborted = true));
        res.on("close", () =>
          resolve({ status: res.statusCode ?? 0, body, aborted: aborted || !res.complete, outcome }),
        );
        client(res);
      }).on("error", reject);
    });
  } finally {
    await outcome?.catch(() => undefined);
    stop(front);
    stop(up);
    await pool.close();
  }
}

describe("UpstreamRelay", { timeout: 20_000 }, () => {
  it("relays status, headers and the whole body, and resolves with the status code", async () => {
    const r = await through((_req, res) => {
      res.writeHead(201, { "content-type": "text/plain", "x-kept": "yes", connection: "keep-alive" });
      res.write("one,");
      setImmediate(() => res.end("two"));
    });
    assert.equal(r.status, 201);
    assert.equal(r.body, "one,two");
    assert.equal(r.aborted, false);
    assert.equal(await r.outcome, 201);
  });

  it("keeps a large body intact and buffers little while the client reads slowly", async () => {
    const chunk = "x".repeat(64 * 1024);
    const chunks = 128; // 8 MiB: more than the socket buffers on the way hold
    let maxBuffered = 0;
    const r = await through(
      (_req, res) => {
        res.writeHead(200, { "content-type": "text/plain" });
        let i = 0;
        const more = () => {
          while (i < chunks) {
            i++;
            if (!res.write(chunk)) {
              res.once("drain", more);
              return;
            }
          }
          res.end();
        };
        more();
      },
      (res) => {
        res.pause();
        setTimeout(() => res.resume(), 300);
      },
      (_relay, res) => {
        const write = res.write.bind(res) as (c: Buffer) => boolean;
        (res as { write: (c: Buffer) => boolean }).write = (c) => {
          const ok = write(c);
          maxBuffered = Math.max(maxBuffered, res.writableLength);
          return ok;
        };
      },
    );
    assert.equal(r.body.length, chunk.length * chunks);
    assert.equal(r.aborted, false);
    // Without backpressure the relay would hold most of the 8 MiB in the response's buffer.
    assert.ok(maxBuffered < 1024 * 1024, `the relay buffered ${maxBuffered} bytes`);
    assert.equal(await r.outcome, 200);
  });

  it("cuts the response when the upstream breaks mid-way, and still resolves", async () => {
    const r = await through((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("partial");
      setTimeout(() => res.destroy(), 20);
    });
    assert.equal(r.body, "partial");
    assert.equal(r.aborted, true, "the client must see a broken response, not a complete one");
    assert.equal(await r.outcome, 200);
  });

  it("cancels the upstream call when the client leaves mid-stream", async () => {
    let upstreamClosed!: Promise<unknown>;
    const r = await through(
      (req, res) => {
        upstreamClosed = once(req.socket, "close");
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"type":"ADDED"}\n');
      },
      (res) => res.once("data", () => res.destroy()),
    );
    assert.equal(await r.outcome, 200);
    await upstreamClosed;
  });

  it("rejects with a 503 Status when kube-apiserver cannot be reached", async () => {
    const closed = createServer();
    const url = await listen(closed);
    stop(closed);
    const pool = new Pool(url);
    const front = createServer((_req, res) => {
      new UpstreamRelay(res, false).send(pool, { method: "GET", path: "/", headers: {}, body: null }).then(
        () => res.end("resolved"),
        (err: unknown) => {
          res.writeHead(err instanceof StatusError ? err.status.code : 500);
          res.end(err instanceof StatusError ? err.status.message : String(err));
        },
      );
    });
    const frontUrl = await listen(front);
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        get(frontUrl, { agent: false }, (res) => {
          let text = "";
          res.on("data", (d) => {
            text += d;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        }).on("error", reject);
      });
      assert.equal(status, 503);
      assert.match(body, /kube-apiserver is unavailable \(ECONNREFUSED\)/);
    } finally {
      stop(front);
      await pool.close();
    }
  });

  it("abort() (shutdown) cuts a streaming response and the upstream call", async () => {
    let upstreamClosed!: Promise<unknown>;
    let relay!: UpstreamRelay;
    const r = await through(
      (req, res) => {
        upstreamClosed = once(req.socket, "close");
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"type":"ADDED"}\n');
      },
      (res) => res.once("data", () => relay.abort()),
      (rl) => {
        relay = rl;
      },
    );
    assert.equal(r.aborted, true);
    assert.equal(await r.outcome, 200);
    await upstreamClosed;
  });
});

describe("UpstreamRelay, client gone before the answer", { timeout: 20_000 }, () => {
  it("resolves 499 at once and cancels the queued or sent call", async () => {
    let upstreamClosed!: Promise<unknown>;
    let arrived!: () => void;
    const upstreamGotIt = new Promise<void>((r) => {
      arrived = r;
    });
    const up = createServer((req) => {
      upstreamClosed = once(req.socket, "close");
      arrived();
    });
    const pool = new Pool(await listen(up));
    let outcome!: Promise<number>;
    const front = createServer((_req, res) => {
      outcome = new UpstreamRelay(res, false).send(pool, {
        method: "GET",
        path: "/",
        headers: {},
        body: null,
      });
    });
    const frontUrl = await listen(front);
    try {
      const req = request(frontUrl, { agent: false });
      req.on("error", () => undefined);
      req.end();
      await upstreamGotIt;
      req.destroy();
      assert.equal(await outcome, CLIENT_CLOSED);
      await upstreamClosed;
    } finally {
      stop(front);
      stop(up);
      await pool.close();
    }
  });
});
