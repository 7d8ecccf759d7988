import type { Upstream } from "../kube/upstream.ts";
import { KubegateError } from "../status/errors.ts";

/** GET one object as the admin; undefined when it does not exist, an error naming the path otherwise. */
export async function getObject<T>(upstream: Upstream, path: string): Promise<T | undefined> {
  const res = await upstream.json<T & { message?: string }>("GET", path);
  if (res.code === 404) return undefined;
  if (res.code !== 200) {
    throw new KubegateError(`GET ${path} failed with HTTP ${res.code}: ${res.body.message ?? ""}`);
  }
  return res.body;
}

/** An error's message without a stack, for a finding. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

/** Rejects after ms with a message saying what took too long, so nothing doctor awaits can hang it. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KubegateError(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}
