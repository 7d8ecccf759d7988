/**
 * An error whose message is meant for the person running kubegate: it names what is wrong and, where it
 * can, how to fix it. The CLI prints it without a stack trace; servers turn it into a Kubernetes Status
 * with `httpCode` (400 unless said otherwise).
 */
export class KubegateError extends Error {
  readonly httpCode: number;
  constructor(message: string, options: { httpCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KubegateError";
    this.httpCode = options.httpCode ?? 400;
  }
}
