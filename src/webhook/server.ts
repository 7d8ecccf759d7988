import { readFileSync } from "node:fs";
import type { Server as HttpsServer } from "node:https";
import { join } from "node:path";
import Fastify from "fastify";
import { Counter, collectDefaultMetrics, Registry } from "prom-client";
import type { Logger } from "../observability/logger.ts";
import { ServerShell, TlsReloader, urlOf } from "../serving/shell.ts";
import { review } from "./review.ts";

export const WEBHOOK_PATH = "/webhook/pod-apiserver-env";

export interface WebhookOptions {
  apiserverFqdn: string;
  certDir: string;
  certName: string;
  keyName: string;
  /** File name in certDir of the CA that client certificates must chain to; unset = no client auth. */
  clientCaName?: string;
  host: string;
  port: number;
  reloadIntervalMs?: number;
  log: Logger;
}

export async function startWebhook(o: WebhookOptions) {
  const files = () => ({
    cert: readFileSync(join(o.certDir, o.certName), "utf8"),
    key: readFileSync(join(o.certDir, o.keyName), "utf8"),
    ...(o.clientCaName ? { ca: readFileSync(join(o.certDir, o.clientCaName), "utf8") } : {}),
  });
  const tls = files();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "kubegate_webhook_" });
  const reviews = new Counter({
    name: "kubegate_webhook_reviews_total",
    help: "AdmissionReviews answered, by result (patched, unchanged, refused, bad_request).",
    labelNames: ["result"] as const,
    registers: [registry],
  });
  const app = Fastify({
    https: {
      ...tls,
      minVersion: "TLSv1.2",
      ...(o.clientCaName ? { requestCert: true, rejectUnauthorized: true } : {}),
    },
    logger: false,
    // An AdmissionReview carries one object; etcd caps objects at 1.5 MiB and the review wraps it twice.
    bodyLimit: 8 * 1024 * 1024,
  });
  // Read every body as text: the Content-Type and JSON checks are ours, so that they answer in kind.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));

  app.get("/healthz", async (_req, reply) => reply.type("text/plain").send("ok"));
  app.get("/metrics", async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  app.post(WEBHOOK_PATH, async (req, reply) => {
    const outcome = review(
      typeof req.body === "string" ? req.body : "",
      req.headers["content-type"],
      o.apiserverFqdn,
    );
    if (outcome.kind === "bad-request") {
      reviews.inc({ result: "bad_request" });
      o.log.warn({ reason: outcome.message }, "undecodable admission request");
      return reply.code(400).type("text/plain").send(`${outcome.message}\n`);
    }
    const result = !outcome.body.response.allowed ? "refused" : outcome.patched ? "patched" : "unchanged";
    reviews.inc({ result });
    return reply.type("application/json").send(JSON.stringify(outcome.body));
  });
  app.setErrorHandler((err, _req, reply) => {
    const code = (err as { statusCode?: number }).statusCode ?? 500;
    void reply
      .code(code)
      .type("text/plain")
      .send(`${code === 500 ? "internal error" : (err as Error).message}\n`);
  });

  const server = app.server as unknown as HttpsServer;
  const reloader = new TlsReloader(
    { name: "webhook", read: files, server, log: o.log, intervalMs: o.reloadIntervalMs },
    tls,
  );
  const shell = new ServerShell(server, reloader);

  await app.listen({ host: o.host === "" ? "0.0.0.0" : o.host, port: o.port });
  return {
    url: urlOf(server, "https"),
    close: () => shell.shutdown({ stopAccepting: () => app.close() }),
  };
}
