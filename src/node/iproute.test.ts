import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Runner } from "./exec.ts";
import { addAddressArgs, canonicalIp, IpRoute, isInterfaceName, parseLinks } from "./iproute.ts";

/** Records every command and answers from a script: exit code per command line. */
function recorder(answers: Record<string, { code?: number; stdout?: string; stderr?: string }> = {}) {
  const calls: string[] = [];
  const run: Runner = async (file, args) => {
    const line = [file, ...args].join(" ");
    calls.push(line);
    const a = answers[line] ?? {};
    return { code: a.code ?? 0, stdout: a.stdout ?? "", stderr: a.stderr ?? "" };
  };
  return { calls, run };
}

// Trimmed from real `ip -json -details addr show` output (iproute2 6.1).
const SAMPLE = JSON.stringify([
  {
    ifindex: 1,
    ifname: "lo",
    flags: ["LOOPBACK", "UP", "LOWER_UP"],
    addr_info: [
      { family: "inet", local: "127.0.0.1", prefixlen: 8, scope: "host" },
      { family: "inet6", local: "::1", prefixlen: 128, scope: "host" },
    ],
  },
  {
    ifindex: 2,
    ifname: "kgnode0",
    flags: ["BROADCAST", "NOARP"],
    linkinfo: { info_kind: "dummy" },
    addr_info: [
      { family: "inet", local: "10.96.0.2", prefixlen: 32, scope: "global", label: "kgnode0" },
      { family: "inet6", local: "FD00:0096::2", prefixlen: 128, nodad: true },
    ],
  },
  { ifindex: 3, ifname: "eth0", flags: ["UP"], addr_info: [] },
]);

describe("ip -json parsing", () => {
  it("reads names, up flag, kind and addresses (canonical IPv6)", () => {
    assert.deepEqual(parseLinks(SAMPLE), [
      {
        name: "lo",
        up: true,
        kind: undefined,
        addresses: [
          { family: 4, local: "127.0.0.1", prefixlen: 8 },
          { family: 6, local: "::1", prefixlen: 128 },
        ],
      },
      {
        name: "kgnode0",
        up: false,
        kind: "dummy",
        addresses: [
          { family: 4, local: "10.96.0.2", prefixlen: 32 },
          { family: 6, local: "fd00:96::2", prefixlen: 128 },
        ],
      },
      { name: "eth0", up: true, kind: undefined, addresses: [] },
    ]);
  });
  it("empty output is no links; output that is not ip's JSON is an error", () => {
    assert.deepEqual(parseLinks(""), []);
    assert.throws(() => parseLinks('[{"name":"x"}]'));
    assert.throws(() => parseLinks("1: lo: <LOOPBACK,UP>"));
  });
  it("canonical IPs", () => {
    assert.equal(canonicalIp("FD00:0:0::0002"), "fd00::2");
    assert.equal(canonicalIp("10.96.0.2"), "10.96.0.2");
    assert.throws(() => canonicalIp("10.96.0"));
  });
});

describe("ip command lines (argument arrays, no shell)", () => {
  it("adds a host address: /32 for IPv4, /128 without DAD for IPv6", () => {
    assert.deepEqual(addAddressArgs("10.96.0.2", "lo"), ["-4", "addr", "add", "10.96.0.2/32", "dev", "lo"]);
    assert.deepEqual(addAddressArgs("fd00::2", "kg0"), [
      "-6",
      "addr",
      "add",
      "fd00::2/128",
      "dev",
      "kg0",
      "nodad",
    ]);
  });
  it("reads, deletes, sets up, deletes links", async () => {
    const r = recorder({ "ip -json -details addr show": { stdout: SAMPLE } });
    const ip = new IpRoute(r.run);
    assert.equal((await ip.links()).length, 3);
    await ip.deleteAddress("10.96.0.2", 24, "eth0");
    await ip.setUp("kgnode0");
    await ip.deleteLink("kgnode0");
    assert.deepEqual(r.calls, [
      "ip -json -details addr show",
      "ip -4 addr del 10.96.0.2/24 dev eth0",
      "ip link set dev kgnode0 up",
      "ip link del dev kgnode0",
    ]);
  });
  it("creates a dummy interface, or an empty bridge where the kernel has no dummy driver", async () => {
    const ok = recorder();
    assert.equal(await new IpRoute(ok.run).createInterface("kg0"), "dummy");
    assert.deepEqual(ok.calls, ["ip link add name kg0 type dummy"]);

    const noDummy = recorder({
      "ip link add name kg0 type dummy": { code: 2, stderr: "Error: Unknown device type." },
    });
    assert.equal(await new IpRoute(noDummy.run).createInterface("kg0"), "bridge");
    assert.deepEqual(noDummy.calls, ["ip link add name kg0 type dummy", "ip link add name kg0 type bridge"]);

    const denied = recorder({
      "ip link add name kg0 type dummy": { code: 2, stderr: "RTNETLINK answers: Operation not permitted" },
      "ip link add name kg0 type bridge": { code: 2, stderr: "RTNETLINK answers: Operation not permitted" },
    });
    await assert.rejects(
      new IpRoute(denied.run).createInterface("kg0"),
      /type dummy: exit 2: .*not permitted/,
    );
  });
  it("a failing command names itself and what it printed", async () => {
    const r = recorder({
      "ip -4 addr add 10.96.0.2/32 dev nope": { code: 1, stderr: 'Cannot find device "nope"' },
    });
    await assert.rejects(
      new IpRoute(r.run).addAddress("10.96.0.2", "nope"),
      /ip -4 addr add 10\.96\.0\.2\/32 dev nope: exit 1: Cannot find device "nope"/,
    );
  });
});

describe("interface names", () => {
  it("accepts what the kernel accepts", () => {
    for (const n of ["lo", "kgnode0", "eth0.100", "a", "x".repeat(15), "kube-ipvs0"])
      assert.ok(isInterfaceName(n), n);
  });
  it("refuses empty, too long, '/', ':', whitespace, '.' and '..'", () => {
    for (const n of ["", "x".repeat(16), "a/b", "eth0:1", "a b", "a\tb", ".", "..", "a\u0001"])
      assert.ok(!isInterfaceName(n), JSON.stringify(n));
  });
});
