// A watch of a filtered kind, event by event: a kind the index holds (namespaces) from the index's
// informer (one upstream watch for every tenant), the others from an upstream watch as the gateway,
// filtered line by line.
import { drainedOrClosed, sendJson, startStream } from "../respond.ts";
import type { TenantRequest } from "../types.ts";
import { serveNamespaceWatch } from "./cached-list.ts";
import { WatchLineFilter } from "./filter-body.ts";
import { filteredRoute } from "./filtered.ts";
import { jsonAccept, parseJson, queryOf, REQUEST_ERRORS, rbacAllows } from "./tenancy.ts";
import type { WatchResponse } from "./watch-sink.ts";

export const filteredWatch = filteredRoute({
  name: "filtered-watch",
  verbs: ["watch"],
  async handle(ctx: TenantRequest, kind) {
    const { tenancy: t, user, res } = ctx;
    if (await rbacAllows(t, user, kind, "watch", "")) return ctx.upstream.passthrough();
    const { granted, visible } = t.index.visibility(user, kind, "List");
    if (!granted) return ctx.upstream.passthrough();
    if (kind.heldByIndex) {
      const served = serveNamespaceWatch(
        {
          // The current state a watch starts with: only what this user may see.
          snapshot: t.index.visibleNamespaceSnapshot(user),
          resourceVersion: () => t.index.namespaceSnapshot().resourceVersion,
          subscribe: (handler) => t.index.onNamespaceEvent(handler),
          access: {
            visible: () => t.index.visibility(user, kind, "List").visible,
            // Namespace events are judged one by one below; only grant changes need a new look at all.
            subscribe: (handler) => t.index.onAccessChange(handler, { grantsOnly: true }),
            items: () => t.index.visibleNamespaceSnapshot(user).items,
          },
        },
        visible,
        queryOf(ctx.req),
        ctx.headers.forward.accept,
        res as unknown as WatchResponse,
      );
      if (served) return served;
    }
    // A watch holds its upstream connection for as long as it lasts: the streams pool, never the capped one.
    const up = await ctx.upstream.stream("gateway", {
      method: "GET",
      accept: jsonAccept(ctx.headers.forward.accept),
      longRunning: true,
    });
    if (up.code !== 200) {
      const text = await up.text().catch(() => "");
      if (REQUEST_ERRORS.has(up.code)) return sendJson(res, up.code, parseJson(text));
      return ctx.upstream.passthrough();
    }
    startStream(res, up.contentType);
    const lines = new WatchLineFilter(visible);
    // A client that stops reading, then leaves, must not hold the upstream watch: stop on the signal.
    const writable = () => drainedOrClosed(res);
    try {
      for await (const chunk of up.body) {
        for (const line of lines.push(chunk)) {
          if (!(res as import("node:http").ServerResponse).write(line)) await writable();
          if (ctx.signal.aborted) break;
        }
        if (ctx.signal.aborted) break;
      }
    } catch {
      // Client gone or upstream closed mid-stream.
    }
    res.end();
    return 200;
  },
});
