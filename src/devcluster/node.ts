// One real node for the test cluster: containerd + runc from Debian, kubelet, kube-scheduler and
// kube-controller-manager from the pinned kubernetes module, pods on a CNI bridge. Pods run for real,
// so exec, attach, port-forward, logs and cp go all the way to a process in a container.
//
// What this machine kind imposes (found by running it, see issue #18's note):
// - no CAP_SYS_RESOURCE: no process may lower its OOM score, so containerd must not try
//   (restrict_oom_score_adj) or runc fails every sandbox with "can't get final child's PID";
// - kubelet refuses a loopback node IP: the node gets NODE_IP on lo (no dummy interface module here);
// - cgroup v1 with the cgroupfs driver (no systemd); kubelet's failCgroupV1 must be false.
// `stopNode` leaves no process, mount, network namespace, interface, cgroup or changed sysctl behind.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createClientCert, createServerCert, loadCA } from "../pki/certificates.ts";
import { writeOutputs } from "../pki/files.ts";
import { renderKubeconfig } from "../pki/kubeconfig.ts";
import { ClusterSetupError, cacheDir, ensureNodeBinaries } from "./build.ts";
import type { ClusterInfo } from "./cluster-info.ts";
import { BUSYBOX_IMAGE, PAUSE_IMAGE, writeBusyboxImage, writePauseImage } from "./image.ts";
import { freePort } from "./ports.ts";
import { alive, startDetached, stopProcess, waitFor } from "./processes.ts";

export const NODE_NAME = "kubegate-node";
/** Not loopback (kubelet refuses that), never routed off this machine. */
export const NODE_IP = "10.254.254.1";
const BRIDGE = "kgbr0";
/** The cgroup (in every hierarchy) the node's pods live under. */
const CGROUP_ROOT = "kubegate-node";
const POD_SUBNET = "10.244.0.0/24";
const CNI_BIN = "/usr/lib/cni";
/** Kernel settings kubelet (the first three) and the bridge plugin (the last) change; put back on stop. */
const SYSCTLS = ["vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops", "net/ipv4/ip_forward"];

export interface NodeInfo {
  name: string;
  ip: string;
  dir: string;
  containerdSocket: string;
  pids: { containerd: number; kubelet: number; proxy: number; scheduler: number; controllerManager: number };
  logs: { containerd: string; kubelet: string; proxy: string; scheduler: string; controllerManager: string };
  /** Values before the node started, restored by stopNode. */
  sysctls: Record<string, string>;
  images: string[];
}

const nodeFile = (clusterDir: string) => join(clusterDir, "node.json");

/** The Debian packages a node needs, by the file that shows each is there. */
export const NODE_PACKAGES: Readonly<Record<string, string>> = {
  "/usr/bin/containerd": "containerd",
  "/usr/sbin/runc": "runc",
  [`${CNI_BIN}/bridge`]: "containernetworking-plugins",
  "/bin/busybox": "busybox-static",
};

/** Why a node cannot run here, or undefined when it can. */
export function nodeUnsupported(): string | undefined {
  if (process.platform !== "linux") return "a node needs Linux";
  if (process.getuid?.() !== 0) return "a node needs root (containerd, mounts, network namespaces)";
  const missing = Object.entries(NODE_PACKAGES)
    .filter(([file]) => !existsSync(file))
    .map(([, pkg]) => pkg);
  if (missing.length) return `missing Debian packages: ${[...new Set(missing)].join(", ")}`;
  if (spawnSync("gcc", ["--version"]).status !== 0) return "gcc is needed to build the pause program";
  return otherRuntime();
}

/**
 * What shows this machine already runs containers or is a Kubernetes node. The test node's clean-up
 * removes CNI network namespaces, containerd's run directory entries and KUBE-* rules: on a machine of
 * its own only, so it refuses to start beside another runtime.
 */
