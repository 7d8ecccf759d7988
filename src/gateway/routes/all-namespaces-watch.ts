// `kubectl get pods -A -w` for a tenant: one watch per visible namespace as the user, merged, following
// the index as namespaces become visible or stop being (fanout-watch.ts).
import type { ServerResponse } from "node:http";
import { StatusError, status } from "../../status/status.ts";
import { drainedOrClosed, sendText, startStream } from "../respond.ts";
import type { TenantRequest } from "../types.ts";
import { allNamespacesTarget, fanOutNamespaces, namespacedPath } from "./all-namespaces.ts";
import { FanOutWatch } from "./fanout-watch.ts";
import { isStatusText, jsonAccept, queryOf, tenancyRoute, upstreamFailure } from "./tenancy.ts";

export const allNamespacesWatch = tenancyRoute({
  name: "all-namespaces-watch",
  match: (info) => allNamespacesTarget(info, "watch"),
  async handle(ctx: TenantRequest, target) {
    const namespaces = await fanOutNamespaces(ctx, target);
    if (!namespaces) return undefined;
    const { res, tenancy, user } = ctx;
    const accept = jsonAccept(ctx.headers.forward.accept);
    let contentType = "application/json";
    const watch = new FanOutWatch({
      namespaces: () => tenancy.index.visibleNamespaces(user),
      query: queryOf(ctx.req),
      concurrency: tenancy.fanOutConcurrency,
      budget: { take: () => tenancy.streams.take(user.name), give: () => tenancy.streams.give(user.name) },
      open: async (namespace, query) => {
        const q = new URLSearchParams(query);
        q.set("watch", "true");
        const up = await ctx.upstream.stream("user", {
          method: "GET",
          path: `${namespacedPath(target, namespace)}?${q}`,
          accept,
          longRunning: true,
        });
        if (up.code === 200) contentType = up.contentType;
        return up;
      },
      write: (line) => (res as ServerResponse).write(line),
      // A client that stops reading, then leaves, must not hold the watches: the drain or the close.
      drained: () => drainedOrClosed(res),
    });
    const stop = () => watch.close();
    ctx.signal.addEventListener("abort", stop, { once: true });
    // Subscribed before the first round: a change while it opens is followed once it streams.
    let changedEarly = false;
    let streaming = false;
    const unsubscribe = tenancy.index.onAccessChange(() => {
      if (streaming) void watch.reconcile();
      else changedEarly = true;
    });
    try {
      const started = await watch.start();
      if (started.kind === "refused") return ctx.upstream.passthrough();
      if (started.kind === "limited")
        throw new StatusError(
          status(
            429,
            `this watch needs one upstream watch per visible namespace (${namespaces.length}), more than the ${tenancy.streams.perUser} the gateway lets one user hold (--max-fan-out-streams-per-user)`,
          ),
          "KUBEGATE_TOO_MANY_WATCH_STREAMS",
        );
      if (started.kind === "failed") {
        if (!isStatusText(started.text)) throw upstreamFailure(started.code);
        return sendText(res, started.code, "application/json", started.text);
      }
      startStream(res, contentType);
      streaming = true;
      if (changedEarly) void watch.reconcile();
      await started.done;
      res.end();
      return 200;
    } finally {
      unsubscribe();
      ctx.signal.removeEventListener("abort", stop);
      watch.close();
    }
  },
});
