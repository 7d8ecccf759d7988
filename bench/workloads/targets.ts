import type { ClientTls, Target } from "../tls-client.ts";
import type { WorkloadContext } from "./context.ts";

/** direct, gateway and (when installed) nginx, with the identity each path needs. */
export function targets(
  ctx: WorkloadContext,
  gatewayUrl: string,
  ids: { direct: ClientTls; proxied: ClientTls },
): Target[] {
  const list: Target[] = [
    { name: "direct", url: ctx.env.cluster.server, tls: ids.direct },
    { name: "gateway", url: gatewayUrl, tls: ids.proxied },
  ];
  if (ctx.nginx) list.push({ name: "nginx", url: ctx.nginx.url, tls: ids.proxied });
  return list;
}
