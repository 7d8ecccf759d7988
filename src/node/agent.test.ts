import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { NodeAgent, syncLoop } from "./agent.ts";
import type { Runner } from "./exec.ts";
import { IpRoute } from "./iproute.ts";
import { Iptables } from "./iptables.ts";

interface FakeLink {
  up: boolean;
  kind?: string;
  addrs: { local: string; prefixlen: number }[];
}

/**
 * A model of the kernel as `ip` and `iptables` show it, driven by the same command lines the agent sends
 * to the real tools (so a wrong argument shows up here as a failed command).
 */
class FakeNode {
  links = new Map<string, FakeLink>([["lo", { up: true, addrs: [{ local: "127.0.0.1", prefixlen: 8 }] }]]);
  rules: string[] = [];
  dummySupported = true;
  calls: string[] = [];

  readonly run: Runner = async (file, args) => {
    this.calls.push([file, ...args].join(" "));
    const ok = (stdout = "") => ({ code: 0, stdout, stderr: "" });
    const fail = (code: number, stderr: string) => ({ code, stdout: "", stderr });
    const a = [...args];
    if (file === "ip") {
      if (a.join(" ") === "-json -details addr show") {
        return ok(
          JSON.stringify(
            [...this.links].map(([name, l], i) => ({
              ifindex: i + 1,
              ifname: name,
              flags: l.up ? ["UP"] : [],
              ...(l.kind ? { linkinfo: { info_kind: l.kind } } : {}),
              addr_info: l.addrs.map((x) => ({ family: x.local.includes(":") ? "inet6" : "inet", ...x })),
            })),
          ),
        );
      }
      if (a[1] === "addr" && (a[2] === "add" || a[2] === "del") && a[4] === "dev") {
        const link = this.links.get(a[5] ?? "");
        if (!link) return fail(1, `Cannot find device "${a[5]}"`);
        const [local, prefix] = (a[3] ?? "").split("/");
        const i = link.addrs.findIndex((x) => x.local === local && x.prefixlen === Number(prefix));
        if (a[2] === "add") {
          if (i >= 0) return fail(2, "RTNETLINK answers: File exists");
          link.addrs.push({ local: local ?? "", prefixlen: Number(prefix) });
        } else {
          if (i < 0) return fail(2, "RTNETLINK answers: Cannot assign requested address");
          link.addrs.splice(i, 1);
        }
        return ok();
      }
      if (a.join(" ").match(/^link set dev \S+ up$/)) {
        const link = this.links.get(a[3] ?? "");
        if (!link) return fail(1, "Cannot find device");
        link.up = true;
        return ok();
      }
      if (a[0] === "link" && a[1] === "add" && a[2] === "name" && a[4] === "type") {
        if (a[5] === "dummy" && !this.dummySupported) return fail(2, "Error: Unknown device type.");
        if (this.links.has(a[3] ?? "")) return fail(2, "RTNETLINK answers: File exists");
        this.links.set(a[3] ?? "", { up: false, kind: a[5] ?? "", addrs: [] });
        return ok();
      }
      if (a[0] === "link" && a[1] === "del" && a[2] === "dev") {
        return this.links.delete(a[3] ?? "") ? ok() : fail(1, "Cannot find device");
      }
      return fail(255, `fake ip: unknown command ${a.join(" ")}`);
    }
    if (file === "iptables" || file === "ip6tables") {
      assert.deepEqual(a.slice(0, 2), ["-w", "5"], "every iptables call waits for the lock");
      assert.equal(a[2], "-t");
      const key = `${file} ${a[3]} ${a[5]} ${a.slice(6).join(" ")}`;
      const i = this.rules.indexOf(key);
      if (a[4] === "-C") return i >= 0 ? ok() : fail(1, "Bad rule");
      if (a[4] === "-I") this.rules.unshift(key);
      else if (a[4] === "-D") {
        if (i < 0) return fail(1, "Bad rule");
        this.rules.splice(i, 1);
      } else return fail(2, "bad option");
      return ok();
    }
    return fail(127, `${file}: not found`);
  };

  addressesOf(name: string) {
    return this.links.get(name)?.addrs.map((x) => `${x.local}/${x.prefixlen}`);
  }
}

const agentOn = (node: FakeNode, over: Partial<ConstructorParameters<typeof NodeAgent>[0]> = {}) =>
  new NodeAgent(
    {
      addresses: ["10.96.0.2", "10.96.0.1"],
      interfaceName: "kgnode0",
      setupIptables: true,
      port: 443,
      ...over,
    },
    new IpRoute(node.run),
    new Iptables(node.run),
  );