function otherRuntime(): string | undefined {
  if (existsSync("/run/containerd")) return "/run/containerd exists: another containerd runs here";
  if (existsSync("/run/netns") && readdirSync("/run/netns").some((n) => n.startsWith("cni-")))
    return "CNI network namespaces exist in /run/netns: another container runtime runs here";
  const others = processes((c) => /(^|\/)(kubelet|containerd|kube-proxy|dockerd|crio) /.test(c));
  if (others.length) return `another container runtime or kubelet runs here (pid ${others.join(", ")})`;
  if (run("iptables-save", []).out.includes(":KUBE-"))
    return "KUBE-* iptables chains exist: this machine is a Kubernetes node";
  return undefined;
}

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
}

const readSysctl = (key: string) => readFileSync(`/proc/sys/${key}`, "utf8").trim();

function hasNodeAddress(): boolean {
  return run("ip", ["-o", "addr", "show", "dev", "lo"]).out.includes(` ${NODE_IP}/`);
}

/** The Services' cluster IP range (the apiserver's --service-cluster-ip-range). */
export const SERVICE_CIDR = "10.96.0.0/16";

/**
 * The node's address, taken before the apiserver starts (it advertises it: pods reach the apiserver
 * there through the `kubernetes` Service), and a route that keeps cluster IPs on this machine: a
 * connection to a Service kube-proxy has not programmed yet must not leave through the default route
 * (here it reached the sandbox's network and got answers of its own; kept alive, they stayed wrong).
 */
export function claimNodeAddress(): void {
  if (hasNodeAddress())
    throw new ClusterSetupError(
      `${NODE_IP} is already on lo: another test node runs on this machine (stop its cluster with down), ` +
        `or remove it with: ip addr del ${NODE_IP}/32 dev lo`,
    );
  const add = run("ip", ["addr", "add", `${NODE_IP}/32`, "dev", "lo"]);
  if (!add.ok) throw new ClusterSetupError(`ip addr add ${NODE_IP}/32 dev lo: ${add.out}`);
  const route = run("ip", ["route", "replace", SERVICE_CIDR, "dev", "lo", "src", NODE_IP]);
  if (!route.ok) throw new ClusterSetupError(`ip route replace ${SERVICE_CIDR} dev lo: ${route.out}`);
}

export function releaseNodeAddress(): void {
  run("ip", ["route", "del", SERVICE_CIDR, "dev", "lo"]);
  run("ip", ["addr", "del", `${NODE_IP}/32`, "dev", "lo"]);
}

function containerdConfig(dir: string, socket: string): string {
  return `version = 2
root = "${dir}/containerd/root"
state = "${dir}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  disable_apparmor = true
  # No CAP_SYS_RESOURCE here: a negative OOM score adjustment is refused and would fail every sandbox.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # cgroup v1 and no systemd: the cgroupfs driver, as kubelet's cgroupDriver below.
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN}"
    conf_dir = "${dir}/cni/net.d"
    max_conf_num = 1
`;
}

function cniConfig(dir: string): string {
  return JSON.stringify({
    cniVersion: "1.0.0",
    name: "kubegate",
    plugins: [
      {
        type: "bridge",
        bridge: BRIDGE,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: POD_SUBNET }]],
          routes: [{ dst: "0.0.0.0/0" }],
          dataDir: `${dir}/cni/ipam`,
        },
      },
      { type: "loopback" },
    ],
  });
}

