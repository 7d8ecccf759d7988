// The node agent and the apiserver-proxy for real: iproute2 and iptables inside network namespaces this
// file creates (and always deletes), the proxy in front of the test cluster's kube-apiserver, and kubectl.
// Every address used lives only inside those namespaces or on the veth pair between them and the host
// (169.254.0.0/16, link-local): no packet leaves the machine.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { useCluster } from "../cluster/harness.ts";
import { missingCommands } from "../support/system-packages.ts";

const KUBEGATE_BIN = fileURLToPath(new URL("../../bin/kubegate.js", import.meta.url));
const NODE_IP = "10.96.0.2";
const SERVICE_IP = "10.96.0.1";
const IFACE = "kgnode0";
const INTERVAL_MS = 500;

const skip =
  process.platform !== "linux"
    ? "network namespaces need Linux"
    : process.getuid?.() !== 0
      ? "network namespaces and iptables need root"
      : missingCommands(["iptables", "ip"]).length > 0
        ? `${missingCommands(["iptables", "ip"]).join(" and ")} not installed (the e2e setup installs them as root with apt-get)`
        : false;

const cluster = skip ? undefined : await useCluster();

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to completion (stdin closed from the start: `ip` exits faster than a piped stdin could
 * be ended, which would be an EPIPE) and collects its output; a non-zero exit is a result, not an error.
 */
function run(file: string, args: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

async function ok(p: Promise<RunResult>): Promise<string> {
  const r = await p;
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** A short unique suffix for names the kernel limits to 15 characters. */
const uid = `${process.pid % 100_000}${Math.floor(Math.random() * 100)}`;
const namespaces: string[] = [];
const hostLinks: string[] = [];
const processes: ChildProcess[] = [];

after(async () => {
  for (const p of processes) {
    if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  }
  for (const ns of namespaces) await run("ip", ["netns", "del", ns]);
  // Deleting the namespace deletes its veth end and with it the host's; this is for a half-made pair.
  for (const link of hostLinks) await run("ip", ["link", "del", link]);
});

async function newNamespace(name: string): Promise<string> {
  const ns = `kg-e2e-${name}-${uid}`;
  await ok(run("ip", ["netns", "add", ns]));
  namespaces.push(ns);
  await ok(run("ip", ["-n", ns, "link", "set", "lo", "up"]));
  return ns;
}

/** Runs a command inside the namespace. */
const inNs = (ns: string, command: string, ...args: string[]) =>
  run("ip", ["netns", "exec", ns, command, ...args]);
/** Runs the kubegate CLI inside the namespace (ip netns exec execs it: signals reach node directly). */
const kubegateIn = (ns: string, ...args: string[]) => inNs(ns, process.execPath, KUBEGATE_BIN, ...args);

interface Running {
  process: ChildProcess;
  firstLine: string;
  stderr(): string;
  /** Sends the signal and resolves to the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts a long-running kubegate command (in a namespace or not) and waits for its first stdout line. */
function startKubegate(ns: string | undefined, args: string[], timeoutMs = 15_000): Promise<Running> {
  const argv = [process.execPath, KUBEGATE_BIN, ...args];
  const child = ns
    ? spawn("ip", ["netns", "exec", ns, ...argv], { stdio: ["ignore", "pipe", "pipe"] })
    : spawn(argv[0] as string, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  processes.push(child);
  let out = "";
  let err = "";
  child.stderr?.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`kubegate ${args[0]} did not start:\n${err}`));
    }, timeoutMs);
    const early = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`kubegate ${args[0]} exited with ${code}:\n${err}${out}`));
    };
    child.once("exit", early);
    child.stdout?.on("data", (d) => {
      out += d;
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      child.off("exit", early);
      resolve({
        process: child,
        firstLine: out.slice(0, nl),
        stderr: () => err,
        stop: async (signal = "SIGTERM") => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
          try {
            return await exited;
          } finally {
            clearTimeout(killer);
          }
        },
      });
    });
  });
}

