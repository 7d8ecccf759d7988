import { KubegateError } from "../status/errors.ts";
import { type Check, type Finding, ok } from "./types.ts";

/** First, whether doctor can talk to kube-apiserver at all: without it the cluster checks cannot run. */
export const connectionCheck: Check = {
  id: "connection",
  title: "kube-apiserver answers",
  async run(ctx): Promise<Finding[]> {
    const res = await ctx.upstream.json<{ gitVersion?: string; message?: string }>("GET", "/version");
    if (res.code !== 200) {
      throw new KubegateError(`GET /version answered HTTP ${res.code}: ${res.body.message ?? ""}`);
    }
    return [
      ok(
        `kube-apiserver ${res.body.gitVersion ?? "(unknown version)"} answers at ${ctx.upstream.connection.server.origin} (${ctx.upstream.connection.source})`,
      ),
    ];
  },
};
