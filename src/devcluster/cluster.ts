import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createCA, createClientCert, createServerCert, type SigningCA } from "../pki/certificates.ts";
import { writeOutputs } from "../pki/files.ts";
import { generateKeyPair, privateKeyToPem, publicKeyToPem } from "../pki/keys.ts";
import { renderKubeconfig } from "../pki/kubeconfig.ts";
import { ClusterSetupError, ensureBinaries } from "./build.ts";
import type { ClusterInfo } from "./cluster-info.ts";
import { claimNodeAddress, NODE_IP, releaseNodeAddress, startNode, stopNode } from "./node.ts";
import { freePort, portIsFree } from "./ports.ts";
import { alive, httpOk, httpsOk, startDetached, stopProcess, waitFor } from "./processes.ts";
import { ETCD_VERSION, KUBERNETES_VERSION } from "./versions.ts";

export type { ClusterInfo };
export { alive, httpOk, httpsOk, startDetached, stopProcess, waitFor };

export interface UpOptions {
  dir: string;
  apiserverPort?: number;
  etcdPort?: number;
  readyTimeoutMs?: number;
  /** Extra kube-apiserver flags (feature gates, admission configuration, ...). */
  apiserverArgs?: readonly string[];
  /** Also start a real node (containerd, kubelet, scheduler, controller manager): see node.ts. */
  node?: boolean;
  log?: (line: string) => void;
}

export const FRONT_PROXY_CLIENT_CN = "front-proxy-client";
export const ADMIN_USER = "kubegate-admin";
const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local";

export function clusterFile(dir: string): string {
  return join(resolve(dir), "cluster.json");
}

export async function readClusterInfo(dir: string): Promise<ClusterInfo> {
  const file = clusterFile(dir);
  if (!existsSync(file)) throw new ClusterSetupError(`no cluster in ${dir} (${file} is missing)`);
  return JSON.parse(await readFile(file, "utf8")) as ClusterInfo;
}

async function portOrFree(port: number | undefined, flag: string): Promise<number> {
  if (port === undefined) return freePort();
  if (!(await portIsFree(port))) {
    throw new ClusterSetupError(
      `port ${port} on 127.0.0.1 is already in use; choose another with ${flag} or leave it out to get a free one`,
    );
  }
  return port;
}

interface Pki {
  files: Omit<ClusterInfo, "dir" | "server" | "versions" | "ports" | "pids" | "logs">;
}

async function makePki(dir: string, server: string): Promise<Pki> {
  const pki = join(dir, "pki");
  const at = (name: string) => join(pki, name);
  const ca = await createCA("kubegate-test-ca");
  const frontProxyCa = await createCA("kubegate-test-front-proxy-ca");
  const serving = await createServerCert(ca, {
    cn: "kube-apiserver",
    dnsNames: ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
    // 10.96.0.1: the `kubernetes` Service; NODE_IP: the node's view of the apiserver; 10.96.0.2: the
    // node-local address kubegate's node agent and apiserver-proxy hold by default.
    ipAddresses: ["127.0.0.1", "10.96.0.1", "10.96.0.2", NODE_IP],
  });
  const frontProxyClient = await createClientCert(frontProxyCa, { cn: FRONT_PROXY_CLIENT_CN });
  const admin = await createClientCert(ca, { cn: ADMIN_USER, organizations: ["system:masters"] });
  const kubeletClient = await createClientCert(ca, {
    cn: "kube-apiserver-kubelet-client",
    organizations: ["system:masters"],
  });
  const saKeys = await generateKeyPair();
  const pair = (name: string, c: { certPem: string; keyPem: string } | SigningCA) => [
    { path: at(`${name}.crt`), content: c.certPem, secret: false },
    { path: at(`${name}.key`), content: c.keyPem, secret: true },
  ];
  await writeOutputs(
    [
      ...pair("ca", ca),
      ...pair("front-proxy-ca", frontProxyCa),
      ...pair("apiserver", serving),
      ...pair("front-proxy-client", frontProxyClient),
      ...pair("admin", admin),
      ...pair("kubelet-client", kubeletClient),
      { path: at("sa.key"), content: await privateKeyToPem(saKeys.privateKey), secret: true },
      { path: at("sa.pub"), content: await publicKeyToPem(saKeys.publicKey), secret: false },
    ],
    { force: true },
  );
  const adminKubeconfig = join(dir, "admin.kubeconfig");
  await writeOutputs(
    [
      {
        path: adminKubeconfig,
        content: renderKubeconfig({
          server,
          caCertPem: ca.certPem,
          user: ADMIN_USER,
          clientCertPem: admin.certPem,
          clientKeyPem: admin.keyPem,
          clusterName: "kubegate-test",
        }),
        secret: true,
      },
    ],
    { force: true },
  );
  const files = (name: string) => ({ cert: at(`${name}.crt`), key: at(`${name}.key`) });
  return {
    files: {
      adminKubeconfig,
      ca: files("ca"),
      frontProxyCa: files("front-proxy-ca"),
      frontProxyClient: files("front-proxy-client"),
      serving: files("apiserver"),
      admin: files("admin"),
      kubeletClient: files("kubelet-client"),
      serviceAccount: { key: at("sa.key"), pub: at("sa.pub"), issuer: SERVICE_ACCOUNT_ISSUER },
    },
  };
}

