// Connections that hold the gateway without asking anything. Node's header and request timeouts do not
// apply to the HTTP/1.1 side of an HTTP/2 server (allowHTTP1), so the gateway keeps its own deadlines,
// as kube-apiserver's Go server does (ReadHeaderTimeout 32 s, IdleTimeout 90 s):
//   - a new connection must finish its TLS handshake and the headers of a first request (or, over
//     HTTP/2, open a first stream) within `headerTimeoutMs`;
//   - a connection with no request in progress (HTTP/1.1) or no open stream (HTTP/2) is closed after
//     `idleTimeoutMs`;
//   - one client address holds at most `maxPerAddress` connections; more are closed on accept.
// A request in progress (a watch, a tunnel) is never cut by these timers.

import type { Server as HttpServer } from "node:http";
import type { Http2SecureServer, Http2Session } from "node:http2";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";

export interface ConnectionLimits {
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  /** 0: no limit. */
  maxPerAddress: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = {
  headerTimeoutMs: 32_000,
  idleTimeoutMs: 90_000,
  maxPerAddress: 512,
};

interface Tracked {
  timer?: NodeJS.Timeout | undefined;
  /** HTTP/1.1 requests in progress on the connection. */
  active: number;
}

export interface ConnectionGuard {
  /** Connections open per address right now (for tests and metrics). */
  readonly perAddress: ReadonlyMap<string, number>;
  /** Connections closed by a deadline or the per-address limit, by reason. */
  readonly closed: { header: number; idle: number; limit: number };
}

export function guardConnections(
  server: Http2SecureServer | HttpServer,
  limits: ConnectionLimits,
): ConnectionGuard {
  const perAddress = new Map<string, number>();
  const closed = { header: 0, idle: 0, limit: 0 };
  const tracked = new WeakMap<Socket, Tracked>();

  const arm = (socket: Socket, ms: number, reason: "header" | "idle") => {
    const t = tracked.get(socket);
    if (!t || ms <= 0) return;
    clearTimeout(t.timer);
    t.timer = setTimeout(() => {
      closed[reason]++;
      socket.destroy();
    }, ms);
    t.timer.unref();
  };
  const disarm = (socket: Socket | undefined) => {
    const t = socket ? tracked.get(socket) : undefined;
    if (t) {
      clearTimeout(t.timer);
      t.timer = undefined;
    }
  };

  server.on("connection", (socket: Socket) => {
    const address = socket.remoteAddress ?? "";
    const held = perAddress.get(address) ?? 0;
    if (limits.maxPerAddress > 0 && held >= limits.maxPerAddress) {
      closed.limit++;
      socket.destroy();
      return;
    }
    perAddress.set(address, held + 1);
    tracked.set(socket, { active: 0 });
    arm(socket, limits.headerTimeoutMs, "header");
    socket.once("close", () => {
      disarm(socket);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
  });

  // Over TLS the request arrives on the TLS socket; its deadline is the one set on the TCP socket.
  const raw = (s: Socket | undefined): Socket | undefined =>
    s && !tracked.has(s) ? ((s as TLSSocket & { _parent?: Socket })._parent ?? s) : s;

  // HTTP/2: the connection is idle whenever no stream is open (a watch is an open stream).
  server.on("session", (session: Http2Session) => {
    const s = raw(session.socket as Socket);
    let open = 0;
    session.on("stream", (stream: { once: (e: string, f: () => void) => void }) => {
      open++;
      if (s) disarm(s);
      stream.once("close", () => {
        open--;
        if (open === 0 && s && !s.destroyed) arm(s, limits.idleTimeoutMs, "idle");
      });
    });
  });
  const started = (socket: Socket | undefined) => {
    const s = raw(socket);
    const t = s ? tracked.get(s) : undefined;
    if (!s || !t) return undefined;
    t.active++;
    disarm(s);
    return () => {
      t.active--;
      if (t.active === 0 && !s.destroyed) arm(s, limits.idleTimeoutMs, "idle");
    };
  };
  server.prependListener(
    "request",
    (
      req: { httpVersionMajor?: number; socket: Socket },
      res: { once: (e: string, f: () => void) => void },
    ) => {
      if (req.httpVersionMajor === 2) return;
      const done = started(req.socket);
      if (done) res.once("close", done);
    },
  );
  server.prependListener("upgrade", (req: { socket: Socket }) => {
    started(req.socket);
  });
  return { perAddress, closed };
}
