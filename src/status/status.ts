import { codeForHttp, type ErrorCode } from "./codes.ts";
import { KubegateError } from "./errors.ts";

/** A meta/v1 Status, the body of every error kubegate returns. */
export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message: string;
  reason: StatusReason;
  details?: { name?: string; group?: string; kind?: string; causes?: { message: string }[] };
  code: number;
}

export type StatusReason =
  | "BadRequest"
  | "Unauthorized"
  | "Forbidden"
  | "NotFound"
  | "MethodNotAllowed"
  | "RequestEntityTooLarge"
  | "TooManyRequests"
  | "InternalError"
  | "ServiceUnavailable"
  | "Timeout"
  | "";

const REASON_BY_CODE: Record<number, StatusReason> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  413: "RequestEntityTooLarge",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

export function status(code: number, message: string, details?: Status["details"]): Status {
  const s: Status = {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason: REASON_BY_CODE[code] ?? "",
    code,
  };
  if (details) s.details = details;
  return s;
}

/** An error that already knows the Status it must become, and its stable code (codes.ts). */
export class StatusError extends Error {
  readonly code: ErrorCode;
  constructor(
    readonly status: Status,
    code?: ErrorCode,
  ) {
    super(status.message);
    this.name = "StatusError";
    this.code = code ?? codeForHttp(status.code);
  }
}

export const unauthorized = (message = "Unauthorized", code?: ErrorCode) =>
  new StatusError(status(401, message), code);
export const forbidden = (message: string, code?: ErrorCode) => new StatusError(status(403, message), code);
export const badRequest = (message: string, code?: ErrorCode) => new StatusError(status(400, message), code);
export const serviceUnavailable = (message: string, code?: ErrorCode) =>
  new StatusError(status(503, message), code);

/**
 * The one place that turns any thrown value into a Status. Unknown errors become a 500 whose message
 * does not leak internals beyond the error's own message.
 */
export function toStatus(err: unknown): Status {
  if (err instanceof StatusError) return err.status;
  if (err instanceof KubegateError) return status(err.httpCode, err.message);
  const message = err instanceof Error ? err.message : String(err);
  return status(500, `Internal error occurred: ${message}`);
}
