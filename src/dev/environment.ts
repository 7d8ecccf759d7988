import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import {
  down as clusterDown,
  up as clusterUp,
  httpOk,
  startDetached,
  stopProcess,
  waitFor,
} from "../devcluster/cluster.ts";
import { freePort } from "../devcluster/ports.ts";
import { type KubeObject, renderManifests } from "../manifests/render.ts";
import { probe } from "../node/tcp-proxy.ts";
import { createCA, createClientCert, loadCA } from "../pki/certificates.ts";
import { writeOutputs } from "../pki/files.ts";
import { renderKubeconfig } from "../pki/kubeconfig.ts";
import { KubegateError } from "../status/errors.ts";
import { ADMIN_GROUP, DEMO_OBJECTS, DEMO_USERS } from "./demo.ts";

const BIN = fileURLToPath(new URL("../../bin/kubegate.js", import.meta.url));
const NAMESPACE = "kubegate-system";
/** Everything `dev up` creates under its directory; `dev down` removes exactly these. */
const OWNED = ["dev.json", "cluster", "pki", "logs", "kubeconfigs"];

export interface DevState {
  dir: string;
  gateway: { url: string; metrics: string; pid: number };
  apiserver: { port: number; pid: number };
  webhook: { port: number; pid: number };
  adminKubeconfig: string;
  kubeconfigs: Record<string, string>;
}

const stateFile = (dir: string) => join(dir, "dev.json");

export async function readState(dir: string): Promise<DevState | undefined> {
  const file = stateFile(resolve(dir));
  return existsSync(file) ? (JSON.parse(await readFile(file, "utf8")) as DevState) : undefined;
}

