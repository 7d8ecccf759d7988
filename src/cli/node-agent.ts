import { Command } from "commander";
import { parseOptions } from "../config/validate.ts";
import { nodeAgentSchema } from "../node/options.ts";
import { createLogger } from "../observability/logger.ts";
import { KubegateError } from "../status/errors.ts";
import { signalled } from "./signals.ts";

export function nodeAgentCommand(): Command {
  return new Command("node-agent")
    .description(
      "keeps the node-local apiserver address (and optionally its iptables rules) on this node, repairing drift",
    )
    .option("--ip-address <ip>", "node-local address the apiserver proxy listens on, e.g. 10.96.0.2")
    .option(
      "--interface <name>",
      "interface that holds the addresses; created as a dummy interface when missing (except lo)",
      "lo",
    )
    .option(
      "--kubernetes-service-ip-address <ip>",
      "also hold the kubernetes Service address, e.g. 10.96.0.1",
    )
    .option(
      "--setup-iptables [bool]",
      "insert the NOTRACK and ACCEPT rules for --ip-address and --port",
      false,
    )
    .option("--port <port>", "port of the node-local apiserver proxy (used by the iptables rules)", "443")
    .option("--sync-interval <duration>", "how often the setup is checked and repaired", "1m")
    .option(
      "--daemon [bool]",
      "keep running and re-check every --sync-interval; false = one pass, then exit",
      "true",
    )
    .option(
      "--cleanup [bool]",
      "on SIGTERM/SIGINT remove the addresses, the rules and an interface the agent created",
      false,
    )
    .action(async (raw) => {
      const o = parseOptions(nodeAgentSchema, raw);
      // Loaded on use: `kubegate certs` should not pay for the servers' dependencies.
      const { NodeAgent, syncLoop } = await import("../node/agent.ts");
      const { execRunner, CommandError } = await import("../node/exec.ts");
      const { IpRoute, hostPrefix } = await import("../node/iproute.ts");
      const { Iptables } = await import("../node/iptables.ts");
      const log = createLogger();
      const runner = execRunner();
      const addresses = [
        o.ipAddress,
        ...(o.kubernetesServiceIpAddress ? [o.kubernetesServiceIpAddress] : []),
      ];
      const agent = new NodeAgent(
        { addresses, interfaceName: o.interface, setupIptables: o.setupIptables, port: o.port },
        new IpRoute(runner),
        new Iptables(runner),
      );
      const summary =
        `${addresses.map((a) => `${a}/${hostPrefix(a)}`).join(", ")} on ${o.interface}` +
        (o.setupIptables ? `, iptables rules for port ${o.port}` : "");

      // Listen for the stop signals before anything is set up or announced: a signal that arrives early
      // (even right after the "running" line reached a fast reader) must still stop cleanly.
      const stopSignal = o.daemon ? signalled() : undefined;
      let changes: string[];
      try {
        changes = await agent.sync();
      } catch (err) {
        if (err instanceof CommandError) {
          const root = process.getuid?.() === 0 ? "" : " (it needs root, or CAP_NET_ADMIN, on the node)";
          throw new KubegateError(`node-agent could not set up ${summary}${root}: ${err.message}`);
        }
        throw err;
      }
      log.info(
        { changes },
        changes.length > 0 ? "node-local setup applied" : "node-local setup already in place",
      );
      if (!stopSignal) {
        console.log(
          `kubegate node-agent: ${summary}: ${changes.length > 0 ? `changed (${changes.join("; ")})` : "already in place"}`,
        );
        return;
      }

      console.log(`kubegate node-agent running: ${summary}; checking every ${raw.syncInterval}`);
      const stopping = new AbortController();
      const loop = syncLoop(agent, o.syncInterval, stopping.signal, log);
      const signal = await stopSignal;
      log.info({ signal, cleanup: o.cleanup }, "node-agent stopping");
      stopping.abort();
      await loop;
      let code = 0;
      if (o.cleanup) {
        try {
          log.info({ removed: await agent.cleanup() }, "node-local setup removed");
        } catch (err) {
          log.error({ err: (err as Error).message }, "node-local setup not fully removed");
          code = 1;
        }
      }
      log.flush(() => process.exit(code));
    });
}
