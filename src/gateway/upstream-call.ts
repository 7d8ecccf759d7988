// Calls the tenancy routes make to kube-apiserver with the gateway's own identity, and the small
// helpers around them (reading a bounded request body, relaying an answer).
import type { Readable } from "node:stream";
import type { Pool } from "undici";
import { type Upstream, unavailable } from "../kube/upstream.ts";
import { StatusError, status } from "../status/status.ts";
import type { ClientRequest, ClientResponse } from "./pipeline.ts";

/** Bodies the gateway reads itself are small objects (a Namespace, an access review). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export interface Answer {
  code: number;
  contentType: string;
  text: string;
}

export async function readBody(req: ClientRequest, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as unknown as Readable) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += b.length;
    if (size > limit) throw new StatusError(status(413, `request body larger than ${limit} bytes`));
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** One request as the gateway itself, JSON back; unreachable upstream becomes a 503 Status. */
export async function asGateway(
  upstream: Upstream,
  method: string,
  path: string,
  body?: { contentType: string; data: Buffer | string },
  signal?: AbortSignal,
): Promise<Answer> {
  const headers = upstream.ownHeaders();
  if (body) headers["content-type"] = body.contentType;
  return answerWhole(upstream.pool, {
    method: method as "GET",
    path,
    headers,
    body: body ? body.data : null,
    ...(signal ? { signal } : {}),
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
}

/** Sends one request and reads the answer whole; an unreachable upstream becomes a 503 Status. */
export async function answerWhole(pool: Pool, request: Parameters<Pool["request"]>[0]): Promise<Answer> {
  try {
    const up = await pool.request(request);
    return {
      code: up.statusCode,
      contentType: String(up.headers["content-type"] ?? "application/json"),
      text: await up.body.text(),
    };
  } catch (err) {
    throw unavailable(err);
  }
}

export function relay(res: ClientResponse, a: Answer): number {
  (res as import("node:http").ServerResponse).writeHead(a.code, {
    "content-type": a.contentType,
    "content-length": Buffer.byteLength(a.text),
  });
  res.end(a.text);
  return a.code;
}

export function sendJson(res: ClientResponse, code: number, body: unknown): number {
  return relay(res, { code, contentType: "application/json", text: JSON.stringify(body) });
}

/** The request's query with some parameters set, for a call that must keep the client's options. */
export function withQuery(path: string, rawUrl: string, set: Record<string, string> = {}): string {
  const q = rawUrl.indexOf("?");
  const params = new URLSearchParams(q === -1 ? "" : rawUrl.slice(q + 1));
  for (const [k, v] of Object.entries(set)) params.set(k, v);
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}
