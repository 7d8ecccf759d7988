import { isIP } from "node:net";
import { Command, CommanderError, Option } from "commander";
import { z } from "zod";
import { duration, nonEmpty, parseOptions, path } from "../config/validate.ts";
import { isDnsName } from "../pki/certificates.ts";

const dnsLabel = nonEmpty.refine((v) => /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(v), {
  message: "must be a namespace name (lower-case letters, digits, '-')",
});

/** HOST:PORT where HOST may also be a DNS name (a port-forward, a node, a local run). */
const address = z.string().transform((v, ctx) => {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v);
  const host = m ? (m[1] ?? m[2] ?? "") : "";
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port < 1 || port > 65535 || (isIP(host) === 0 && !isDnsName(host))) {
    ctx.addIssue({ code: "custom", message: `must be HOST:PORT, e.g. 127.0.0.1:8443 (got "${v}")` });
    return z.NEVER;
  }
  return { host, port };
});

const schema = z
  .object({
    kubeconfig: path.optional(),
    namespace: dnsLabel,
    gatewayUser: nonEmpty.optional(),
    apiserverUser: nonEmpty.optional(),
    apiserverAddress: address.optional(),
    webhookAddress: address.optional(),
    clientKubeconfig: path.optional(),
    clientCert: path.optional(),
    dryRunNamespace: dnsLabel.optional(),
    timeout: duration.refine((ms) => ms >= 100 && ms <= 300_000, { message: "must be between 100ms and 5m" }),
    output: z.enum(["text", "json"], { message: 'must be "text" or "json"' }),
  })
  .refine((o) => !(o.clientKubeconfig && o.clientCert), {
    message: "give --client-kubeconfig or --client-cert, not both",
    path: ["clientCert"],
  });

export function doctorCommand(): Command {
  return new Command("doctor")
    .description(
      "check a kubegate deployment the way the troubleshooting guide would: APIService, serving certificates, RBAC, webhook, client certificate",
    )
    .option("--kubeconfig <file>", "admin kubeconfig for the cluster (default: $KUBECONFIG, ~/.kube/config)")
    .option("--namespace <ns>", "namespace kubegate is deployed in", "kubegate-system")
    .option(
      "--gateway-user <name>",
      "the gateway's identity (default: system:serviceaccount:<ns>:kubegate-gateway)",
    )
    .option(
      "--apiserver-user <name>",
      "the aggregated server's identity (default: system:serviceaccount:<ns>:kubegate-apiserver)",
    )
    .option(
      "--apiserver-address <host:port>",
      "fetch the aggregated server's certificate here instead of through its Service (port-forward, local run)",
    )
    .option(
      "--webhook-address <host:port>",
      "fetch the webhook's certificate here instead of through its Service",
    )
    .option("--client-kubeconfig <file>", "a user's kubeconfig whose client certificate to inspect")
    .option("--client-cert <file>", "a client certificate (PEM) to inspect")
    .option(
      "--dry-run-namespace <ns>",
      "also create a server-side dry-run pod here and check that the webhook set KUBERNETES_SERVICE_HOST",
    )
    .option("--timeout <duration>", "time limit of each check", "10s")
    .addOption(new Option("--output <format>", "output format").choices(["text", "json"]).default("text"))
    .addHelpText(
      "after",
      "\nExit status: 0 when no check found a problem (warnings and skipped checks allowed), 1 otherwise.",
    )
    .action(async (raw) => {
      const o = parseOptions(schema, raw);
      // Loaded on use: `kubegate certs` should not pay for these.
      const { loadConnection } = await import("../kube/connection.ts");
      const { Upstream } = await import("../kube/upstream.ts");
      const { Reviews } = await import("../kube/reviews.ts");
      const { runDoctor } = await import("../doctor/runner.ts");
      const { formatJson, formatText } = await import("../doctor/printer.ts");
      const connection = loadConnection(o.kubeconfig);
      const upstream = new Upstream(connection, { connections: 16 });
      const report = await runDoctor(
        {
          namespace: o.namespace,
          upstream,
          reviews: new Reviews(upstream),
          ...(o.gatewayUser ? { gatewayUser: o.gatewayUser } : {}),
          ...(o.apiserverUser ? { apiserverUser: o.apiserverUser } : {}),
          ...(o.apiserverAddress ? { apiserverAddress: o.apiserverAddress } : {}),
          ...(o.webhookAddress ? { webhookAddress: o.webhookAddress } : {}),
          ...(o.clientKubeconfig ? { clientKubeconfig: o.clientKubeconfig } : {}),
          ...(o.clientCert ? { clientCert: o.clientCert } : {}),
          ...(o.dryRunNamespace ? { dryRunNamespace: o.dryRunNamespace } : {}),
          stepTimeoutMs: Math.min(5000, Math.max(50, Math.floor(o.timeout / 2))),
          now: new Date(),
        },
        { timeoutMs: o.timeout },
      ).finally(async () => {
        // A check cut off by its timeout may still hold a request: do not wait for it.
        upstream.upgradeAgent.destroy();
        await upstream.pool.destroy();
      });
      process.stdout.write(o.output === "json" ? formatJson(report) : formatText(report));
      if (!report.ok) throw new CommanderError(1, "kubegate.doctor.problems", "doctor found problems");
    });
}
