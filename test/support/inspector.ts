// Looks into a running kubegate process through its inspector (started with --inspect=127.0.0.1:0):
// memory after a full garbage collection, which, unlike a raw RSS sample, does not depend on where
// in its GC cycle the process happened to be.
import type { KubegateProcess } from "./gateway-process.ts";

export interface RetainedMemory {
  /** Resident set size after the collection, in KiB. */
  rssKiB: number;
  /** Live JavaScript heap after the collection, in KiB. */
  heapUsedKiB: number;
}

export interface Inspector {
  retainedMemory(): Promise<RetainedMemory>;
  /** The value of an expression (awaited when it is a promise) evaluated in the process. */
  evaluate(expression: string): Promise<unknown>;
  close(): void;
}

const LISTENING = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)/;

export async function attachInspector(proc: KubegateProcess, timeoutMs = 10_000): Promise<Inspector> {
  const deadline = Date.now() + timeoutMs;
  let m = LISTENING.exec(proc.logs());
  while (!m && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    m = LISTENING.exec(proc.logs());
  }
  if (!m) throw new Error("the process has no inspector: start it with --inspect=127.0.0.1:0");
  const ws = new WebSocket(m[1] as string);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error("cannot connect to the inspector")), { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  ws.addEventListener("message", (e) => {
    const msg = JSON.parse(String(e.data)) as { id?: number; result?: unknown; error?: { message: string } };
    const p = msg.id === undefined ? undefined : pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id as number);
    if (msg.error) p.reject(new Error(msg.error.message));
    else p.resolve(msg.result);
  });
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return {
    async retainedMemory() {
      await call("HeapProfiler.collectGarbage");
      const r = (await call("Runtime.evaluate", {
        expression: "JSON.stringify(process.memoryUsage())",
        returnByValue: true,
      })) as { result: { value: string } };
      const usage = JSON.parse(r.result.value) as { rss: number; heapUsed: number };
      return { rssKiB: Math.round(usage.rss / 1024), heapUsedKiB: Math.round(usage.heapUsed / 1024) };
    },
    async evaluate(expression) {
      const r = (await call("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true })) as {
        result: { value?: unknown };
        exceptionDetails?: { text: string };
      };
      if (r.exceptionDetails) throw new Error(`evaluate failed: ${r.exceptionDetails.text}`);
      return r.result.value;
    },
    close: () => ws.close(),
  };
}