/** The interface's global addresses in the namespace, as `ip -json` reports them. */
async function addresses(ns: string, dev: string): Promise<string[]> {
  const r = await run("ip", ["-n", ns, "-json", "addr", "show", "dev", dev]);
  if (r.code !== 0) return [];
  const links = JSON.parse(r.stdout) as {
    addr_info: { local: string; prefixlen: number; scope: string }[];
  }[];
  return links
    .flatMap((l) => l.addr_info)
    .filter((a) => a.scope !== "link")
    .map((a) => `${a.local}/${a.prefixlen}`)
    .sort();
}

/** The rules (-A lines) of the raw and filter tables in the namespace. */
async function rules(ns: string): Promise<string[]> {
  const out: string[] = [];
  for (const table of ["raw", "filter"]) {
    const s = await ok(inNs(ns, "iptables", "-w", "5", "-t", table, "-S"));
    out.push(
      ...s
        .split("\n")
        .filter((l) => l.startsWith("-A "))
        .map((l) => `${table} ${l}`),
    );
  }
  return out.sort();
}

const SEED_RULES = [
  `raw -A PREROUTING -d ${NODE_IP}/32 -p tcp -m tcp --dport 443 -j NOTRACK`,
  `raw -A OUTPUT -d ${NODE_IP}/32 -p tcp -m tcp --dport 443 -j NOTRACK`,
  `raw -A OUTPUT -s ${NODE_IP}/32 -p tcp -m tcp --sport 443 -j NOTRACK`,
  `filter -A INPUT -d ${NODE_IP}/32 -p tcp -m tcp --dport 443 -j ACCEPT`,
  `filter -A OUTPUT -s ${NODE_IP}/32 -p tcp -m tcp --sport 443 -j ACCEPT`,
].sort();

const agentArgs = (...extra: string[]) => [
  "node-agent",
  ...["--ip-address", NODE_IP, "--kubernetes-service-ip-address", SERVICE_IP],
  ...["--interface", IFACE, "--setup-iptables", "--port", "443"],
  ...extra,
];

/** One sample's value from Prometheus text (NaN when absent). */
function metric(text: string, sample: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : Number.NaN;
}

/** Polls until `check` holds; returns how long that took. */
async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - t0;
}

