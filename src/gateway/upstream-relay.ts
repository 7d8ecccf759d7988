// One forwarded request: sent upstream with undici's dispatch and its answer written straight into the
// client's response from the handler callbacks. pool.request() would wrap the answer in a Readable,
// a promise and an AbortSignal listener per request, then pipe it: work the gateway pays on every
// kubectl call, for streams it never needs as streams.
import type { ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import type { Dispatcher, Pool } from "undici";
import { unavailable } from "../kube/upstream.ts";
import { responseHeaders } from "./headers.ts";
import type { ClientResponse } from "./types.ts";

/** HTTP status noted when the client left before kube-apiserver answered (nginx's convention). */
export const CLIENT_CLOSED = 499;

export interface RelayRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body: Readable | null;
}

/**
 * Sends the request and streams the answer to `res`. Resolves with the status code once the response
 * is over, however it ended: all sent, the client gone (the upstream call is then cancelled) or the
 * upstream broken mid-way (the response is then cut, so the client sees an error, not a silent
 * truncation). Rejects, with a 503 Status, only when kube-apiserver failed before answering, while
 * the caller can still send a Status. `abort()` cancels it (shutdown cuts watches this way).
 */
export class UpstreamRelay implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private code = 0;
  private done = false;
  private resolve!: (code: number) => void;
  private reject!: (err: unknown) => void;
  private readonly resume = () => this.controller?.resume();
  private readonly onClientClose = () => {
    if (!this.res.writableFinished) this.abort();
  };

  constructor(
    private readonly res: ClientResponse,
    /** Watches and followed logs: send the headers at once, not with the first event. */
    private readonly flushHeaders: boolean,
  ) {}

  send(pool: Pool, r: RelayRequest): Promise<number> {
    const result = new Promise<number>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (this.res.destroyed) {
      this.finish(CLIENT_CLOSED);
      return result;
    }
    this.res.once("close", this.onClientClose);
    pool.dispatch(
      {
        method: r.method as Dispatcher.HttpMethod,
        path: r.path,
        headers: r.headers,
        body: r.body,
      },
      this,
    );
    return result;
  }

  /** Cancels the call: the client gone, or the gateway shutting down. */
  abort(): void {
    if (this.done) return;
    this.finish(this.code || CLIENT_CLOSED);
    // Mid-body: cut the response, so the client sees an error rather than a silent truncation.
    if (this.code !== 0) this.res.destroy();
    this.controller?.abort(new Error("request cancelled by the gateway"));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Cancelled while it waited for a connection: undici hands it over only now.
    if (this.done) controller.abort(new Error("request cancelled by the gateway"));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (this.done) return;
    this.code = statusCode;
    (this.res as ServerResponse).writeHead(statusCode, responseHeaders(headers));
    if (this.flushHeaders) (this.res as ServerResponse).flushHeaders?.();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.done) return;
    if (!(this.res as ServerResponse).write(chunk) && !controller.paused) {
      controller.pause();
      this.res.once("drain", this.resume);
    }
  }

  onResponseEnd(): void {
    if (this.done) return;
    this.res.end();
    this.finish(this.code);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.done) return;
    if (this.code === 0) {
      if (this.settle()) this.reject(unavailable(err));
      return;
    }
    this.res.destroy();
    this.finish(this.code);
  }

  /** Marks the relay over, once; false when it already was. */
  private settle(): boolean {
    if (this.done) return false;
    this.done = true;
    this.res.off("close", this.onClientClose);
    return true;
  }

  private finish(code: number): void {
    if (this.settle()) this.resolve(code);
  }
}