function kubeletConfig(dir: string, socket: string, port: number): string {
  // Each setting below departs from kubelet's defaults for a reason of this test machine:
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${NODE_IP}
port: ${port}
readOnlyPort: 0
# no healthz listener: readiness is the node's Ready condition
healthzPort: 0
tlsCertFile: ${dir}/pki/kubelet-serving.crt
tlsPrivateKeyFile: ${dir}/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${dir}/pki/ca.crt}
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://${socket}
# cgroup v1 without systemd; pods under a root of this node's own, never a host kubelet's kubepods
cgroupDriver: cgroupfs
cgroupRoot: /${CGROUP_ROOT}
failCgroupV1: false
cgroupsPerQOS: true
enforceNodeAllocatable: ["pods"]
# the machine may have swap; nothing here measures memory pressure
failSwapOn: false
# a test node on a shared disk: no eviction, no image garbage collection (images cannot be pulled back)
evictionHard: {}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
rotateCertificates: false
serverTLSBootstrap: false
registerNode: true
maxPods: 30
# no KUBE-FIREWALL or canary chains in the host's iptables
makeIPTablesUtilChains: false
podLogsDir: ${dir}/pod-logs
volumePluginDir: ${dir}/volume-plugins
`;
}

/** One call to the apiserver as the cluster's admin, JSON back. */
function getJson(
  info: ClusterInfo,
  path: string,
  method = "GET",
): Promise<{ code: number; body: Record<string, unknown> }> {
  const [ca, cert, key] = [info.ca.cert, info.admin.cert, info.admin.key].map((f) => readFileSync(f, "utf8"));
  return new Promise((resolve, reject) => {
    const req = request(`${info.server}${path}`, { method, ca, cert, key, timeout: 5000 }, (res) => {
      let text = "";
      res.on("data", (d) => {
        text += d;
      });
      res.on("end", () => {
        try {
          resolve({ code: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

async function nodeReady(info: ClusterInfo): Promise<boolean> {
  const { code, body } = await getJson(info, `/api/v1/nodes/${NODE_NAME}`);
  const conditions = (body.status as { conditions?: { type: string; status: string }[] })?.conditions ?? [];
  return code === 200 && conditions.some((c) => c.type === "Ready" && c.status === "True");
}

/** Starts the node of the cluster in `info.dir` and waits until it is Ready. */
export async function startNode(
  info: ClusterInfo,
  o: { log?: (line: string) => void; readyTimeoutMs?: number } = {},
): Promise<NodeInfo> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const why = nodeUnsupported();
  if (why) throw new ClusterSetupError(`cannot start a node: ${why}`);
  if (!hasNodeAddress()) throw new ClusterSetupError(`${NODE_IP} is not on lo: claimNodeAddress() first`);
  const binaries = await ensureNodeBinaries({ log });
  const dir = join(info.dir, "node");
  const socket = join(dir, "containerd", "containerd.sock");
  if (Buffer.byteLength(socket) > 100)
    throw new ClusterSetupError(`${socket}: too long for a unix socket path`);
  await rm(dir, { recursive: true, force: true });
  for (const d of [
    "containerd",
    "cni/net.d",
    "pki",
    "images",
    "kubelet",
    "pod-logs",
    "volume-plugins",
    "logs",
  ])
    await mkdir(join(dir, d), { recursive: true });

  const ca = await loadCA(readFileSync(info.ca.cert, "utf8"), readFileSync(info.ca.key, "utf8"));
  const client = await createClientCert(ca, {
    cn: `system:node:${NODE_NAME}`,
    organizations: ["system:nodes"],
  });
  const serving = await createServerCert(ca, {
    cn: NODE_NAME,
    dnsNames: [NODE_NAME, "localhost"],
    ipAddresses: [NODE_IP, "127.0.0.1"],
  });
  const port = await freePort();
  await writeOutputs(
    [
      { path: join(dir, "pki/ca.crt"), content: ca.certPem, secret: false },
      { path: join(dir, "pki/kubelet-serving.crt"), content: serving.certPem, secret: false },
      { path: join(dir, "pki/kubelet-serving.key"), content: serving.keyPem, secret: true },
      {
        path: join(dir, "kubelet.kubeconfig"),
        content: renderKubeconfig({
          server: info.server,
          caCertPem: ca.certPem,
          user: `system:node:${NODE_NAME}`,
          clientCertPem: client.certPem,
          clientKeyPem: client.keyPem,
          clusterName: "kubegate-test",
        }),
        secret: true,
      },
      { path: join(dir, "containerd/config.toml"), content: containerdConfig(dir, socket), secret: false },
      { path: join(dir, "cni/net.d/10-kubegate.conflist"), content: cniConfig(dir), secret: false },
      { path: join(dir, "kubelet-config.yaml"), content: kubeletConfig(dir, socket, port), secret: false },
    ],
    { force: true },
  );

  const sysctls = Object.fromEntries(SYSCTLS.map((k) => [k, readSysctl(k)]));
  const logs = {
    containerd: join(dir, "logs/containerd.log"),
    kubelet: join(dir, "logs/kubelet.log"),
    proxy: join(dir, "logs/kube-proxy.log"),
    scheduler: join(dir, "logs/kube-scheduler.log"),
    controllerManager: join(dir, "logs/kube-controller-manager.log"),
  };
  const node: NodeInfo = {
    name: NODE_NAME,
    ip: NODE_IP,
    dir,
    containerdSocket: socket,
    pids: { containerd: 0, kubelet: 0, proxy: 0, scheduler: 0, controllerManager: 0 },
    logs,
    sysctls,
    images: [BUSYBOX_IMAGE, PAUSE_IMAGE],
  };
  const save = () => writeFile(nodeFile(info.dir), `${JSON.stringify(node, null, 2)}\n`);
  const started = Date.now();
  const deadline = started + (o.readyTimeoutMs ?? 60_000);
  try {
    node.pids.containerd = startDetached(
      "containerd",
      ["--config", join(dir, "containerd/config.toml")],
      logs.containerd,
    );
    await save();
    await waitFor(
      "containerd",
      async () => existsSync(socket),
      node.pids.containerd,
      logs.containerd,
      deadline,
    );
    await Promise.all([
      writePauseImage(join(dir, "images/pause.tar"), binaries.pause),
      writeBusyboxImage(join(dir, "images/busybox.tar")),
    ]);
    for (const image of ["pause.tar", "busybox.tar"]) importInto(socket, join(dir, "images", image));
    const admin = info.adminKubeconfig;
    node.pids.scheduler = startDetached(
      binaries.kubeScheduler,
      [
        `--kubeconfig=${admin}`,
        `--authentication-kubeconfig=${admin}`,
        `--authorization-kubeconfig=${admin}`,
        "--leader-elect=false",
        "--secure-port=0",
        "--v=1",
      ],
      logs.scheduler,
    );
    node.pids.controllerManager = startDetached(
      binaries.kubeControllerManager,
      [
        `--kubeconfig=${admin}`,
        `--authentication-kubeconfig=${admin}`,
        `--authorization-kubeconfig=${admin}`,
        "--leader-elect=false",
        "--secure-port=0",
        // Service account tokens for pods: signed with the key the apiserver verifies.
        `--service-account-private-key-file=${info.serviceAccount.key}`,
        `--root-ca-file=${info.ca.cert}`,
        "--use-service-account-credentials=true",
        `--flex-volume-plugin-dir=${dir}/volume-plugins`,
        "--controllers=*,-cloud-node-lifecycle-controller",
        "--v=1",
      ],
      logs.controllerManager,
    );
    // kubelet wants its cgroup root to exist in every hierarchy.
    for (const hierarchy of readdirSync("/sys/fs/cgroup"))
      if (existsSync(join("/sys/fs/cgroup", hierarchy, "cgroup.procs")))
        await mkdir(join("/sys/fs/cgroup", hierarchy, CGROUP_ROOT), { recursive: true }).catch(
          () => undefined,
        );
    // Services: iptables rules for cluster IPs (and NodePorts on the node's address only).
    const [healthz, metrics] = [await freePort(), await freePort()];
    node.pids.proxy = startDetached(
      binaries.kubeProxy,
      [
        `--kubeconfig=${admin}`,
        "--proxy-mode=iptables",
        `--cluster-cidr=${POD_SUBNET}`,
        `--hostname-override=${NODE_NAME}`,
        `--nodeport-addresses=${NODE_IP}/32`,
        `--healthz-bind-address=127.0.0.1:${healthz}`,
        `--metrics-bind-address=127.0.0.1:${metrics}`,
        "--v=1",
      ],
      logs.proxy,
    );
    node.pids.kubelet = startDetached(
      binaries.kubelet,
      [
        `--config=${join(dir, "kubelet-config.yaml")}`,
        `--kubeconfig=${join(dir, "kubelet.kubeconfig")}`,
        `--root-dir=${join(dir, "kubelet")}`,
        // Without it kubelet writes its certificates to /var/lib/kubelet/pki whatever --root-dir says.
        `--cert-dir=${join(dir, "kubelet/pki")}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${NODE_IP}`,
        "--v=1",
      ],
      logs.kubelet,
    );
    await save();
    await waitFor("the node (kubelet)", () => nodeReady(info), node.pids.kubelet, logs.kubelet, deadline);
  } catch (err) {
    await save().catch(() => undefined);
    await stopNode(info).catch(() => undefined);
    throw err;
  }
  log(`node ${NODE_NAME} Ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return node;
}

