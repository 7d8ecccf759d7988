import { isIP } from "node:net";
import { CommandError, type Runner } from "./exec.ts";
import { hostPrefix } from "./iproute.ts";

export interface Rule {
  /** iptables for IPv4 addresses, ip6tables for IPv6. */
  binary: "iptables" | "ip6tables";
  table: "raw" | "filter";
  chain: "PREROUTING" | "INPUT" | "OUTPUT";
  /** The match and target, exactly as given to iptables after the chain name. */
  spec: string[];
}

/** Seconds to wait for the xtables lock before giving up on this pass (the next pass tries again). */
export const LOCK_WAIT_SECONDS = 5;

/**
 * The seed's five rules for a node-local address: no connection tracking for traffic to and from it
 * (it never leaves the machine), and accept it ahead of whatever filtering the node has.
 */
export function nodeLocalRules(ip: string, port: number): Rule[] {
  const binary = isIP(ip) === 6 ? "ip6tables" : "iptables";
  const cidr = `${ip}/${hostPrefix(ip)}`;
  const p = String(port);
  const to = ["-d", cidr, "-p", "tcp", "-m", "tcp", "--dport", p];
  const from = ["-s", cidr, "-p", "tcp", "-m", "tcp", "--sport", p];
  return [
    { binary, table: "raw", chain: "PREROUTING", spec: [...to, "-j", "NOTRACK"] },
    { binary, table: "raw", chain: "OUTPUT", spec: [...to, "-j", "NOTRACK"] },
    { binary, table: "raw", chain: "OUTPUT", spec: [...from, "-j", "NOTRACK"] },
    { binary, table: "filter", chain: "INPUT", spec: [...to, "-j", "ACCEPT"] },
    { binary, table: "filter", chain: "OUTPUT", spec: [...from, "-j", "ACCEPT"] },
  ];
}

/** The rule as iptables-save would print it (for logs and messages). */
export const describeRule = (r: Rule) => `${r.binary} -t ${r.table} -A ${r.chain} ${r.spec.join(" ")}`;

/** The argument array for one iptables operation on a rule: -C (check), -I (insert) or -D (delete). */
export function ruleArgs(op: "-C" | "-I" | "-D", r: Rule): string[] {
  return ["-w", String(LOCK_WAIT_SECONDS), "-t", r.table, op, r.chain, ...r.spec];
}

/** iptables through its own command line, so that iptables-nft and iptables-legacy both work. */
export class Iptables {
  constructor(private readonly run: Runner) {}

  /** `iptables -C`: exit 0 = present, 1 = absent; anything else is an error (bad rule, lock timeout). */
  async exists(r: Rule): Promise<boolean> {
    const res = await this.run(r.binary, ruleArgs("-C", r));
    if (res.code === 0) return true;
    if (res.code === 1) return false;
    throw new CommandError(r.binary, ruleArgs("-C", r), `exit ${res.code}: ${res.stderr.trim()}`);
  }

  /** Inserts the rule at the top of its chain unless `-C` finds it. Returns whether it was inserted. */
  async ensure(r: Rule): Promise<boolean> {
    if (await this.exists(r)) return false;
    const res = await this.run(r.binary, ruleArgs("-I", r));
    if (res.code !== 0) {
      throw new CommandError(r.binary, ruleArgs("-I", r), `exit ${res.code}: ${res.stderr.trim()}`);
    }
    return true;
  }

  /** Deletes every copy of the rule (someone may have added it twice). Returns how many were deleted. */
  async remove(r: Rule): Promise<number> {
    let removed = 0;
    // Bounded: a rule that keeps coming back is someone else's business, not an endless loop of ours.
    while (removed < 100 && (await this.exists(r))) {
      const res = await this.run(r.binary, ruleArgs("-D", r));
      if (res.code !== 0) {
        throw new CommandError(r.binary, ruleArgs("-D", r), `exit ${res.code}: ${res.stderr.trim()}`);
      }
      removed++;
    }
    return removed;
  }
}
