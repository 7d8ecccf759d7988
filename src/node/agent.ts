import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../observability/logger.ts";
import { KubegateError } from "../status/errors.ts";
import { CommandError } from "./exec.ts";
import { hostPrefix, type IpRoute, type Link } from "./iproute.ts";
import { describeRule, type Iptables, nodeLocalRules, type Rule } from "./iptables.ts";

export interface AgentConfig {
  /** The node-local address the proxy listens on, then (optionally) the kubernetes Service address. */
  addresses: string[];
  /** The interface that holds the addresses; created as a dummy when missing (never `lo`). */
  interfaceName: string;
  setupIptables: boolean;
  /** The port of the node-local proxy, matched by the iptables rules. */
  port: number;
}

const has = (link: Link | undefined, ip: string) =>
  link?.addresses.some((a) => a.local === ip && a.prefixlen === hostPrefix(ip)) ?? false;

/**
 * Puts the node-local apiserver addresses (and optionally the seed's iptables rules) in place and keeps
 * them there. Every pass reads the kernel's state first and changes only what differs, so a pass on a
 * node that is already set up changes nothing, and one after drift repairs exactly the drift.
 */
export class NodeAgent {
  private created = false;
  private readonly rules: Rule[];

  constructor(
    private readonly config: AgentConfig,
    private readonly ip: IpRoute,
    private readonly iptables: Iptables,
  ) {
    const [proxyAddress] = config.addresses;
    this.rules = config.setupIptables && proxyAddress ? nodeLocalRules(proxyAddress, config.port) : [];
  }

  /** Whether this agent created its interface (and so removes it on cleanup). */
  get createdInterface(): boolean {
    return this.created;
  }

  /** One pass; returns what it changed, in words (empty when everything was in place). */
  async sync(): Promise<string[]> {
    const changes: string[] = [];
    const dev = this.config.interfaceName;
    let links = await this.ip.links();
    this.refuseNetworkAddresses(links);

    if (!links.some((l) => l.name === dev)) {
      if (dev === "lo")
        throw new KubegateError("interface lo does not exist: this is not a usable network namespace", {
          code: "KUBEGATE_NO_LOOPBACK",
        });
      try {
        const kind = await this.ip.createInterface(dev);
        changes.push(`created interface ${dev} (${kind})`);
        this.created = true;
      } catch (err) {
        // Someone else may have created it between the listing and now; that is as good.
        links = await this.ip.links();
        if (!links.some((l) => l.name === dev)) throw err;
      }
      links = await this.ip.links();
    }
    const target = links.find((l) => l.name === dev);
    if (target && !target.up) {
      await this.ip.setUp(dev);
      changes.push(`set ${dev} up`);
    }

    for (const address of this.config.addresses) {
      for (const other of links) {
        if (other.name === dev) continue;
        for (const a of other.addresses.filter((x) => x.local === address)) {
          await this.ip.deleteAddress(address, a.prefixlen, other.name);
          changes.push(`removed ${address}/${a.prefixlen} from ${other.name}`);
        }
      }
      if (!has(target, address)) {
        try {
          await this.ip.addAddress(address, dev);
        } catch (err) {
          // "File exists": added concurrently. Already present is success; anything else is not.
          if (
            !(err instanceof CommandError) ||
            !has(
              (await this.ip.links()).find((l) => l.name === dev),
              address,
            )
          )
            throw err;
        }
        changes.push(`added ${address}/${hostPrefix(address)} to ${dev}`);
      }
    }

    // Each missing rule goes to the top of its chain; inserting from the last one keeps the seed's order.
    const inserted: string[] = [];
    for (const rule of [...this.rules].reverse()) {
      if (await this.iptables.ensure(rule)) inserted.unshift(`inserted ${describeRule(rule)}`);
    }
    return [...changes, ...inserted];
  }

  /**
   * Undoes the setup: the rules, the addresses on the interface, and the interface itself when this agent
   * created it. Keeps going past a failing step so that as much as possible is removed, then reports.
   */
  async cleanup(): Promise<string[]> {
    const changes: string[] = [];
    const errors: string[] = [];
    const attempt = async (what: string, step: () => Promise<void>) => {
      try {
        await step();
      } catch (err) {
        errors.push(`${what}: ${(err as Error).message}`);
      }
    };
    for (const rule of this.rules) {
      await attempt(`removing ${describeRule(rule)}`, async () => {
        if ((await this.iptables.remove(rule)) > 0) changes.push(`deleted ${describeRule(rule)}`);
      });
    }
    const dev = this.config.interfaceName;
    await attempt(`removing the addresses from ${dev}`, async () => {
      const target = (await this.ip.links()).find((l) => l.name === dev);
      if (!target) return;
      for (const address of this.config.addresses) {
        if (!has(target, address)) continue;
        await this.ip.deleteAddress(address, hostPrefix(address), dev);
        changes.push(`removed ${address}/${hostPrefix(address)} from ${dev}`);
      }
      if (this.created) {
        await this.ip.deleteLink(dev);
        changes.push(`deleted interface ${dev}`);
      }
    });
    if (errors.length > 0) throw new KubegateError(`cleanup incomplete:\n  ${errors.join("\n  ")}`);
    return changes;
  }

  /**
   * Moving a host (/32, /128) address between interfaces is what the agent is for. The same address with
   * a shorter prefix is a network address of this node (its primary IP, say); taking it away would cut the
   * node off, and doing so every sync interval would keep it cut off. Refuse instead.
   */
  private refuseNetworkAddresses(links: Link[]): void {
    for (const address of this.config.addresses) {
      for (const link of links) {
        const clash = link.addresses.find((a) => a.local === address && a.prefixlen !== hostPrefix(address));
        if (clash) {
          throw new KubegateError(
            `${address} is configured as ${address}/${clash.prefixlen} on ${link.name}, which looks like a ` +
              `network address of this node; kubegate node-agent only manages ${address}/${hostPrefix(address)} ` +
              "and will not move it. Choose an address that is not in use.",
            { code: "KUBEGATE_ADDRESS_IN_USE" },
          );
        }
      }
    }
  }
}

/**
 * Re-runs the agent's pass every `intervalMs` until `signal` aborts; a failing pass is logged and tried
 * again at the next interval. Resolves after the pass in progress (if any) has finished.
 */
export async function syncLoop(agent: NodeAgent, intervalMs: number, signal: AbortSignal, log: Logger) {
  let failures = 0;
  while (!signal.aborted) {
    try {
      await sleep(intervalMs, undefined, { signal });
    } catch {
      return; // aborted while waiting
    }
    try {
      const changes = await agent.sync();
      if (changes.length > 0) log.warn({ changes }, "node-local setup had drifted; repaired");
      else log.debug("node-local setup in place");
      if (failures > 0) log.info({ failures }, "sync passes succeed again");
      failures = 0;
    } catch (err) {
      failures++;
      log.error({ err: (err as Error).message, failures }, "sync pass failed; retrying at the next interval");
    }
  }
}
