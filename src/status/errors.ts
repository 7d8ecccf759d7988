import type { ErrorCode } from "./codes.ts";

/**
 * An error whose message is meant for the person running kubegate: it names what is wrong and, where it
 * can, how to fix it. The CLI prints it without a stack trace; servers turn it into a Kubernetes Status
 * with `httpCode` (400 unless said otherwise).
 */
export class KubegateError extends Error {
  readonly httpCode: number;
  /** Stable, for logs and tests (codes.ts). */
  readonly code: ErrorCode;
  constructor(message: string, options: { httpCode?: number; cause?: unknown; code?: ErrorCode } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KubegateError";
    this.httpCode = options.httpCode ?? 400;
    this.code = options.code ?? "KUBEGATE_INVALID_INPUT";
  }
}