describe("kubegate node-agent in a network namespace", { skip, timeout: 60_000 }, () => {
  it("bad flags: exit 1 with the reason, nothing done", async () => {
    const cases: [string[], RegExp][] = [
      [["node-agent"], /--ip-address: is required/],
      [["node-agent", "--ip-address", "10.96.0.300"], /--ip-address: must be an IPv4 or IPv6 address/],
      [
        ["node-agent", "--ip-address", NODE_IP, "--interface", "no/such"],
        /--interface: must be an interface name/,
      ],
      [["node-agent", "--ip-address", NODE_IP, "--daemon=false", "--cleanup"], /--cleanup: .*--daemon=true/],
      [
        ["node-agent", "--ip-address", NODE_IP, "--sync-interval", "often"],
        /--sync-interval: must be a duration/,
      ],
      [["apiserver-proxy", "--listen", `${NODE_IP}:443`], /--upstream: is required/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(process.execPath, [KUBEGATE_BIN, ...args])));
    results.forEach((r, i) => {
      const [args, message] = cases[i] ?? [[], /./];
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.stderr, message);
    });
  });

  it("apiserver-proxy waits for an address the agent has yet to add, and gives up after --address-wait", async () => {
    const ns = await newNamespace("wait");
    const proxyArgs = ["apiserver-proxy", "--listen", `${NODE_IP}:443`, "--upstream", "127.0.0.1:1"];
    const t0 = Date.now();
    const gaveUp = await kubegateIn(ns, ...proxyArgs, "--address-wait", "1s");
    assert.equal(gaveUp.code, 1);
    assert.match(gaveUp.stderr, /--listen: cannot listen: .*is kubegate node-agent running\?/);
    assert.ok(Date.now() - t0 >= 1000, "it retried for the whole second");
    const starting = startKubegate(ns, [...proxyArgs, "--address-wait", "20s"]);
    await new Promise((r) => setTimeout(r, 1000));
    await ok(run("ip", ["-n", ns, "addr", "add", `${NODE_IP}/32`, "dev", "lo"]));
    const proxy = await starting;
    assert.match(proxy.firstLine, /listening on tcp:\/\/10\.96\.0\.2:443/);
    assert.equal(await proxy.stop(), 0);
  });

  it("one pass (--daemon=false): addresses and the seed's five rules; a second pass changes nothing", async () => {
    const ns = await newNamespace("once");
    // Left over elsewhere: the agent moves it to its interface.
    await ok(run("ip", ["-n", ns, "addr", "add", `${NODE_IP}/32`, "dev", "lo"]));
    const first = await kubegateIn(ns, ...agentArgs("--daemon=false"));
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /changed \(created interface kgnode0/);
    assert.deepEqual(await addresses(ns, IFACE), [`${SERVICE_IP}/32`, `${NODE_IP}/32`]);
    assert.deepEqual(await addresses(ns, "lo"), ["127.0.0.1/8", "::1/128"]);
    assert.deepEqual(await rules(ns), SEED_RULES);

    const second = await kubegateIn(ns, ...agentArgs("--daemon=false"));
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /already in place/);
    assert.deepEqual(await rules(ns), SEED_RULES, "no duplicate rules");
    assert.deepEqual(await addresses(ns, IFACE), [`${SERVICE_IP}/32`, `${NODE_IP}/32`]);
  });

  it("IPv6: a /128 without duplicate address detection, and the rules through ip6tables", async () => {
    const ns = await newNamespace("v6");
    const r = await kubegateIn(
      ns,
      ...[
        "node-agent",
        "--ip-address",
        "fd00:96::2",
        "--interface",
        IFACE,
        "--setup-iptables",
        "--daemon=false",
      ],
    );
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(await ok(run("ip", ["-n", ns, "-json", "addr", "show", "dev", IFACE]))) as {
      addr_info: { local: string; prefixlen: number; tentative?: boolean }[];
    }[];
    const global = info[0]?.addr_info.find((a) => a.local === "fd00:96::2");
    assert.deepEqual(global && { prefixlen: global.prefixlen, tentative: global.tentative }, {
      prefixlen: 128,
      tentative: undefined,
    });
    const raw = await ok(inNs(ns, "ip6tables", "-w", "5", "-t", "raw", "-S"));
    assert.match(raw, /-A PREROUTING -d fd00:96::2\/128 -p tcp -m tcp --dport 443 -j NOTRACK/);
    assert.equal(raw.split("\n").filter((l) => l.startsWith("-A ")).length, 3);
  });

  it("refuses to take a network address away from an interface (exit 1, address untouched)", async () => {
    const ns = await newNamespace("clash");
    await ok(run("ip", ["-n", ns, "addr", "add", `${NODE_IP}/24`, "dev", "lo"]));
    const r = await kubegateIn(
      ns,
      "node-agent",
      "--ip-address",
      NODE_IP,
      "--interface",
      IFACE,
      "--daemon=false",
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: 10\.96\.0\.2 is configured as 10\.96\.0\.2\/24 on lo/);
    assert.deepEqual(await addresses(ns, "lo"), [`${NODE_IP}/24`, "127.0.0.1/8", "::1/128"]);
  });

  it("daemon: repairs a removed address, a deleted rule and a deleted interface; SIGTERM with --cleanup leaves nothing", async (t) => {
    const ns = await newNamespace("drift");
    const agent = await startKubegate(ns, agentArgs("--sync-interval", `${INTERVAL_MS}ms`, "--cleanup"));
    assert.match(
      agent.firstLine,
      /kubegate node-agent running: 10\.96\.0\.2\/32, 10\.96\.0\.1\/32 on kgnode0/,
    );
    assert.deepEqual(await rules(ns), SEED_RULES);
    const limit = 2 * INTERVAL_MS + 1000;

    await ok(run("ip", ["-n", ns, "addr", "del", `${NODE_IP}/32`, "dev", IFACE]));
    const address = await within(limit, "address restored", async () =>
      (await addresses(ns, IFACE)).includes(`${NODE_IP}/32`),
    );
    await ok(
      inNs(
        ns,
        "iptables",
        "-w",
        "5",
        "-t",
        "raw",
        "-D",
        "OUTPUT",
        ...["-s", `${NODE_IP}/32`, "-p", "tcp"],
        ...["-m", "tcp", "--sport", "443", "-j", "NOTRACK"],
      ),
    );
    await ok(
      inNs(
        ns,
        "iptables",
        "-w",
        "5",
        "-t",
        "filter",
        "-D",
        "INPUT",
        ...["-d", `${NODE_IP}/32`, "-p", "tcp"],
        ...["-m", "tcp", "--dport", "443", "-j", "ACCEPT"],
      ),
    );
    const rule = await within(limit, "rules restored", async () => (await rules(ns)).length === 5);
    assert.deepEqual(await rules(ns), SEED_RULES);
    await ok(run("ip", ["-n", ns, "link", "del", IFACE]));
    const link = await within(
      limit,
      "interface restored",
      async () => (await addresses(ns, IFACE)).length === 2,
    );
    t.diagnostic(
      `repair latency (interval ${INTERVAL_MS} ms): address ${address} ms, rules ${rule} ms, interface ${link} ms`,
    );
    assert.match(agent.stderr(), /node-local setup had drifted; repaired/);

    assert.equal(await agent.stop("SIGTERM"), 0, agent.stderr());
    assert.deepEqual(await rules(ns), []);
    const links = JSON.parse(await ok(run("ip", ["-n", ns, "-json", "link", "show"]))) as {
      ifname: string;
    }[];
    assert.deepEqual(
      links.map((l) => l.ifname),
      ["lo"],
    );
    assert.match(agent.stderr(), /node-local setup removed/);
  });

  it("on lo without --cleanup: SIGINT stops the agent and leaves the setup in place", async () => {
    const ns = await newNamespace("keep");
    const agent = await startKubegate(ns, [
      ...["node-agent", "--ip-address", NODE_IP, "--setup-iptables=true"],
      ...["--sync-interval", `${INTERVAL_MS}ms`],
    ]);
    assert.match(agent.firstLine, /10\.96\.0\.2\/32 on lo/);
    assert.equal(await agent.stop("SIGINT"), 0, agent.stderr());
    assert.deepEqual(await addresses(ns, "lo"), [`${NODE_IP}/32`, "127.0.0.1/8", "::1/128"]);
    assert.deepEqual(await rules(ns), SEED_RULES);
  });
});

