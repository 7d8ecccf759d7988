import { Command, Option } from "commander";
import { z } from "zod";
import { duration, hostPort, parseOptions, path, repeated } from "../config/validate.ts";
import { loadConnection } from "../kube/connection.ts";
import { createLogger } from "../observability/logger.ts";
import { KubegateError } from "../status/errors.ts";

const collect = (value: string, previous: string[] = []) => [...previous, value];

const schema = z
  .object({
    listen: hostPort,
    tlsCert: path.optional(),
    tlsKey: path.optional(),
    clientCa: path.optional(),
    upstreamKubeconfig: path.optional(),
    tokenReview: z.boolean(),
    tokenAudience: repeated,
    metricsListen: hostPort.optional(),
    auditLog: z.string().min(1).optional(),
    interactiveMode: z.enum(["proxy", "redirect"]),
    namespaces: z.enum(["passthrough", "aggregated"]),
    insecureHttp: z.boolean(),
    reloadInterval: duration,
    shutdownGrace: duration,
  })
  .refine((o) => o.insecureHttp || (o.tlsCert && o.tlsKey), {
    path: ["tlsCert"],
    message: "--tls-cert and --tls-key are required (or --insecure-http on loopback for testing)",
  })
  .refine((o) => o.clientCa || o.tokenReview, {
    path: ["clientCa"],
    message: "no authentication configured: give --client-ca or keep --token-review",
  });

export function gatewayCommand(): Command {
  return new Command("gateway")
    .description("authenticating, impersonating reverse proxy in front of kube-apiserver")
    .option("--listen <host:port>", "HTTPS address for kubectl", "0.0.0.0:9443")
    .option("--tls-cert <file>", "serving certificate (PEM), reloaded when it changes on disk")
    .option("--tls-key <file>", "serving key (PEM)")
    .option("--client-ca <file>", "CA bundle that signs user client certificates (CN = user, O = groups)")
    .option(
      "--upstream-kubeconfig <file>",
      "kubeconfig of the gateway's own identity (default: in-cluster, $KUBECONFIG, ~/.kube/config)",
    )
    .option("--no-token-review", "do not accept bearer tokens through TokenReview")
    .option("--token-audience <aud>", "audience for TokenReview (repeatable)", collect)
    .option("--metrics-listen <host:port>", "HTTP address for /metrics, /healthz, /readyz", "127.0.0.1:9090")
    .option("--audit-log <file>", "write audit.k8s.io/v1 events as JSON lines to this file ('-' = stdout)")
    .addOption(
      new Option(
        "--interactive-mode <mode>",
        "exec/attach/port-forward: tunnel with impersonation, or 307 redirect to the apiserver",
      )
        .choices(["proxy", "redirect"])
        .default("proxy"),
    )
    .addOption(
      new Option(
        "--namespaces <mode>",
        "namespace listing: passed through, or answered by custom.api.local/v1/mynamespace",
      )
        .choices(["passthrough", "aggregated"])
        .default("passthrough"),
    )
    .option("--insecure-http", "plain HTTP on a loopback address, bearer tokens only (testing)", false)
    .option("--reload-interval <duration>", "how often certificate files are checked for changes", "10s")
    .option("--shutdown-grace <duration>", "how long SIGTERM waits for requests in flight", "25s")
    .action(async (raw) => {
      const o = parseOptions(schema, raw);
      // Loaded on use: `kubegate certs` should not pay for the servers' dependencies.
      const { startGateway } = await import("../gateway/server.ts");
      const log = createLogger();
      const upstream = loadConnection(o.upstreamKubeconfig);
      if (o.insecureHttp && (o.tlsCert || o.clientCa)) {
        throw new KubegateError("--insecure-http serves plain HTTP: drop --tls-cert/--tls-key/--client-ca");
      }
      const gateway = await startGateway({
        listen: o.listen,
        ...(o.tlsCert && o.tlsKey
          ? {
              tls: {
                certFile: o.tlsCert,
                keyFile: o.tlsKey,
                ...(o.clientCa ? { clientCaFile: o.clientCa } : {}),
              },
            }
          : {}),
        insecureHttp: o.insecureHttp,
        upstream,
        tokenReview: o.tokenReview,
        ...(o.tokenAudience.length ? { tokenAudiences: o.tokenAudience } : {}),
        ...(o.metricsListen ? { metricsListen: o.metricsListen } : {}),
        ...(o.auditLog ? { auditLog: o.auditLog } : {}),
        interactiveMode: o.interactiveMode,
        namespaces: o.namespaces,
        reloadIntervalMs: o.reloadInterval,
        shutdownGraceMs: o.shutdownGrace,
        log,
      });
      // Tests and scripts read the bound address (port 0 = any free port) from this line.
      console.log(
        `kubegate gateway listening on ${gateway.url}${gateway.metricsUrl ? ` metrics ${gateway.metricsUrl}` : ""}`,
      );
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info({ signal }, "shutting down: draining requests in flight");
          void gateway.shutdown().then(resolve);
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
      log.info("gateway stopped");
      // Everything is drained and closed; exit now rather than wait for stray timers of libraries.
      log.flush(() => process.exit(0));
    });
}