function kubectl(kubeconfig: string, args: string[], input?: string): string {
  const r = spawnSync("kubectl", ["--kubeconfig", kubeconfig, ...args], {
    input,
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.error)
    throw new KubegateError(`kubectl could not run (${r.error.message}); dev needs kubectl on PATH`);
  if (r.status !== 0)
    throw new KubegateError(`kubectl ${args.slice(0, 3).join(" ")} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

const yamlOf = (objects: readonly KubeObject[]) => objects.map((o) => stringify(o)).join("---\n");

const portOpen = async (port: number) => (await probe({ host: "127.0.0.1", port }, 1000)) === undefined;

/**
 * The deploy manifests as a local run needs them: kubegate's identities are client-certificate users
 * (no pods, so no service accounts), and its Services are ExternalNames for localhost, which the
 * aggregator and the admission chain dial while still checking the certificate for <svc>.<ns>.svc.
 */
function localRegistration(
  objects: KubeObject[],
  ports: { apiserver: number; webhook: number },
): KubeObject[] {
  const keep = new Set([
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "RoleBinding",
    "APIService",
    "MutatingWebhookConfiguration",
  ]);
  const portOf: Record<string, number> = { "custom-api": ports.apiserver, "kubegate-webhook": ports.webhook };
  const out = objects.filter((o) => keep.has(o.kind));
  for (const o of out) {
    for (const s of (o.subjects as Array<Record<string, string>> | undefined) ?? []) {
      if (s.kind === "ServiceAccount") {
        s.kind = "User";
        s.apiGroup = "rbac.authorization.k8s.io";
        delete s.namespace;
      }
    }
    if (o.kind === "APIService") (o.spec as { service: { port: number } }).service.port = ports.apiserver;
    if (o.kind === "MutatingWebhookConfiguration") {
      for (const w of o.webhooks as Array<{ clientConfig: { service: { port: number } } }>) {
        w.clientConfig.service.port = ports.webhook;
      }
    }
  }
  for (const [name, port] of Object.entries(portOf)) {
    out.push({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: NAMESPACE },
      spec: {
        type: "ExternalName",
        externalName: "localhost",
        ports: [{ name: "https", port, protocol: "TCP" }],
      },
    });
  }
  return out;
}

/**
 * `kubegate dev up`: the real cluster, kubegate's three servers registered with it as in a deployment,
 * and demo tenants with kubeconfigs. Anything that fails half-way is stopped and removed again.
 */
export async function devUp(o: { dir: string; log: (line: string) => void }): Promise<DevState> {
  const dir = resolve(o.dir);
  const existing = await readState(dir);
  if (existing) {
    throw new KubegateError(
      `a dev environment is already in ${o.dir} (gateway ${existing.gateway.url}); stop it first: kubegate dev down --dir ${o.dir}`,
    );
  }
  kubectl("/dev/null", ["version", "--client"]);
  const at = (...p: string[]) => join(dir, ...p);
  const pids: number[] = [];
  const onSignal = () => {
    o.log("interrupted: cleaning up");
    void devDown(o.dir, pids).finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    o.log(
      "[1/5] cluster: kube-apiserver and etcd (built from pinned sources on the first run: several minutes)",
    );
    const cluster = await clusterUp({ dir: at("cluster"), log: (l) => o.log(`      ${l}`) });
    const clusterCa = await loadCA(
      await readFile(cluster.ca.cert, "utf8"),
      await readFile(cluster.ca.key, "utf8"),
    );
    const admin = cluster.adminKubeconfig;

    o.log("[2/5] certificates and identities");
    const usersCa = await createCA("kubegate-dev-users-ca");
    const rendered = await renderManifests({
      namespace: NAMESPACE,
      image: "local",
      apiserverFqdn: "kubernetes.default.svc.cluster.local.",
      nodeLocalIp: "10.96.0.2",
      apiserverUpstream: "kubernetes.default.svc.cluster.local:443",
      tenancy: true,
      gatewayDns: ["localhost"],
      gatewayIps: ["127.0.0.1"],
      usersCaCert: usersCa.certPem,
    });
    const tls = (name: string) => {
      const data = (
        rendered.objects.find((x) => x.kind === "Secret" && x.metadata.name === name) as unknown as {
          stringData: Record<string, string>;
        }
      ).stringData;
      return { cert: data["tls.crt"] as string, key: data["tls.key"] as string };
    };
    const identity = async (user: string) => {
      const c = await createClientCert(clusterCa, { cn: user });
      return renderKubeconfig({
        server: cluster.server,
        caCertPem: await readFile(cluster.ca.cert, "utf8"),
        user,
        clientCertPem: c.certPem,
        clientKeyPem: c.keyPem,
      });
    };
    const pem = (path: string, content: string, secret = false) => ({
      path: at("pki", path),
      content,
      secret,
    });
    await writeOutputs([
      pem("serving-ca.crt", rendered.servingCa.certPem),
      pem("users-ca.crt", usersCa.certPem),
      pem("users-ca.key", usersCa.keyPem, true),
      pem("gateway.crt", tls("kubegate-gateway-tls").cert),
      pem("gateway.key", tls("kubegate-gateway-tls").key, true),
      pem("custom-api.crt", tls("custom-api-tls").cert),
      pem("custom-api.key", tls("custom-api-tls").key, true),
      pem("webhook/tls.crt", tls("kubegate-webhook-tls").cert),
      pem("webhook/tls.key", tls("kubegate-webhook-tls").key, true),
      pem("kubegate-gateway.kubeconfig", await identity("kubegate-gateway"), true),
      pem("kubegate-apiserver.kubeconfig", await identity("kubegate-apiserver"), true),
    ]);

    o.log("[3/5] CRDs, RBAC and registrations from deploy/ (APIService, webhook)");
    const ports = {
      gateway: await freePort(),
      metrics: await freePort(),
      apiserver: await freePort(),
      webhook: await freePort(),
    };
    kubectl(admin, ["apply", "--server-side", "-f", "-"], yamlOf(localRegistration(rendered.objects, ports)));
    kubectl(admin, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);

    o.log("[4/5] starting the gateway, the aggregated API server and the pod webhook");
    const start = (name: string, args: string[]) => {
      const pid = startDetached(process.execPath, [BIN, name, ...args], at("logs", `${name}.log`));
      pids.push(pid);
      return pid;
    };
    await writeOutputs([{ path: at("logs", ".keep"), content: "", secret: false }]);
    const apiserverPid = start("apiserver", [
      ...[`--listen=127.0.0.1:${ports.apiserver}`, `--tls-cert=${at("pki", "custom-api.crt")}`],
      ...[
        `--tls-key=${at("pki", "custom-api.key")}`,
        `--kubeconfig=${at("pki", "kubegate-apiserver.kubeconfig")}`,
      ],
      "--tenancy",
    ]);
    const webhookPid = start("webhook", [
      ...["--apiserver-fqdn=kubernetes.default.svc.cluster.local.", `--cert-dir=${at("pki", "webhook")}`],
      ...["--host=127.0.0.1", `--port=${ports.webhook}`],
    ]);
    const gatewayPid = start("gateway", [
      ...[`--listen=127.0.0.1:${ports.gateway}`, `--metrics-listen=127.0.0.1:${ports.metrics}`],
      ...[`--tls-cert=${at("pki", "gateway.crt")}`, `--tls-key=${at("pki", "gateway.key")}`],
      ...[
        `--client-ca=${at("pki", "users-ca.crt")}`,
        `--upstream-kubeconfig=${at("pki", "kubegate-gateway.kubeconfig")}`,
      ],
      ...["--tenancy", `--ignored-group=${ADMIN_GROUP}`, `--audit-log=${at("logs", "audit.log")}`],
    ]);
    const deadline = Date.now() + 60_000;
    const logOf = (n: string) => at("logs", `${n}.log`);
    await waitFor(
      "aggregated API server",
      () => portOpen(ports.apiserver),
      apiserverPid,
      logOf("apiserver"),
      deadline,
    );
    await waitFor("pod webhook", () => portOpen(ports.webhook), webhookPid, logOf("webhook"), deadline);
    const metrics = `http://127.0.0.1:${ports.metrics}`;
    await waitFor("gateway", () => httpOk(`${metrics}/readyz`), gatewayPid, logOf("gateway"), deadline);
    kubectl(admin, ["wait", "--for=condition=Available", "apiservice/v1.custom.api.local", "--timeout=60s"]);

    o.log("[5/5] demo tenants, namespaces and users (alice, bob, carol)");
    kubectl(admin, ["apply", "--server-side", "-f", "-"], DEMO_OBJECTS);
    const gatewayUrl = `https://127.0.0.1:${ports.gateway}`;
    const kubeconfigs: Record<string, string> = {};
    const files = [];
    for (const u of DEMO_USERS) {
      const c = await createClientCert(usersCa, { cn: u.name, organizations: u.groups });
      kubeconfigs[u.name] = at("kubeconfigs", `${u.name}.kubeconfig`);
      files.push({
        path: kubeconfigs[u.name] as string,
        content: renderKubeconfig({
          server: gatewayUrl,
          caCertPem: rendered.servingCa.certPem,
          user: u.name,
          clientCertPem: c.certPem,
          clientKeyPem: c.keyPem,
          clusterName: "kubegate-dev",
        }),
        secret: true,
      });
    }
    await writeOutputs(files);
    const state: DevState = {
      dir,
      gateway: { url: gatewayUrl, metrics, pid: gatewayPid },
      apiserver: { port: ports.apiserver, pid: apiserverPid },
      webhook: { port: ports.webhook, pid: webhookPid },
      adminKubeconfig: admin,
      kubeconfigs,
    };
    await writeFile(stateFile(dir), `${JSON.stringify(state, null, 2)}\n`);
    return state;
  } catch (err) {
    await devDown(o.dir, pids).catch(() => undefined);
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** Stops kubegate's processes and the cluster, then removes what `dev up` wrote (and nothing else). */
export async function devDown(dirArg: string, extraPids: readonly number[] = []): Promise<boolean> {
  const dir = resolve(dirArg);
  const state = await readState(dir);
  const pids = [...extraPids, ...(state ? [state.gateway.pid, state.apiserver.pid, state.webhook.pid] : [])];
  // The gateway first: it holds watches open against the others.
  for (const pid of [...new Set(pids)]) await stopProcess(pid, 10_000);
  await clusterDown(join(dir, "cluster"));
  const found = OWNED.some((p) => existsSync(join(dir, p)));
  for (const p of OWNED) await rm(join(dir, p), { recursive: true, force: true });
  await rmdir(dir).catch(() => undefined);
  return found || state !== undefined;
}

/** What to do next, for people: one command per demo user. */
export function nextSteps(state: DevState, cwd = process.cwd()): string {
  const rel = (p: string) => {
    const r = relative(cwd, p);
    return r.startsWith("..") ? p : r;
  };
  const lines = [`kubegate dev environment is up: gateway ${state.gateway.url}`, ""];
  for (const u of DEMO_USERS) {
    lines.push(`  ${u.name} (groups ${u.groups.join(", ")}): ${u.role}`);
    for (const t of u.tryThis)
      lines.push(`    kubectl --kubeconfig ${rel(state.kubeconfigs[u.name] as string)} ${t}`);
  }
  lines.push(
    "",
    `  admin, straight to kube-apiserver: kubectl --kubeconfig ${rel(state.adminKubeconfig)} get namespaces`,
    `  metrics: ${state.gateway.metrics}/metrics   logs and audit: ${rel(join(state.dir, "logs"))}/`,
    // In dev kubegate's identities are certificate users, not service accounts: doctor is told so.
    `  check it: kubegate doctor --kubeconfig ${rel(state.adminKubeconfig)} --gateway-user kubegate-gateway --apiserver-user kubegate-apiserver --client-kubeconfig ${rel(state.kubeconfigs.alice as string)}`,
    `  stop and clean up: kubegate dev down --dir ${rel(state.dir)}`,
  );
  return lines.join("\n");
}