/**
 * Brings up etcd and kube-apiserver on free loopback ports with fresh PKI, waits until the apiserver
 * reports ready, and writes DIR/admin.kubeconfig and DIR/cluster.json.
 */
export async function up(options: UpOptions): Promise<ClusterInfo> {
  const dir = resolve(options.dir);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (existsSync(clusterFile(dir))) {
    const previous = await readClusterInfo(dir);
    if (alive(previous.pids.apiserver) || alive(previous.pids.etcd)) {
      throw new ClusterSetupError(
        `a cluster is already running in ${dir} (pids ${previous.pids.etcd}, ${previous.pids.apiserver}); ` +
          "run `npm run cluster -- down --dir` on it first",
      );
    }
  }
  const binaries = await ensureBinaries({ log });
  const apiserverPort = await portOrFree(options.apiserverPort, "--apiserver-port");
  const etcdPort = await portOrFree(options.etcdPort, "--etcd-port");
  let etcdPeer = await freePort();
  while (etcdPeer === etcdPort || etcdPeer === apiserverPort) etcdPeer = await freePort();

  await mkdir(dir, { recursive: true });
  await rm(join(dir, "etcd-data"), { recursive: true, force: true });
  const server = `https://127.0.0.1:${apiserverPort}`;
  const { files } = await makePki(dir, server);
  const logs = { etcd: join(dir, "etcd.log"), apiserver: join(dir, "kube-apiserver.log") };
  await Promise.all([writeFile(logs.etcd, ""), writeFile(logs.apiserver, "")]);

  const started = Date.now();
  const deadline = started + (options.readyTimeoutMs ?? 60_000);
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const peerUrl = `http://127.0.0.1:${etcdPeer}`;
  // With a node, pods reach the apiserver through the `kubernetes` Service: it advertises the node's
  // address and listens on every interface (the loopback URL above keeps working).
  if (options.node) claimNodeAddress();
  const etcdPid = startDetached(
    binaries.etcd,
    [
      "--name=kubegate-test",
      `--data-dir=${join(dir, "etcd-data")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=kubegate-test=${peerUrl}`,
      // A throw-away test store: durability buys nothing and fsync dominates write latency.
      "--unsafe-no-fsync",
      "--log-level=warn",
    ],
    logs.etcd,
  );
  const pids = { etcd: etcdPid, apiserver: 0 };
  const info = (): ClusterInfo => ({
    dir,
    server,
    versions: { kubernetes: KUBERNETES_VERSION, etcd: ETCD_VERSION },
    ports: { apiserver: apiserverPort, etcd: etcdPort, etcdPeer },
    pids,
    logs,
    ...files,
    ...(options.node ? { nodeAddress: true } : {}),
  });
  // Written before waiting so that `down` can clean up a start that failed half-way.
  await writeFile(clusterFile(dir), `${JSON.stringify(info(), null, 2)}\n`);
  try {
    await waitFor("etcd", () => httpOk(`${etcdUrl}/health`), etcdPid, logs.etcd, deadline);
    pids.apiserver = startDetached(
      binaries.kubeApiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${options.node ? "0.0.0.0" : "127.0.0.1"}`,
        `--advertise-address=${options.node ? NODE_IP : "127.0.0.1"}`,
        `--secure-port=${apiserverPort}`,
        `--tls-cert-file=${files.serving.cert}`,
        `--tls-private-key-file=${files.serving.key}`,
        `--client-ca-file=${files.ca.cert}`,
        "--authorization-mode=Node,RBAC",
        `--service-account-key-file=${files.serviceAccount.pub}`,
        `--service-account-signing-key-file=${files.serviceAccount.key}`,
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        "--service-cluster-ip-range=10.96.0.0/16",
        // The aggregation layer: how kube-apiserver proves itself to extension servers (seed 001).
        `--requestheader-client-ca-file=${files.frontProxyCa.cert}`,
        `--requestheader-allowed-names=${FRONT_PROXY_CLIENT_CN}`,
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        `--proxy-client-cert-file=${files.frontProxyClient.cert}`,
        `--proxy-client-key-file=${files.frontProxyClient.key}`,
        // kubelets: a client certificate of the apiserver's own, kubelet serving certificates from the
        // cluster CA, reached at the node's InternalIP (its name resolves to nothing useful here).
        `--kubelet-client-certificate=${files.kubeletClient.cert}`,
        `--kubelet-client-key=${files.kubeletClient.key}`,
        `--kubelet-certificate-authority=${files.ca.cert}`,
        "--kubelet-preferred-address-types=InternalIP",
        "--profiling=false",
        "--v=1",
        ...(options.apiserverArgs ?? []),
      ],
      logs.apiserver,
    );
    await writeFile(clusterFile(dir), `${JSON.stringify(info(), null, 2)}\n`);
    const [ca, cert, key] = await Promise.all([
      readFile(files.ca.cert, "utf8"),
      readFile(files.admin.cert, "utf8"),
      readFile(files.admin.key, "utf8"),
    ]);
    await waitFor(
      "kube-apiserver",
      () => httpsOk(`${server}/readyz`, ca, cert, key),
      pids.apiserver,
      logs.apiserver,
      deadline,
    );
  } catch (err) {
    await down(dir).catch(() => undefined);
    throw err;
  }
  log(`cluster ready at ${server} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (!options.node) return info();
  try {
    const node = await startNode(info(), { log });
    const withNode = { ...info(), node: { name: node.name, ip: node.ip } };
    await writeFile(clusterFile(dir), `${JSON.stringify(withNode, null, 2)}\n`);
    return withNode;
  } catch (err) {
    await down(dir).catch(() => undefined);
    throw err;
  }
}

/** Stops the cluster recorded in DIR/cluster.json; no process is left behind. Idempotent. */
export async function down(dir: string): Promise<void> {
  if (!existsSync(clusterFile(dir))) return;
  const info = await readClusterInfo(dir);
  // The node first: its pods are deleted through the apiserver while it still answers.
  await stopNode(info);
  if (info.nodeAddress) releaseNodeAddress();
  await stopProcess(info.pids.apiserver, 5000, "kube-apiserver");
  await stopProcess(info.pids.etcd, 5000, "etcd");
  await rm(join(resolve(dir), "etcd-data"), { recursive: true, force: true });
  await rm(clusterFile(dir), { force: true });
}
