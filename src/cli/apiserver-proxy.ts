import { Command } from "commander";
import { parseOptions } from "../config/validate.ts";
import { apiserverProxySchema } from "../node/options.ts";
import { createLogger } from "../observability/logger.ts";
import { KubegateError } from "../status/errors.ts";
import { serveUntilSignalled, signalled } from "./signals.ts";

const hints: Record<string, string> = {
  EADDRNOTAVAIL:
    "the address is on no interface of this node (for the node-local one: is kubegate node-agent running?)",
  EADDRINUSE: "something else listens there already",
  EACCES: "ports below 1024 need root or CAP_NET_BIND_SERVICE",
};

export function apiserverProxyCommand(): Command {
  return new Command("apiserver-proxy")
    .description(
      "node-local TCP proxy to kube-apiserver: TLS passes through untouched, optional PROXY protocol",
    )
    .option(
      "--listen <ip:port>",
      "address to accept connections on, e.g. 10.96.0.2:443 (the node-local address)",
    )
    .option("--upstream <host:port>", "kube-apiserver to pass every connection to, e.g. api.example.com:443")
    .option("--proxy-protocol <version>", "send a PROXY protocol header first: v1 (text) or v2 (binary)")
    .option("--max-connections <n>", "connections open at once; more are closed on accept", "4096")
    .option("--connect-timeout <duration>", "how long to wait for the upstream connection", "5s")
    .option(
      "--metrics-listen <host:port>",
      "HTTP address for /healthz, /readyz and /metrics",
      "127.0.0.1:16910",
    )
    .option(
      "--address-wait <duration>",
      "how long to retry while --listen's address is on no interface yet (the node agent adds it); 0 = fail at once",
      "30s",
    )
    .option(
      "--shutdown-grace <duration>",
      "how long SIGTERM waits for open connections before cutting them",
      "10s",
    )
    .action(async (raw) => {
      const o = parseOptions(apiserverProxySchema, raw);
      // Loaded on use: `kubegate certs` should not pay for the servers' dependencies.
      const { startTcpProxy } = await import("../node/tcp-proxy.ts");
      const log = createLogger();
      // Registered before the "listening" line, so a signal sent as soon as it is read is not fatal.
      const stopSignal = signalled();
      const start = () =>
        startTcpProxy({
          listen: o.listen,
          upstream: o.upstream,
          ...(o.proxyProtocol ? { proxyProtocol: o.proxyProtocol } : {}),
          maxConnections: o.maxConnections,
          connectTimeoutMs: o.connectTimeout,
          ...(o.metricsListen ? { metricsListen: o.metricsListen } : {}),
          shutdownGraceMs: o.shutdownGrace,
          log,
        });
      // In the DaemonSet the proxy and the node agent start together: the address may come a moment later.
      const deadline = Date.now() + o.addressWait;
      let stopping = false;
      void stopSignal.then(() => {
        stopping = true;
      });
      let proxy: Awaited<ReturnType<typeof start>> | undefined;
      while (!proxy) {
        if (stopping) {
          log.info("stopped while waiting for the listen address");
          log.flush(() => process.exit(0));
          return;
        }
        proxy = await start().catch(async (err: NodeJS.ErrnoException & { port?: number }) => {
          if (err.code === "EADDRNOTAVAIL" && err.port === o.listen.port && Date.now() < deadline) {
            log.info({ listen: o.listen.host }, "waiting for the listen address to appear on an interface");
            await new Promise((r) => setTimeout(r, 500));
            return undefined;
          }
          const hint = err.code ? hints[err.code] : undefined;
          if (!hint) throw err;
          const flag = err.port === o.listen.port ? "--listen" : "--metrics-listen";
          throw new KubegateError(`${flag}: cannot listen: ${err.message}; ${hint}`);
        });
      }
      log.info(
        { url: proxy.url, upstream: o.upstream, proxyProtocol: o.proxyProtocol ?? "none" },
        "apiserver-proxy listening",
      );
      await serveUntilSignalled(
        log,
        `kubegate apiserver-proxy listening on ${proxy.url}${proxy.metricsUrl ? ` metrics ${proxy.metricsUrl}` : ""}`,
        stopSignal,
        () => proxy.close(),
      );
    });
}
