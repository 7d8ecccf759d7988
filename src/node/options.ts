import { isIP } from "node:net";
import { z } from "zod";
import { duration, hostPort } from "../config/validate.ts";
import { isDnsName } from "../pki/certificates.ts";
import { canonicalIp, isInterfaceName } from "./iproute.ts";

/**
 * A boolean flag in the seed's (pflag's) style: `--flag` alone is true, and `--flag=true|false` (also
 * 1/0, t/f, any case) works too.
 */
export const boolFlag = z.union([z.boolean(), z.string()]).transform((v, ctx) => {
  if (typeof v === "boolean") return v;
  const s = v.trim().toLowerCase();
  if (["true", "t", "1"].includes(s)) return true;
  if (["false", "f", "0"].includes(s)) return false;
  ctx.addIssue({ code: "custom", message: `must be true or false (got "${v}")` });
  return z.NEVER;
});

const ipAddress = (what: string) =>
  z
    .string({ message: `is required (${what}, e.g. 10.96.0.2)` })
    .trim()
    .refine((v) => isIP(v) !== 0, { message: "must be an IPv4 or IPv6 address" })
    .transform(canonicalIp)
    .refine(isUsableUnicast, {
      message: "must be a unicast address (not loopback, unspecified or multicast)",
    });

/** Not 0.0.0.0/8, 127/8, 224/4 or above, ::, ::1 or ff00::/8: an address a node can hold and serve on. */
export function isUsableUnicast(ip: string): boolean {
  if (isIP(ip) === 4) {
    const first = Number(ip.split(".")[0]);
    return first !== 0 && first !== 127 && first < 224;
  }
  const c = canonicalIp(ip);
  return c !== "::" && c !== "::1" && !c.startsWith("ff");
}

const port = z.coerce
  .number({ message: "must be a port number" })
  .int("must be a port number")
  .min(1, "must be 1-65535")
  .max(65535, "must be 1-65535");

export const nodeAgentSchema = z
  .object({
    ipAddress: ipAddress("the node-local address the apiserver proxy listens on"),
    interface: z.string().refine(isInterfaceName, {
      message: "must be an interface name: 1-15 characters, no '/', ':' or whitespace",
    }),
    kubernetesServiceIpAddress: ipAddress("the kubernetes Service address").optional(),
    setupIptables: boolFlag,
    port,
    syncInterval: duration.pipe(z.number().min(100, "must be at least 100ms")),
    daemon: boolFlag,
    cleanup: boolFlag,
  })
  .refine((o) => o.kubernetesServiceIpAddress !== o.ipAddress, {
    path: ["kubernetesServiceIpAddress"],
    message: "must differ from --ip-address",
  })
  .refine((o) => o.daemon || !o.cleanup, {
    path: ["cleanup"],
    message:
      "removes the setup when the agent is stopped, so it needs --daemon=true (a single pass would undo itself)",
  });
export type NodeAgentOptions = z.infer<typeof nodeAgentSchema>;

/** HOST:PORT where HOST may also be a DNS name (an upstream apiserver is often reached by name). */
const upstream = z.string({ message: "is required (HOST:PORT of kube-apiserver)" }).transform((v, ctx) => {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v.trim());
  const host = m?.[1] ?? m?.[2] ?? "";
  const p = Number(m?.[3]);
  if (!m || p < 1 || p > 65535) {
    ctx.addIssue({ code: "custom", message: `must be HOST:PORT, e.g. 10.0.0.1:443 (got "${v}")` });
    return z.NEVER;
  }
  if (isIP(host) === 0 && !isDnsName(host.replace(/\.$/, ""))) {
    ctx.addIssue({ code: "custom", message: `host must be an IP address or a DNS name (got "${host}")` });
    return z.NEVER;
  }
  return { host, port: p };
});

export const apiserverProxySchema = z.object({
  listen: z
    .string({ message: "is required (IP:PORT to accept connections on, e.g. 10.96.0.2:443)" })
    .pipe(hostPort),
  upstream,
  proxyProtocol: z.enum(["v1", "v2"], { message: 'must be "v1" or "v2"' }).optional(),
  maxConnections: z.coerce.number().int("must be a whole number").min(1, "must be at least 1"),
  connectTimeout: duration.pipe(z.number().min(1, "must be positive")),
  metricsListen: hostPort.optional(),
  shutdownGrace: duration,
  addressWait: duration,
});
export type ApiserverProxyOptions = z.infer<typeof apiserverProxySchema>;
