import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CommandError, Runner } from "./exec.ts";
import { describeRule, Iptables, nodeLocalRules, ruleArgs } from "./iptables.ts";

describe("the seed's five rules", () => {
  it("are exactly the seed's rules for --ip-address=10.96.0.2 --port 443", () => {
    // From the seed (002), written as `iptables -t TABLE -A CHAIN ...`.
    assert.deepEqual(nodeLocalRules("10.96.0.2", 443).map(describeRule), [
      "iptables -t raw -A PREROUTING -d 10.96.0.2/32 -p tcp -m tcp --dport 443 -j NOTRACK",
      "iptables -t raw -A OUTPUT -d 10.96.0.2/32 -p tcp -m tcp --dport 443 -j NOTRACK",
      "iptables -t raw -A OUTPUT -s 10.96.0.2/32 -p tcp -m tcp --sport 443 -j NOTRACK",
      "iptables -t filter -A INPUT -d 10.96.0.2/32 -p tcp -m tcp --dport 443 -j ACCEPT",
      "iptables -t filter -A OUTPUT -s 10.96.0.2/32 -p tcp -m tcp --sport 443 -j ACCEPT",
    ]);
  });
  it("use ip6tables and /128 for an IPv6 address", () => {
    const [first] = nodeLocalRules("fd00::2", 8443);
    assert.ok(first);
    assert.equal(
      describeRule(first),
      "ip6tables -t raw -A PREROUTING -d fd00::2/128 -p tcp -m tcp --dport 8443 -j NOTRACK",
    );
  });
  it("every operation waits for the xtables lock (-w) and names table and chain", () => {
    const [rule] = nodeLocalRules("10.96.0.2", 443);
    assert.ok(rule);
    assert.deepEqual(ruleArgs("-C", rule), [
      ...["-w", "5", "-t", "raw", "-C", "PREROUTING"],
      ...["-d", "10.96.0.2/32", "-p", "tcp", "-m", "tcp", "--dport", "443", "-j", "NOTRACK"],
    ]);
  });
});

describe("check before insert", () => {
  const [rule] = nodeLocalRules("10.96.0.2", 443);
  assert.ok(rule);
  const scripted = (codes: number[]) => {
    const calls: string[] = [];
    const run: Runner = async (file, args) => {
      calls.push(`${file} ${args[4]}`);
      return { code: codes.shift() ?? 0, stdout: "", stderr: "iptables: something" };
    };
    return { calls, iptables: new Iptables(run) };
  };
  it("a present rule (-C exit 0) is left alone", async () => {
    const s = scripted([0]);
    assert.equal(await s.iptables.ensure(rule), false);
    assert.deepEqual(s.calls, ["iptables -C"]);
  });
  it("an absent rule (-C exit 1) is inserted with -I", async () => {
    const s = scripted([1, 0]);
    assert.equal(await s.iptables.ensure(rule), true);
    assert.deepEqual(s.calls, ["iptables -C", "iptables -I"]);
  });
  it("any other -C exit (bad rule, lock timeout) is an error, not a reason to insert", async () => {
    const s = scripted([4]);
    await assert.rejects(
      s.iptables.ensure(rule),
      (err: CommandError) =>
        err.code === "KUBEGATE_COMMAND_FAILED" && err.file === "iptables" && err.args.includes("-C"),
    );
    assert.deepEqual(s.calls, ["iptables -C"]);
  });
  it("remove deletes every copy, then stops", async () => {
    const s = scripted([0, 0, 0, 0, 1]);
    assert.equal(await s.iptables.remove(rule), 2);
    assert.deepEqual(s.calls, ["iptables -C", "iptables -D", "iptables -C", "iptables -D", "iptables -C"]);
  });
});
