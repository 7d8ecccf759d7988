import assert from "node:assert/strict";
import { createServer, get, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { relayBody } from "./relay-body.ts";

/** A server whose one response is handed to `serve`; the client's view comes back with its outcome. */
async function exchange(
  serve: (res: ServerResponse, req: IncomingMessage) => Promise<void>,
  client: (res: IncomingMessage) => void = () => undefined,
): Promise<{ body: string; aborted: boolean; served: Promise<void> }> {
  let served!: Promise<void>;
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    served = serve(res, req);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve, reject) => {
      get({ host: "127.0.0.1", port, agent: false }, (res) => {
        let body = "";
        let aborted = false;
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          body += d;
        });
        res.on("aborted", () => (aborted = true));
        res.on("error", () => (aborted = true));
        res.on("close", () => resolve({ body, aborted: aborted || !res.complete, served }));
        client(res);
      }).on("error", reject);
    });
  } finally {
    server.close();
    server.closeAllConnections();
  }
}

describe("relayBody", () => {
  it("sends the whole body, ends the response and resolves", async () => {
    const body = new PassThrough();
    const r = await exchange(async (res) => {
      const done = relayBody(body, res);
      body.write("one,");
      setImmediate(() => body.end("two"));
      await done;
    });
    assert.equal(r.body, "one,two");
    assert.equal(r.aborted, false);
    await r.served;
  });

  it("cuts the response when the upstream body breaks mid-way, and still resolves", async () => {
    const body = new PassThrough();
    const r = await exchange(async (res) => {
      const done = relayBody(body, res);
      body.write("partial");
      setTimeout(() => body.destroy(new Error("upstream reset")), 20);
      await done;
    });
    assert.equal(r.body, "partial");
    assert.equal(r.aborted, true, "the client must see a broken response, not a complete one");
    await r.served;
  });

  it("destroys the upstream body when the client leaves, and resolves", async () => {
    // Like undici's body: destroyed before its end, it emits an AbortError, which must be handled.
    const body = new PassThrough({
      destroy: (err, cb) =>
        cb(err ?? Object.assign(new Error("Request aborted"), { code: "UND_ERR_ABORTED" })),
    });
    let relayed: Promise<void> | undefined;
    await exchange(
      async (res) => {
        relayed = relayBody(body, res);
        body.write("first");
        await relayed;
      },
      (res) => res.once("data", () => res.destroy()),
    );
    await relayed;
    assert.equal(body.destroyed, true);
  });

  it("destroys the body at once when the response is already closed", async () => {
    const body = new PassThrough();
    const r = await exchange(async (res) => {
      res.flushHeaders();
      res.destroy();
      await new Promise((resolve) => setImmediate(resolve));
      await relayBody(body, res);
    });
    await r.served;
    assert.equal(body.destroyed, true);
  });
});
