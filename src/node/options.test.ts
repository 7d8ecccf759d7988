import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apiserverProxyCommand } from "../cli/apiserver-proxy.ts";
import { run } from "../cli/main.ts";
import { nodeAgentCommand } from "../cli/node-agent.ts";
import { parseOptions } from "../config/validate.ts";
import { apiserverProxySchema, isUsableUnicast, nodeAgentSchema } from "./options.ts";

/** What commander hands the action for these arguments (the action itself is replaced: nothing runs). */
async function rawOptions(make: () => ReturnType<typeof nodeAgentCommand>, args: string[]) {
  let raw: Record<string, unknown> = {};
  const cmd = make().exitOverride();
  cmd.action((o) => {
    raw = o;
  });
  await cmd.parseAsync(args, { from: "user" });
  return raw;
}
const agent = async (...args: string[]) =>
  parseOptions(nodeAgentSchema, await rawOptions(nodeAgentCommand, args));
const proxy = async (...args: string[]) =>
  parseOptions(apiserverProxySchema, await rawOptions(apiserverProxyCommand, args));

/** Runs the real CLI in-process and captures its error output. */
async function cli(...args: string[]) {
  const err: string[] = [];
  const saved = { error: console.error, write: process.stderr.write };
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  process.stderr.write = ((c: string) => err.push(String(c)) > 0) as typeof process.stderr.write;
  try {
    return { code: await run(args), err: err.join("\n") };
  } finally {
    console.error = saved.error;
    process.stderr.write = saved.write;
  }
}

describe("node-agent flags", () => {
  it("defaults follow the seed (lo, daemon, 1m) with port 443", async () => {
    assert.deepEqual(await agent("--ip-address", "10.96.0.2"), {
      ipAddress: "10.96.0.2",
      interface: "lo",
      setupIptables: false,
      port: 443,
      syncInterval: 60_000,
      daemon: true,
      cleanup: false,
    });
  });
  it("pflag-style booleans: --flag, --flag=true|false", async () => {
    const o = await agent(
      "--ip-address=fd00:0::2",
      "--kubernetes-service-ip-address",
      "10.96.0.1",
      "--setup-iptables",
      "--daemon=false",
      "--sync-interval",
      "30s",
      "--interface",
      "kgnode0",
    );
    assert.equal(o.ipAddress, "fd00::2");
    assert.equal(o.kubernetesServiceIpAddress, "10.96.0.1");
    assert.equal(o.setupIptables, true);
    assert.equal(o.daemon, false);
    assert.equal(o.syncInterval, 30_000);
    assert.equal((await agent("--ip-address", "10.96.0.2", "--daemon", "--cleanup=true")).cleanup, true);
    assert.equal((await agent("--ip-address", "10.96.0.2", "--setup-iptables=false")).setupIptables, false);
  });
  const refused: [string[], RegExp][] = [
    [[], /--ip-address: is required/],
    [["--ip-address", "10.96.0.256"], /--ip-address: must be an IPv4 or IPv6 address/],
    [["--ip-address", "kubernetes"], /--ip-address: must be an IPv4 or IPv6 address/],
    [["--ip-address", "127.0.0.5"], /--ip-address: must be a unicast address/],
    [
      ["--ip-address", "10.96.0.2", "--kubernetes-service-ip-address", "x"],
      /--kubernetes-service-ip-address: must be/,
    ],
    [
      ["--ip-address", "10.96.0.2", "--kubernetes-service-ip-address", "10.96.0.2"],
      /must differ from --ip-address/,
    ],
    [["--ip-address", "10.96.0.2", "--interface", "a/b"], /--interface: must be an interface name/],
    [
      ["--ip-address", "10.96.0.2", "--interface", "much-too-long-name"],
      /--interface: must be an interface name/,
    ],
    [["--ip-address", "10.96.0.2", "--port", "0"], /--port: must be 1-65535/],
    [["--ip-address", "10.96.0.2", "--port", "https"], /--port: must be a port number/],
    [["--ip-address", "10.96.0.2", "--sync-interval", "soon"], /--sync-interval: must be a duration/],
    [["--ip-address", "10.96.0.2", "--sync-interval", "10ms"], /--sync-interval: must be at least 100ms/],
    [["--ip-address", "10.96.0.2", "--daemon=maybe"], /--daemon: must be true or false \(got "maybe"\)/],
    [["--ip-address", "10.96.0.2", "--daemon=false", "--cleanup"], /--cleanup: .*needs --daemon=true/],
  ];
  for (const [args, message] of refused) {
    it(`refuses ${args.join(" ") || "no flags"}`, async () => {
      await assert.rejects(agent(...args), message);
    });
  }
  it("through the CLI: exit code 1 and the reason, before touching the node", async () => {
    const r = await cli("node-agent", "--ip-address", "300.1.1.1", "--interface", "eth0:1");
    assert.equal(r.code, 1);
    assert.match(r.err, /error: invalid options:\n {2}--ip-address: .*\n {2}--interface: /);
    const missing = await cli("node-agent");
    assert.equal(missing.code, 1);
    assert.match(missing.err, /--ip-address: is required/);
  });
  it("usable addresses", () => {
    for (const ip of ["10.96.0.2", "169.254.20.10", "fd00::2", "2001:db8::1"])
      assert.ok(isUsableUnicast(ip), ip);
    for (const ip of ["0.0.0.0", "127.0.0.1", "224.0.0.1", "255.255.255.255", "::", "::1", "ff02::1"])
      assert.ok(!isUsableUnicast(ip), ip);
  });
});

