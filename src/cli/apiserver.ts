import { Command } from "commander";
import { z } from "zod";
import { duration, hostPort, parseOptions, path } from "../config/validate.ts";
import { loadConnection } from "../kube/connection.ts";
import { createLogger } from "../observability/logger.ts";
import { serveUntilSignalled, signalled } from "./signals.ts";

const schema = z.object({
  listen: hostPort,
  tlsCert: path,
  tlsKey: path,
  kubeconfig: path.optional(),
  teamLabel: z
    .string()
    .regex(
      /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
      "must be a label key, e.g. team or example.com/team",
    )
    .optional(),
  reloadInterval: duration,
  tenancy: z.boolean(),
  tenantLabel: z.string().min(1),
});

export function apiserverCommand(): Command {
  return new Command("apiserver")
    .description("aggregated API server custom.api.local/v1 (whoami, mynamespace) behind kube-apiserver")
    .option("--listen <host:port>", "HTTPS address the aggregator calls", "0.0.0.0:8443")
    .requiredOption("--tls-cert <file>", "serving certificate (names the Service, e.g. svc.ns.svc)")
    .requiredOption("--tls-key <file>", "serving key")
    .option(
      "--kubeconfig <file>",
      "kubeconfig for reviews and reads (default: in-cluster, $KUBECONFIG, ~/.kube/config)",
    )
    .option("--team-label <key>", "namespace label whose value names the team (a group) that may see it")
    .option("--reload-interval <duration>", "how often the certificate files are checked for changes", "10s")
    .option(
      "--tenancy",
      "mynamespace also lists namespaces the tenancy model grants (tenants owned, RoleBindings)",
      false,
    )
    .option("--tenant-label <key>", "label naming a namespace's tenant", "kubegate.dev/tenant")
    .action(async (raw) => {
      const o = parseOptions(schema, raw);
      // Loaded on use: `kubegate certs` should not pay for the servers' dependencies.
      const { startAggregated } = await import("../aggregated/server.ts");
      const log = createLogger();
      // Before anything is announced: a signal sent the moment the listening line is read must not kill us.
      const stopSignal = signalled();
      const server = await startAggregated({
        listen: o.listen,
        tls: { certFile: o.tlsCert, keyFile: o.tlsKey },
        upstream: loadConnection(o.kubeconfig),
        ...(o.teamLabel ? { teamLabel: o.teamLabel } : {}),
        ...(o.tenancy ? { tenancy: { tenantLabel: o.tenantLabel } } : {}),
        reloadIntervalMs: o.reloadInterval,
        log,
      });
      await serveUntilSignalled(log, `kubegate apiserver listening on ${server.url}`, stopSignal, () =>
        server.close(),
      );
    });
}
