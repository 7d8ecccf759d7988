import type { Logger } from "../observability/logger.ts";

/**
 * Resolves with the first SIGTERM or SIGINT. Call it before announcing readiness: a process that prints
 * "listening" first and registers its handlers after can be killed by a signal sent the moment a fast
 * reader sees that line (the default action of both signals is to terminate). The handlers stay
 * registered, so a second signal during shutdown is ignored rather than fatal.
 */
export function signalled(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.on("SIGTERM", () => resolve("SIGTERM"));
    process.on("SIGINT", () => resolve("SIGINT"));
  });
}

/**
 * The tail every server command shares: announce the bound address (tests and scripts read it; port 0
 * means any free port), wait for SIGTERM/SIGINT, let the server drain and close, then exit once the
 * logs are flushed rather than wait for stray timers of libraries.
 */
export async function serveUntilSignalled(
  log: Logger,
  listeningLine: string,
  stopSignal: Promise<NodeJS.Signals>,
  close: () => Promise<void>,
): Promise<void> {
  console.log(listeningLine);
  log.info({ signal: await stopSignal }, "shutting down: draining requests in flight");
  await close();
  log.info("stopped");
  log.flush(() => process.exit(0));
}
