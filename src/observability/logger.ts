import { pino } from "pino";

export type Logger = pino.Logger;

/**
 * JSON logs on stderr. Redaction is a second line of defence: no code path logs credentials, but a
 * header object or an error carrying one is censored anyway.
 */
export function createLogger(level = process.env.KUBEGATE_LOG_LEVEL ?? "info"): Logger {
  return pino(
    {
      level,
      base: { component: "kubegate" },
      redact: {
        paths: [
          "*.authorization",
          "*.Authorization",
          "*.headers.authorization",
          "*.token",
          "*.key",
          "*.password",
          "*.cookie",
        ],
        censor: "[redacted]",
      },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