describe("node agent passes", () => {
  it("first pass: creates the dummy interface, brings it up, adds both /32s and the five rules", async () => {
    const node = new FakeNode();
    const changes = await agentOn(node).sync();
    assert.deepEqual(node.links.get("kgnode0"), {
      up: true,
      kind: "dummy",
      addrs: [
        { local: "10.96.0.2", prefixlen: 32 },
        { local: "10.96.0.1", prefixlen: 32 },
      ],
    });
    assert.equal(node.rules.length, 5);
    // Inserted from the last, so the chains read in the seed's order.
    assert.deepEqual(
      node.rules.filter((r) => r.startsWith("iptables raw OUTPUT")),
      [
        "iptables raw OUTPUT -d 10.96.0.2/32 -p tcp -m tcp --dport 443 -j NOTRACK",
        "iptables raw OUTPUT -s 10.96.0.2/32 -p tcp -m tcp --sport 443 -j NOTRACK",
      ],
    );
    assert.equal(changes.length, 1 + 1 + 2 + 5);
    assert.match(changes[0] ?? "", /created interface kgnode0 \(dummy\)/);
  });

  it("a second pass changes nothing and only reads (idempotent: no duplicate rules)", async () => {
    const node = new FakeNode();
    const agent = agentOn(node);
    await agent.sync();
    node.calls = [];
    assert.deepEqual(await agent.sync(), []);
    assert.equal(node.rules.length, 5);
    assert.ok(
      node.calls.every((c) => c.includes(" -C ") || c === "ip -json -details addr show"),
      node.calls.join("\n"),
    );
  });

  it("repairs drift: a removed address, a deleted rule, a downed or deleted interface", async () => {
    const node = new FakeNode();
    const agent = agentOn(node);
    await agent.sync();
    const link = node.links.get("kgnode0");
    assert.ok(link);
    link.addrs.shift();
    link.up = false;
    node.rules.splice(3, 1);
    const changes = await agent.sync();
    assert.equal(changes.length, 3, changes.join("\n"));
    assert.deepEqual(node.addressesOf("kgnode0")?.sort(), ["10.96.0.1/32", "10.96.0.2/32"]);
    assert.equal(node.rules.length, 5);
    node.links.delete("kgnode0");
    assert.match((await agent.sync()).join("\n"), /created interface kgnode0/);
    assert.deepEqual(node.addressesOf("kgnode0")?.sort(), ["10.96.0.1/32", "10.96.0.2/32"]);
  });

  it("moves the address off other interfaces; an address already in place is success", async () => {
    const node = new FakeNode();
    node.links.get("lo")?.addrs.push({ local: "10.96.0.2", prefixlen: 32 });
    node.links.set("kgnode0", { up: true, kind: "dummy", addrs: [{ local: "10.96.0.1", prefixlen: 32 }] });
    const changes = await agentOn(node, { setupIptables: false }).sync();
    assert.deepEqual(changes, ["removed 10.96.0.2/32 from lo", "added 10.96.0.2/32 to kgnode0"]);
    assert.deepEqual(node.addressesOf("lo"), ["127.0.0.1/8"]);
    assert.equal(node.rules.length, 0);
  });

  it("falls back to an empty bridge where the kernel has no dummy driver", async () => {
    const node = new FakeNode();
    node.dummySupported = false;
    await agentOn(node).sync();
    assert.equal(node.links.get("kgnode0")?.kind, "bridge");
  });

  it("never creates lo; refuses to move an address that is a network address of the node", async () => {
    const noLo = new FakeNode();
    noLo.links.clear();
    await assert.rejects(agentOn(noLo, { interfaceName: "lo" }).sync(), { code: "KUBEGATE_NO_LOOPBACK" });
    const node = new FakeNode();
    node.links.set("eth0", { up: true, addrs: [{ local: "10.96.0.2", prefixlen: 24 }] });
    await assert.rejects(agentOn(node).sync(), { code: "KUBEGATE_ADDRESS_IN_USE" });
    assert.deepEqual(node.addressesOf("eth0"), ["10.96.0.2/24"]);
  });

  it("IPv6: /128, ip6tables", async () => {
    const node = new FakeNode();
    await agentOn(node, { addresses: ["fd00::2"] }).sync();
    assert.deepEqual(node.addressesOf("kgnode0"), ["fd00::2/128"]);
    assert.ok(node.calls.includes("ip -6 addr add fd00::2/128 dev kgnode0 nodad"));
    assert.ok(node.rules.every((r) => r.startsWith("ip6tables ") && r.includes("fd00::2/128")));
  });
});

describe("cleanup", () => {
  it("removes the rules, the addresses and the interface it created", async () => {
    const node = new FakeNode();
    const agent = agentOn(node);
    await agent.sync();
    const removed = await agent.cleanup();
    assert.equal(removed.length, 5 + 2 + 1);
    assert.equal(node.rules.length, 0);
    assert.equal(node.links.has("kgnode0"), false);
    assert.deepEqual([...node.links.keys()], ["lo"]);
  });
  it("leaves an interface it did not create (lo) in place, without its addresses", async () => {
    const node = new FakeNode();
    const agent = agentOn(node, { interfaceName: "lo" });
    await agent.sync();
    assert.equal(agent.createdInterface, false);
    await agent.cleanup();
    assert.deepEqual(node.addressesOf("lo"), ["127.0.0.1/8"]);
    assert.equal(node.rules.length, 0);
  });
  it("is a no-op when nothing is there", async () => {
    assert.deepEqual(await agentOn(new FakeNode()).cleanup(), []);
  });
});

describe("sync loop", () => {
  it("repairs on every interval, survives a failing pass, stops on abort", async () => {
    const node = new FakeNode();
    const agent = agentOn(node);
    await agent.sync();
    const lines: string[] = [];
    const log = pino({ level: "debug" }, { write: (s: string) => void lines.push(s) });
    const stop = new AbortController();
    const loop = syncLoop(agent, 20, stop.signal, log);
    node.links.get("kgnode0")?.addrs.splice(0);
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(node.addressesOf("kgnode0")?.sort(), ["10.96.0.1/32", "10.96.0.2/32"]);
    // Passes fail while the address is also a network address elsewhere, and succeed once it is gone.
    node.links.set("eth0", { up: true, addrs: [{ local: "10.96.0.2", prefixlen: 24 }] });
    await new Promise((r) => setTimeout(r, 60));
    node.links.delete("eth0");
    await new Promise((r) => setTimeout(r, 60));
    stop.abort();
    await loop;
    const msgs = lines.map((l) => JSON.parse(l).msg as string);
    assert.ok(msgs.includes("node-local setup had drifted; repaired"), msgs.join("\n"));
    assert.ok(msgs.includes("sync pass failed; retrying at the next interval"));
    assert.ok(msgs.includes("sync passes succeed again"));
  });
});
