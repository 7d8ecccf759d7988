// Metrics and the audit event of every request and upgrade, whatever happened to it.
import { auditUser, newAuditId } from "../observability/audit.ts";
import { codeLabel, resourceLabel, verbLabel } from "../observability/metric-labels.ts";
import type { ClientRequest, GatewayContext, Outcome } from "./types.ts";

export function record(
  ctx: GatewayContext,
  req: ClientRequest,
  o: Outcome,
  receivedAt: Date,
  started: number,
): void {
  const verb = o.info?.verb ?? (req.method ?? "").toLowerCase();
  const resource = o.info?.isResourceRequest ? o.info.resource : "";
  ctx.metrics.observe(
    verbLabel(verb),
    resourceLabel(resource, o.requester !== undefined),
    codeLabel(o.code),
    (performance.now() - started) / 1000,
  );
  if (!ctx.audit) return;
  const i = o.info;
  ctx.audit({
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "Metadata",
    auditID: newAuditId(),
    stage: "ResponseComplete",
    requestURI: req.url ?? "",
    verb,
    user: o.requester ? auditUser(o.requester) : { username: "system:anonymous" },
    ...(o.effective && o.effective !== o.requester ? { impersonatedUser: auditUser(o.effective) } : {}),
    sourceIPs: req.socket?.remoteAddress ? [req.socket.remoteAddress] : [],
    ...(typeof req.headers["user-agent"] === "string" ? { userAgent: req.headers["user-agent"] } : {}),
    ...(i?.isResourceRequest
      ? {
          objectRef: {
            resource: i.resource,
            ...(i.namespace ? { namespace: i.namespace } : {}),
            ...(i.name ? { name: i.name } : {}),
            apiGroup: i.apiGroup,
            apiVersion: i.apiVersion,
            ...(i.subresource ? { subresource: i.subresource } : {}),
          },
        }
      : {}),
    responseStatus: { metadata: {}, code: o.code, ...(o.message ? { message: o.message } : {}) },
    ...(o.route ? { annotations: { "kubegate.dev/route": o.route } } : {}),
    requestReceivedTimestamp: receivedAt.toISOString(),
    stageTimestamp: new Date().toISOString(),
  });
}
