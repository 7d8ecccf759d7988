// The gateway's request pipeline, top to bottom:
//   admit (parse the path → authenticate → sanitize headers → authorize `kubectl --as`)
//   → pick the route (routes.ts: the first whose match accepts the request)
//   → in flight (per-user limits; shutdown drains or cuts it) → the route answers
//   → any error becomes a Status, through the one responder → metrics and audit, always.
// Upgrades (exec, attach, port-forward) take the same admit and record steps in upgrade.ts.
import { isLongRunning } from "../kube/request-info.ts";
import { codeOf } from "../status/codes.ts";
import { StatusError, toStatus } from "../status/status.ts";
import { admit } from "./admit.ts";
import { record } from "./record.ts";
import { GatewayRequest } from "./request-context.ts";
import { sendStatus } from "./respond.ts";
import type { ClientRequest, ClientResponse, GatewayContext, Outcome } from "./types.ts";

/** Entry point for every non-upgrade request. */
export async function handleRequest(
  ctx: GatewayContext,
  req: ClientRequest,
  res: ClientResponse,
): Promise<void> {
  const receivedAt = new Date();
  const started = performance.now();
  const outcome: Outcome = { code: 0 };
  try {
    const { info, headers, user } = await admit(ctx, req, outcome);
    const r = new GatewayRequest(ctx, req, res, info, headers, user);
    // Every request a route handles is in flight, whichever route it is: SIGTERM's drain waits for a
    // guarded write between its dry run and its write, and cuts watches the gateway serves itself.
    // Only an untracked route (a redirect) is answered outside.
    let release: (() => void) | undefined;
    try {
      for (const route of ctx.routes) {
        const params = route.match(info);
        if (params === undefined) continue;
        if (!route.untracked) release ??= ctx.inflight.enter(isLongRunning(info), r.cancel, user.name);
        const code = await route.handle(r, params);
        if (code === undefined) continue;
        outcome.route = route.name;
        outcome.code = code;
        break;
      }
    } finally {
      release?.();
    }
  } catch (err) {
    const s = toStatus(err);
    if (s.code >= 500 && !(err instanceof StatusError))
      ctx.log.error({ err, code: codeOf(err), url: req.url }, "request failed");
    outcome.code = sendStatus(res, s);
  } finally {
    record(ctx, req, outcome, receivedAt, started);
  }
}
