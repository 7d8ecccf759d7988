import { Command } from "commander";
import { z } from "zod";
import { duration, parseOptions, path } from "../config/validate.ts";

const WEBHOOK_PATH = "/webhook/pod-apiserver-env";

import { createLogger } from "../observability/logger.ts";
import { isDnsName } from "../pki/certificates.ts";
import { serveUntilSignalled, signalled } from "./signals.ts";

const schema = z.object({
  apiserverFqdn: z
    .string({ message: "is required (the apiserver's fully qualified name, e.g. api.example.com.)" })
    .refine((v) => isDnsName(v) && !v.startsWith("*"), {
      message: "must be a DNS name; a trailing dot is allowed",
    }),
  certDir: path,
  certName: path,
  keyName: path,
  clientCaName: path.optional(),
  host: z.string(),
  port: z.coerce.number().int().min(0, "must be 0-65535").max(65535, "must be 0-65535"),
  reloadInterval: duration,
});

export function webhookCommand(): Command {
  return new Command("webhook")
    .description(
      `mutating admission webhook (${WEBHOOK_PATH}) that sets KUBERNETES_SERVICE_HOST in every container`,
    )
    .option("--apiserver-fqdn <name>", "fully qualified domain name of kube-apiserver, e.g. api.example.com.")
    .option("--cert-dir <dir>", "directory with the serving certificate and key")
    .option("--cert-name <file>", "certificate file name in --cert-dir", "tls.crt")
    .option("--key-name <file>", "key file name in --cert-dir", "tls.key")
    .option(
      "--client-ca-name <file>",
      "CA file name in --cert-dir; when set, callers must present a certificate from it",
    )
    .option("--host <address>", "address to listen on (empty = all)", "")
    .option("--port <port>", "port to listen on", "9443")
    .option("--reload-interval <duration>", "how often the certificate files are checked for changes", "10s")
    .action(async (raw) => {
      const o = parseOptions(schema, raw);
      // Loaded on use: `kubegate certs` should not pay for the servers' dependencies.
      const { startWebhook } = await import("../webhook/server.ts");
      const log = createLogger();
      // Before anything is announced: a signal sent the moment the listening line is read must not kill us.
      const stopSignal = signalled();
      const server = await startWebhook({
        apiserverFqdn: o.apiserverFqdn,
        certDir: o.certDir,
        certName: o.certName,
        keyName: o.keyName,
        ...(o.clientCaName ? { clientCaName: o.clientCaName } : {}),
        host: o.host,
        port: o.port,
        reloadIntervalMs: o.reloadInterval,
        log,
      });
      await serveUntilSignalled(
        log,
        `kubegate webhook listening on ${server.url}${WEBHOOK_PATH}`,
        stopSignal,
        () => server.close(),
      );
    });
}