describe("kubectl through the node-local address and the apiserver-proxy", { skip, timeout: 60_000 }, () => {
  it("kubectl get --raw /version reaches the test apiserver via 10.96.0.2:443 and 10.96.0.1:443", async (t) => {
    assert.ok(cluster);
    const ns = await newNamespace("kubectl");
    // A veth pair joins the namespace (the "node") to the host, where the test apiserver listens on
    // 127.0.0.1 only. A host-side apiserver-proxy on the veth address relays to it.
    const octet = 20 + (process.pid % 200);
    const hostIp = `169.254.${octet}.1`;
    const nsIp = `169.254.${octet}.2`;
    const hostVeth = `kgh${uid}`;
    const nsVeth = `kgn${uid}`;
    hostLinks.push(hostVeth);
    await ok(run("ip", ["link", "add", hostVeth, "type", "veth", "peer", "name", nsVeth, "netns", ns]));
    await ok(run("ip", ["addr", "add", `${hostIp}/30`, "dev", hostVeth]));
    await ok(run("ip", ["link", "set", hostVeth, "up"]));
    await ok(run("ip", ["-n", ns, "addr", "add", `${nsIp}/30`, "dev", nsVeth]));
    await ok(run("ip", ["-n", ns, "link", "set", nsVeth, "up"]));

    const relay = await startKubegate(undefined, [
      ...["apiserver-proxy", "--listen", `${hostIp}:0`, "--upstream", `127.0.0.1:${cluster.ports.apiserver}`],
      ...["--metrics-listen", "127.0.0.1:0"],
    ]);
    const relayMatch = /listening on tcp:\/\/[\d.]+:(\d+) metrics (http:\S+)/.exec(relay.firstLine);
    assert.ok(relayMatch, relay.firstLine);
    const [, relayPort, relayMetrics] = relayMatch;

    const setup = await kubegateIn(ns, ...agentArgs("--daemon=false"));
    assert.equal(setup.code, 0, setup.stderr);
    const proxies: Running[] = [];
    for (const ip of [NODE_IP, SERVICE_IP]) {
      const p = await startKubegate(ns, [
        ...["apiserver-proxy", "--listen", `${ip}:443`, "--upstream", `${hostIp}:${relayPort}`],
        ...["--metrics-listen", "127.0.0.1:0"],
      ]);
      assert.match(
        p.firstLine,
        new RegExp(`listening on tcp://${ip.replace(/\./g, "\\.")}:443 metrics http://`),
      );
      proxies.push(p);
    }

    const direct = JSON.parse(
      await ok(run("kubectl", ["--kubeconfig", cluster.adminKubeconfig, "get", "--raw", "/version"])),
    );
    const t0 = Date.now();
    // The apiserver's certificate does not name 10.96.0.2: check it against a name it does carry.
    const viaNode = await ok(
      inNs(
        ns,
        "kubectl",
        "--kubeconfig",
        cluster.adminKubeconfig,
        "--server",
        `https://${NODE_IP}:443`,
        "--tls-server-name",
        "kubernetes.default.svc",
        "get",
        "--raw",
        "/version",
      ),
    );
    const took = Date.now() - t0;
    assert.deepEqual(JSON.parse(viaNode), direct);
    // 10.96.0.1 is in the certificate: full verification, no override.
    const viaService = await ok(
      inNs(
        ns,
        "kubectl",
        "--kubeconfig",
        cluster.adminKubeconfig,
        "--server",
        `https://${SERVICE_IP}:443`,
        "get",
        "--raw",
        "/version",
      ),
    );
    assert.deepEqual(JSON.parse(viaService), direct);
    // A real request with a body both ways, through the same path.
    const nsList = JSON.parse(
      await ok(
        inNs(
          ns,
          "kubectl",
          "--kubeconfig",
          cluster.adminKubeconfig,
          "--server",
          `https://${SERVICE_IP}:443`,
          "get",
          "namespaces",
          "-o",
          "json",
        ),
      ),
    );
    assert.ok(nsList.items.some((n: { metadata: { name: string } }) => n.metadata.name === "kube-system"));
    t.diagnostic(
      `kubectl get --raw /version through node IP, proxy and relay: ${took} ms (process start included)`,
    );

    const relayMetricsText = await (await fetch(`${relayMetrics}/metrics`)).text();
    // Every connection of the three kubectl calls went through the relay (kubectl may open more than one).
    const relayed = metric(relayMetricsText, 'kubegate_apiserver_proxy_connections_total{result="proxied"}');
    assert.ok(relayed >= 3, `relayed ${relayed}`);
    assert.equal((await fetch(`${relayMetrics}/readyz`)).status, 200);
    // The node-local proxy's own health and metrics answer on the namespace's loopback.
    const inside = await ok(
      inNs(
        ns,
        process.execPath,
        "-e",
        `const m=/metrics (\\S+)/.exec(process.argv[1])[1];fetch(m+"/readyz").then(async r=>{const x=await fetch(m+"/metrics");console.log(r.status, await x.text())})`,
        proxies[0]?.firstLine ?? "",
      ),
    );
    assert.match(inside, /^200 /);
    assert.ok(metric(inside, 'kubegate_apiserver_proxy_connections_total{result="proxied"}') >= 1);
    assert.ok(metric(inside, 'kubegate_apiserver_proxy_bytes_total{direction="downstream"}') > 1000);
    assert.equal(metric(inside, "kubegate_apiserver_proxy_open_connections"), 0);

    for (const p of [...proxies, relay]) assert.equal(await p.stop("SIGTERM"), 0, p.stderr());
  });
});