describe("apiserver-proxy flags", () => {
  it("listen, upstream by IP or DNS name, PROXY protocol version, limits", async () => {
    const o = await proxy(
      ...["--listen", "10.96.0.2:443", "--upstream", "api.example.com:6443", "--proxy-protocol", "v2"],
      ...["--max-connections", "10", "--metrics-listen", "127.0.0.1:0", "--address-wait", "2s"],
    );
    assert.deepEqual(o, {
      listen: { host: "10.96.0.2", port: 443 },
      upstream: { host: "api.example.com", port: 6443 },
      proxyProtocol: "v2",
      maxConnections: 10,
      connectTimeout: 5000,
      metricsListen: { host: "127.0.0.1", port: 0 },
      shutdownGrace: 10_000,
      addressWait: 2000,
    });
    const v6 = await proxy("--listen", "[fd00::2]:443", "--upstream", "[2001:db8::1]:443");
    assert.deepEqual(v6.listen, { host: "fd00::2", port: 443 });
    assert.deepEqual(v6.upstream, { host: "2001:db8::1", port: 443 });
    assert.equal(v6.proxyProtocol, undefined);
  });
  const refused: [string[], RegExp][] = [
    [["--upstream", "10.0.0.1:443"], /--listen: is required/],
    [["--listen", "10.96.0.2:443"], /--upstream: is required/],
    [["--listen", "10.96.0.2", "--upstream", "10.0.0.1:443"], /--listen: must be HOST:PORT/],
    [["--listen", "10.96.0.2:443", "--upstream", "10.0.0.1"], /--upstream: must be HOST:PORT/],
    [["--listen", "10.96.0.2:443", "--upstream", "10.0.0.1:0"], /--upstream: must be HOST:PORT/],
    [["--listen", "10.96.0.2:443", "--upstream", "bad_name!:443"], /--upstream: host must be/],
    [
      ["--listen", "10.96.0.2:443", "--upstream", "a:1", "--proxy-protocol", "v3"],
      /--proxy-protocol: must be "v1" or "v2"/,
    ],
    [
      ["--listen", "10.96.0.2:443", "--upstream", "a:1", "--max-connections", "0"],
      /--max-connections: must be at least 1/,
    ],
  ];
  for (const [args, message] of refused) {
    it(`refuses ${args.join(" ")}`, async () => {
      await assert.rejects(proxy(...args), message);
    });
  }
});
