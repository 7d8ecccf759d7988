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
