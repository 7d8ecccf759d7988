import type { Duplex } from "node:stream";
import { status } from "../status/status.ts";

/**
 * Node's HTTP parser refused a request before the pipeline could see it (malformed framing, smuggling
 * attempts, headers over the size limit). Answer with a Kubernetes Status like every other refusal,
 * then close: the connection's framing can no longer be trusted.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || err.code === "ECONNRESET") {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
  const code = tooLarge ? 431 : 400;
  const body = JSON.stringify(
    status(code, tooLarge ? "request headers are too large" : "the request is not valid HTTP/1.1"),
  );
  const phrase = tooLarge ? "Request Header Fields Too Large" : "Bad Request";
  socket.end(
    `HTTP/1.1 ${code} ${phrase}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
