import assert from "node:assert/strict";
import { createServer, type Server, type ServerResponse } from "node:http";
import { createSecureServer } from "node:http2";
import { type AddressInfo, connect, type Server as NetServer, type Socket } from "node:net";
import { describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { createCA, createServerCert } from "../../pki/certificates.ts";
import { EventBytes, eventSink, type WatchResponse } from "./watch-sink.ts";

/** A server for one exchange, and its client. */
interface Transport {
  server(handler: (req: unknown, res: ServerResponse) => void): NetServer;
  connect(port: number, onConnect: () => void): Socket;
}

/** The gateway's kind of server (HTTP/2 with HTTP/1.1 over TLS), and its client. */
async function tlsTransport(): Promise<Transport> {
  const ca = await createCA("watch-sink-test-ca");
  const pair = await createServerCert(ca, { cn: "localhost", ipAddresses: ["127.0.0.1"] });
  return {
    server: (handler: (req: unknown, res: ServerResponse) => void) =>
      createSecureServer({ allowHTTP1: true, cert: pair.certPem, key: pair.keyPem }, handler as never),
    connect: (port: number, onConnect: () => void): Socket =>
      tlsConnect({ port, host: "127.0.0.1", ca: ca.certPem, servername: "localhost" }, onConnect),
  };
}

const plainTransport: Transport = {
  server: (handler: (req: unknown, res: ServerResponse) => void) => createServer(handler),
  connect: (port: number, onConnect: () => void): Socket => connect(port, "127.0.0.1", onConnect),
};

const events = ['{"type":"ADDED","object":{"n":1}}\n', '{"type":"MODIFIED","object":{"n":2}}\n'].map(
  (t) => new EventBytes(Buffer.from(t)),
);

/** Raw bytes of one HTTP exchange whose response the gateway's watch code writes through a sink. */
async function rawExchange(
  requestLine: string,
  transport: Transport = plainTransport,
): Promise<{ raw: string; responseWrites: number }> {
  let responseWrites = 0;
  const server = transport.server((_req, res: ServerResponse) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.flushHeaders();
    const write = res.write.bind(res) as (c: Uint8Array) => boolean;
    res.write = ((c: Uint8Array) => {
      responseWrites++;
      return write(c);
    }) as typeof res.write;
    const sink = eventSink(res);
    for (const e of events) sink.write(e);
    // The same shared bytes a second time, as for the next watcher.
    sink.write(events[0] as EventBytes);
    setTimeout(() => res.end(), 20);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  try {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = transport.connect(port, () => socket.write(`${requestLine}\r\nHost: x\r\n\r\n`));
      let data = "";
      socket.setEncoding("latin1");
      socket.on("data", (d: string) => {
        data += d;
        // HTTP/1.1 keeps the connection: the last chunk ends the body.
        if (data.endsWith("0\r\n\r\n")) socket.end();
      });
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
    });
    return { raw, responseWrites };
  } finally {
    (server as Server).closeAllConnections?.();
    server.close();
  }
}

describe("eventSink", () => {
  it("writes HTTP/1.1 watch events as whole chunks, and res.end() still closes the body", async () => {
    const { raw, responseWrites } = await rawExchange("GET /api/v1/namespaces?watch=1 HTTP/1.1");
    assert.equal(responseWrites, 0, "the framed chunks go straight to the socket");
    const at = raw.indexOf("\r\n\r\n");
    const head = raw.slice(0, at);
    const body = raw.slice(at + 4);
    assert.match(head, /^HTTP\/1\.1 200 OK/);
    assert.match(head, /transfer-encoding: chunked/i);
    const lines = [events[0], events[1], events[0]].map((e) => (e as EventBytes).line.toString("latin1"));
    const expected = `${lines.map((l) => `${l.length.toString(16)}\r\n${l}\r\n`).join("")}0\r\n\r\n`;
    assert.equal(body, expected);
  });

  it("takes the socket path over TLS too, where the headers are still pending on the socket", async () => {
    const { raw, responseWrites } = await rawExchange(
      "GET /api/v1/namespaces?watch=1 HTTP/1.1",
      await tlsTransport(),
    );
    assert.equal(responseWrites, 0, "the framed chunks go straight to the socket");
    const lines = [events[0], events[1], events[0]].map((e) => (e as EventBytes).line.toString("latin1"));
    const body = raw.slice(raw.indexOf("\r\n\r\n") + 4);
    assert.equal(body, `${lines.map((l) => `${l.length.toString(16)}\r\n${l}\r\n`).join("")}0\r\n\r\n`);
  });

  it("falls back to the response's own write where there is no chunking (HTTP/1.0)", async () => {
    const { raw, responseWrites } = await rawExchange("GET /api/v1/namespaces?watch=1 HTTP/1.0");
    assert.equal(responseWrites, 3);
    const body = raw.slice(raw.indexOf("\r\n\r\n") + 4);
    assert.equal(body, [events[0], events[1], events[0]].map((e) => (e as EventBytes).line).join(""));
  });

  it("writes through the response when it has no socket of its own (HTTP/2, fakes)", () => {
    const written: (string | Uint8Array)[] = [];
    const res: WatchResponse = {
      writeHead: () => undefined,
      write: (c) => {
        written.push(c);
        return true;
      },
      end: () => undefined,
      once: () => undefined,
      writableLength: 0,
    };
    const sink = eventSink(res);
    sink.write(events[0] as EventBytes);
    assert.deepEqual(written, [(events[0] as EventBytes).line]);
    assert.equal(sink.buffered, 0);
  });

  it("frames a chunk once and reuses it", () => {
    const e = new EventBytes(Buffer.from("0123456789abcdef\n"));
    assert.equal(e.chunk.toString(), "11\r\n0123456789abcdef\n\r\n");
    assert.equal(e.chunk, e.chunk);
  });
});
