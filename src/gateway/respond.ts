// The one responder: every answer the gateway writes itself (a Status, JSON it built or filtered, an
// upstream answer it read whole, a redirect, the head of a stream) goes out through these functions.
// Answers the apiserver streams back are written by the relay (upstream-relay.ts).
import type { ServerResponse } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { Status } from "../status/status.ts";
import type { Answer, ClientResponse } from "./types.ts";

/** Both response kinds take the same arguments; TypeScript cannot call the union directly. */
function writeHead(res: ClientResponse, code: number, headers: Record<string, string | number>): void {
  (res as ServerResponse).writeHead(code, headers);
}

/** Sends a text body whole; answers the code sent. */
export function sendText(res: ClientResponse, code: number, contentType: string, text: string): number {
  writeHead(res, code, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
  res.end(text);
  return code;
}

export function sendJson(res: ClientResponse, code: number, body: unknown, contentType = "application/json") {
  return sendText(res, code, contentType, JSON.stringify(body));
}

/** An upstream answer read whole, passed on as it came. */
export function sendAnswer(res: ClientResponse, a: Answer): number {
  return sendText(res, a.code, a.contentType, a.text);
}

export function sendStatus(res: ClientResponse, s: Status): number {
  if (res.headersSent) {
    // Too late for a Status: cut the stream so the client sees an error, not a silent truncation.
    res.destroy();
    return s.code;
  }
  return sendJson(res, s.code, s);
}

export function sendRedirect(res: ClientResponse, location: string): number {
  writeHead(res, 307, { location, "content-length": 0 });
  res.end();
  return 307;
}

/**
 * Resolves when a stream the gateway writes may take more (drain), or when its client is gone (close),
 * whichever comes first: a client that stops reading, then leaves, never holds the writer.
 */
export function drainedOrClosed(res: ClientResponse): Promise<void> {
  return new Promise<void>((r) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      r();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

/** The head of a stream the gateway writes itself (a filtered watch), sent at once. */
export function startStream(res: ClientResponse, contentType: string): void {
  writeHead(res, 200, { "content-type": contentType });
  (res as ServerResponse).flushHeaders?.();
}

/** An HTTP/1.1 response head on a raw socket (upgrade requests have no ServerResponse). */
export function writeSocketHead(
  socket: Duplex,
  code: number,
  rawHeaders: readonly string[],
  message?: string,
): void {
  let head = `HTTP/1.1 ${code} ${message ?? STATUS_CODES[code] ?? ""}\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  socket.write(`${head}\r\n`);
}

/** A Status on a raw socket, which is then closed. */
export function sendSocketStatus(socket: Duplex, s: Status): number {
  const body = JSON.stringify(s);
  writeSocketHead(socket, s.code, [
    "Content-Type",
    "application/json",
    "Content-Length",
    String(Buffer.byteLength(body)),
    "Connection",
    "close",
  ]);
  socket.end(body);
  return s.code;
}
