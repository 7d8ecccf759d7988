// What the gateway, the aggregated API server and the webhook share as servers: serving certificates
// re-read from disk while running, listening, and an orderly shutdown. Each server keeps only what is
// its own (the gateway's drain, Fastify's routes).
import type { Server as NetServer, Socket } from "node:net";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import type { Logger } from "../observability/logger.ts";
import { checkServingPair } from "../pki/serving-pair.ts";

export interface TlsMaterial {
  cert: string;
  key: string;
  /** The CA bundle client certificates are checked against, when the server asks for one. */
  ca?: string | undefined;
}

interface SecureServer {
  setSecureContext(options: SecureContextOptions): void;
}

const withCa = (t: TlsMaterial): SecureContextOptions => ({
  cert: t.cert,
  key: t.key,
  ...(t.ca ? { ca: t.ca } : {}),
});

/**
 * Re-reads the serving certificate (and client CA) on a timer and swaps it in when it changed. A
 * half-rotated secret (a key that does not match its certificate, an unreadable file, a CA bundle that
 * does not parse) keeps the old material and says why: a rotation never takes a server down.
 */
export class TlsReloader {
  #current: TlsMaterial;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly o: {
      name: string;
      read: () => TlsMaterial;
      server: SecureServer;
      log: Logger;
      intervalMs?: number | undefined;
    },
    initial?: TlsMaterial,
  ) {
    this.#current = initial ?? o.read();
    this.#timer = setInterval(() => this.reload(), o.intervalMs ?? 10_000);
    this.#timer.unref();
  }

  get current(): TlsMaterial {
    return this.#current;
  }

  /** Reads now; true when new material was applied. */
  reload(): boolean {
    let next: TlsMaterial;
    try {
      next = this.o.read();
      const now = this.#current;
      if (next.cert === now.cert && next.key === now.key && (next.ca ?? "") === (now.ca ?? "")) return false;
      checkServingPair(next.cert, next.key);
      createSecureContext(withCa(next));
    } catch (err) {
      this.o.log.warn(
        { err: (err as Error).message, code: "KUBEGATE_TLS_RELOAD_SKIPPED" },
        `${this.o.name}: certificate reload skipped, the current ones stay`,
      );
      return false;
    }
    this.o.server.setSecureContext(withCa(next));
    this.#current = next;
    this.o.log.info(`${this.o.name}: serving certificate reloaded`);
    return true;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** The URL a listening server answers on. */
export function urlOf(server: NetServer, protocol: "http" | "https"): string {
  const a = server.address();
  if (a === null || typeof a === "string") return `${protocol}://${a ?? "unknown"}`;
  return `${protocol}://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
}

export async function listen(server: NetServer, host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

export interface ShutdownSteps {
  /** Stop accepting (default: close the server). Resolves when the server is closed. */
  stopAccepting?: () => Promise<void>;
  /** Let what is in progress finish (the gateway's drain); the connections left are then cut. */
  drain?: () => Promise<void>;
  /** What the server holds besides connections: informers, upstream pools. */
  release?: () => Promise<void>;
}

/** One server's connections and its orderly end, run once however often it is asked for. */
export class ServerShell {
  readonly sockets = new Set<Socket>();
  #shutdown: Promise<void> | undefined;

  constructor(
    readonly server: NetServer,
    private readonly reloader?: TlsReloader,
  ) {
    server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.once("close", () => this.sockets.delete(s));
    });
  }

  get closing(): boolean {
    return this.#shutdown !== undefined;
  }

  /** Stops reloading and accepting, drains, cuts the connections left, then releases the rest. */
  shutdown(steps: ShutdownSteps = {}): Promise<void> {
    this.#shutdown ??= (async () => {
      this.reloader?.stop();
      const closed = steps.stopAccepting
        ? steps.stopAccepting()
        : new Promise<void>((resolve) => this.server.close(() => resolve()));
      if (steps.drain) {
        await steps.drain();
        for (const s of this.sockets) s.destroy();
        await closed;
      } else {
        // Without a drain of its own, stopping to accept is what waits for requests (Fastify's close).
        await closed;
        for (const s of this.sockets) s.destroy();
      }
      await steps.release?.();
    })();
    return this.#shutdown;
  }
}