/** Loads an image tarball (docker save layout) into the node's containerd, where the kubelet finds it. */
function importInto(socket: string, tarball: string): void {
  const imported = run("ctr", ["--address", socket, "-n", "k8s.io", "images", "import", tarball]);
  if (!imported.ok) throw new ClusterSetupError(`ctr images import ${tarball}: ${imported.out}`);
}

/**
 * Loads an image tarball into the node of the cluster in `clusterDir`: no registry is reachable, so
 * this is how kubegate's own image reaches its pods.
 */
export async function importImage(clusterDir: string, tarball: string): Promise<void> {
  const node = await readNodeInfo(clusterDir);
  if (!node)
    throw new ClusterSetupError(
      `no node in ${clusterDir}: start it with npm run cluster -- up --node --dir ${clusterDir}`,
    );
  importInto(node.containerdSocket, tarball);
}

export async function readNodeInfo(clusterDir: string): Promise<NodeInfo | undefined> {
  const file = nodeFile(clusterDir);
  return existsSync(file) ? (JSON.parse(await readFile(file, "utf8")) as NodeInfo) : undefined;
}

/** Pids of every process whose command line matches. */
function processes(match: (cmdline: string) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (match(cmdline)) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

function kill(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

function cgroupProcs(top: string): number[] {
  const root = `/sys/fs/cgroup/pids/${top}`;
  if (!existsSync(root)) return [];
  const out: number[] = [];
  const walk = (d: string) => {
    try {
      for (const line of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n"))
        if (line) out.push(Number(line));
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    } catch {
      /* removed meanwhile */
    }
  };
  walk(root);
  return out;
}

function removeCgroups(top: string): void {
  for (const hierarchy of readdirSync("/sys/fs/cgroup")) {
    const root = join("/sys/fs/cgroup", hierarchy, top);
    if (!existsSync(root)) continue;
    const depthFirst = (d: string) => {
      try {
        for (const e of readdirSync(d, { withFileTypes: true }))
          if (e.isDirectory()) depthFirst(join(d, e.name));
        rmdirSync(d);
      } catch {
        /* not empty: something still runs in it */
      }
    };
    depthFirst(root);
  }
}

/**
 * Stops the node of the cluster in `clusterDir` and removes what it made on this machine. Pods are
 * deleted through the apiserver first (kubelet then stops their containers and runs CNI DEL); whatever
 * survives (a kubelet that died, a shim outliving containerd) is killed and cleaned up by hand.
 * Idempotent.
 */
export async function stopNode(info: ClusterInfo): Promise<void> {
  const node = await readNodeInfo(info.dir);
  if (!node) return;
  if (alive(node.pids.kubelet)) await deletePods(info).catch(() => undefined);
  // Each named by what its command line must hold: node.json may be stale (a reboot reuses pids).
  for (const [pid, expect] of [
    [node.pids.kubelet, "kubelet"],
    [node.pids.proxy, "kube-proxy"],
    [node.pids.controllerManager, "kube-controller-manager"],
    [node.pids.scheduler, "kube-scheduler"],
    [node.pids.containerd, "containerd"],
  ] as const)
    if (pid) await stopProcess(pid, 5000, expect);
  removeProxyRules(join(cacheDir(), "bin", "kube-proxy"));
  // Containers whose kubelet is gone: their shims outlive containerd by design.
  kill(cgroupProcs(CGROUP_ROOT));
  kill(processes((c) => c.includes("containerd-shim") && c.includes(node.containerdSocket)));
  await sleep(300);
  const mounts = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((l) => (l.split(" ")[1] ?? "").replace(/\\040/g, " "))
    .filter((m) => m.startsWith(`${node.dir}/`) || m.startsWith("/run/netns/cni-"))
    .sort()
    .reverse();
  for (const m of mounts) run("umount", ["-l", m]);
  // containerd bind-mounts /run/netns onto itself to make it shared.
  while (readFileSync("/proc/self/mounts", "utf8").includes(" /run/netns "))
    if (!run("umount", ["/run/netns"]).ok) break;
  if (existsSync("/run/netns"))
    for (const ns of readdirSync("/run/netns"))
      if (ns.startsWith("cni-")) rmSync(join("/run/netns", ns), { force: true });
  run("ip", ["link", "del", BRIDGE]);
  removeCgroups(CGROUP_ROOT);
  for (const [key, value] of Object.entries(node.sysctls)) {
    try {
      if (readSysctl(key) !== value) await writeFile(`/proc/sys/${key}`, value);
    } catch {
      /* read-only here: nothing changed it */
    }
  }
  // What containerd, CNI and kubelet write outside the node's directory, whatever their flags say.
  for (const path of [
    "/run/containerd/runc/k8s.io",
    "/run/containerd/s",
    "/run/containerd/fifo",
    "/var/lib/cni/results",
    "/var/lib/kubelet/device-plugins",
  ])
    rmSync(path, { recursive: true, force: true });
  if (existsSync("/var/log/containers"))
    for (const link of readdirSync("/var/log/containers")) {
      const path = join("/var/log/containers", link);
      try {
        if (readlinkSync(path).startsWith(`${node.dir}/`)) rmSync(path, { force: true });
      } catch {
        /* not a link */
      }
    }
  for (const d of [
    "/run/containerd/runc",
    "/run/containerd",
    "/var/lib/cni",
    "/var/log/containers",
    "/var/lib/kubelet",
  ])
    run("rmdir", [d]);
  await rm(node.dir, { recursive: true, force: true });
  await rm(nodeFile(info.dir), { force: true });
}

/**
 * kube-proxy's iptables rules: its own --cleanup, then the few chains it leaves (KUBE-FIREWALL and the
 * canaries, in both address families).
 */
function removeProxyRules(kubeProxy: string | undefined): void {
  if (kubeProxy && existsSync(kubeProxy)) run(kubeProxy, ["--cleanup"]);
  for (const ipt of ["iptables", "ip6tables"]) {
    for (const chain of ["INPUT", "OUTPUT"]) while (run(ipt, ["-D", chain, "-j", "KUBE-FIREWALL"]).ok);
    for (const table of ["filter", "nat", "mangle"])
      for (const c of ["KUBE-FIREWALL", "KUBE-MARK-MASQ", "KUBE-PROXY-CANARY", "KUBE-KUBELET-CANARY"]) {
        run(ipt, ["-t", table, "-F", c]);
        run(ipt, ["-t", table, "-X", c]);
      }
  }
}

/**
 * Deletes every pod on the node and waits (up to 20 s) until kubelet has stopped them all. Five
 * seconds of grace: a node agent removes its address and rules when it is told to stop.
 */
async function deletePods(info: ClusterInfo): Promise<void> {
  const selector = `fieldSelector=spec.nodeName%3D${NODE_NAME}`;
  const list = await getJson(info, `/api/v1/pods?${selector}`);
  const items = (list.body.items as { metadata: { namespace: string; name: string } }[] | undefined) ?? [];
  await Promise.all(
    items.map((p) =>
      getJson(
        info,
        `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}?gracePeriodSeconds=5`,
        "DELETE",
      ).catch(() => undefined),
    ),
  );
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const left = await getJson(info, `/api/v1/pods?${selector}`);
    if (((left.body.items as unknown[] | undefined) ?? []).length === 0) return;
    await sleep(250);
  }
}
