import { type IncomingMessage, request } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Duplex } from "node:stream";
import { status, toStatus } from "../status/status.ts";
import { admit } from "./admit.ts";
import { record } from "./record.ts";
import { sendSocketStatus, writeSocketHead as writeHead } from "./respond.ts";
import { isInteractive, redirectLocation } from "./routes.ts";
import type { GatewayContext, Outcome } from "./types.ts";
import { userHeaders } from "./upstream-client.ts";

const endWithStatus = (socket: Duplex, code: number, message: string) =>
  sendSocketStatus(socket, status(code, message));

/** Hop-by-hop response headers of a refused upgrade; the tunnel closes after the reply, so say so. */
const DROP_ON_REFUSAL = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade"]);

/**
 * exec, attach, port-forward (SPDY or WebSocket): authenticated and impersonated like any request, then
 * the two sockets are joined after the apiserver's 101. Anything but a 101 is passed back as it came
 * and the connection closed, so no second request can ride the gateway's credentials.
 */
export async function handleUpgrade(
  ctx: GatewayContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  const receivedAt = new Date();
  const started = performance.now();
  const outcome: Outcome = { code: 0 };
  socket.on("error", () => socket.destroy());
  const abort = new AbortController();
  let release: (() => void) | undefined;
  try {
    const { info, headers, user } = await admit(ctx, req, outcome);
    if (!headers.upgrade) {
      outcome.code = 400;
      endWithStatus(socket, 400, "upgrade request without an Upgrade header");
      return;
    }
    if (isInteractive(info) && ctx.interactiveMode === "redirect") {
      outcome.code = 307;
      writeHead(socket, 307, [
        "Location",
        redirectLocation(ctx.upstream.connection.server, req.url),
        "Content-Length",
        "0",
        "Connection",
        "close",
      ]);
      socket.end();
      return;
    }
    release = ctx.inflight.enter(true, abort, user.name);
    const server = ctx.upstream.connection.server;
    const options = {
      method: req.method,
      host: server.hostname.replace(/^\[|\]$/g, ""),
      port: server.port || (server.protocol === "https:" ? 443 : 80),
      path: req.url,
      headers: {
        ...userHeaders(ctx, req, headers, user),
        connection: "Upgrade",
        upgrade: headers.upgrade,
      },
      signal: abort.signal,
    };
    const upstreamReq =
      server.protocol === "https:"
        ? httpsRequest({ ...options, agent: ctx.identity.upgradeAgent })
        : request(options);
    outcome.code = await new Promise<number>((resolve) => {
      upstreamReq.on("upgrade", (res, upstreamSocket, upstreamHead) => {
        // Interactive traffic is small writes (a key press, a line): Nagle's algorithm would hold each
        // one back for the peer's delayed ACK, tens of milliseconds per round trip.
        (socket as Duplex & { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
        upstreamSocket.setNoDelay(true);
        writeHead(socket, 101, res.rawHeaders, res.statusMessage);
        if (upstreamHead.length) socket.write(upstreamHead);
        if (head.length) upstreamSocket.write(head);
        socket.pipe(upstreamSocket);
        upstreamSocket.pipe(socket);
        const close = () => {
          socket.destroy();
          upstreamSocket.destroy();
          resolve(101);
        };
        socket.on("close", close);
        upstreamSocket.on("close", close);
        upstreamSocket.on("error", close);
        abort.signal.addEventListener("abort", close);
      });
      upstreamReq.on("response", (res) => {
        const raw: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          if (!DROP_ON_REFUSAL.has((res.rawHeaders[i] as string).toLowerCase())) {
            raw.push(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
          }
        }
        writeHead(socket, res.statusCode ?? 502, [...raw, "Connection", "close"], res.statusMessage);
        res.pipe(socket);
        res.on("end", () => resolve(res.statusCode ?? 502));
        res.on("error", () => resolve(res.statusCode ?? 502));
      });
      upstreamReq.on("error", () => {
        if (!socket.destroyed && !abort.signal.aborted)
          endWithStatus(socket, 503, "kube-apiserver is unavailable; retry shortly");
        resolve(503);
      });
      socket.on("close", () => upstreamReq.destroy());
      upstreamReq.end();
    });
  } catch (err) {
    const s = toStatus(err);
    outcome.code = s.code;
    if (!socket.destroyed) sendSocketStatus(socket, s);
  } finally {
    release?.();
    record(ctx, req, outcome, receivedAt, started);
  }
}
