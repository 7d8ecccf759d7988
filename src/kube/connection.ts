import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { parse } from "yaml";
import { KubegateError } from "../status/errors.ts";

/** How kubegate reaches kube-apiserver with its own identity. */
export interface Connection {
  server: URL;
  ca?: string;
  cert?: string;
  key?: string;
  /** Returns the current bearer token (re-read from disk when it rotates), if token based. */
  token?: () => string;
  /** Where this came from, for messages. */
  source: string;
}

const IN_CLUSTER_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

// Projected service-account tokens rotate (kubelet refreshes them hourly); re-reading at most this
// often keeps a rotation from breaking us without touching the disk per request.
const TOKEN_REREAD_MS = 60_000;

function tokenFromFile(path: string): () => string {
  let value = "";
  let readAt = 0;
  return () => {
    const now = Date.now();
    if (now - readAt > TOKEN_REREAD_MS || value === "") {
      value = readFileSync(path, "utf8").trim();
      readAt = now;
    }
    return value;
  };
}

function inCluster(env: NodeJS.ProcessEnv): Connection | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !existsSync(join(IN_CLUSTER_DIR, "token"))) return undefined;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    server: new URL(`https://${hostPart}:${port}`),
    ca: readFileSync(join(IN_CLUSTER_DIR, "ca.crt"), "utf8"),
    token: tokenFromFile(join(IN_CLUSTER_DIR, "token")),
    source: "in-cluster service account",
  };
}

interface NamedEntry<T> {
  name: string;
  [key: string]: unknown;
  value?: T;
}

function pick<T>(list: unknown, name: string, field: string, file: string): T {
  const found = (Array.isArray(list) ? (list as NamedEntry<T>[]) : []).find((e) => e?.name === name);
  if (!found || typeof found[field] !== "object") {
    throw new KubegateError(`kubeconfig ${file}: no ${field} named "${name}"`);
  }
  return found[field] as T;
}

function material(
  entry: Record<string, unknown>,
  dataKey: string,
  fileKey: string,
  base: string,
  file: string,
): string | undefined {
  const data = entry[dataKey];
  if (typeof data === "string" && data !== "") return Buffer.from(data, "base64").toString("utf8");
  const path = entry[fileKey];
  if (typeof path === "string" && path !== "") {
    const full = isAbsolute(path) ? path : join(base, path);
    try {
      return readFileSync(full, "utf8");
    } catch (err) {
      throw new KubegateError(
        `kubeconfig ${file}: cannot read ${fileKey} ${full}: ${(err as Error).message}`,
      );
    }
  }
  return undefined;
}

/** Loads the current context of a kubeconfig file (embedded data or file paths; token or client cert). */
export function fromKubeconfig(file: string, contextName?: string): Connection {
  let doc: Record<string, unknown>;
  try {
    doc = parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new KubegateError(`cannot read kubeconfig ${file}: ${(err as Error).message}`);
  }
  const name = contextName ?? (doc["current-context"] as string | undefined);
  if (!name) throw new KubegateError(`kubeconfig ${file} has no current-context`);
  const context = pick<Record<string, string>>(doc.contexts, name, "context", file);
  const cluster = pick<Record<string, unknown>>(doc.clusters, context.cluster ?? "", "cluster", file);
  const user = pick<Record<string, unknown>>(doc.users, context.user ?? "", "user", file);
  const base = dirname(file);
  if (cluster["insecure-skip-tls-verify"] === true) {
    throw new KubegateError(
      `kubeconfig ${file}: insecure-skip-tls-verify is refused; give the apiserver's CA`,
    );
  }
  let server: URL;
  try {
    server = new URL(String(cluster.server));
  } catch {
    throw new KubegateError(`kubeconfig ${file}: cluster server "${String(cluster.server)}" is not a URL`);
  }
  const conn: Connection = { server, source: `kubeconfig ${file} (context ${name})` };
  conn.ca = material(cluster, "certificate-authority-data", "certificate-authority", base, file);
  conn.cert = material(user, "client-certificate-data", "client-certificate", base, file);
  conn.key = material(user, "client-key-data", "client-key", base, file);
  if (typeof user.token === "string" && user.token !== "") {
    const token = user.token;
    conn.token = () => token;
  } else if (typeof user.tokenFile === "string" && user.tokenFile !== "") {
    conn.token = tokenFromFile(isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile));
  }
  if (!conn.token && !(conn.cert && conn.key)) {
    throw new KubegateError(
      `kubeconfig ${file}: user "${context.user}" has neither a token nor a client certificate`,
    );
  }
  return conn;
}

/**
 * The connection used when none is named: the in-cluster service account, then $KUBECONFIG, then
 * ~/.kube/config (the order client-go uses).
 */
export function loadConnection(
  kubeconfig?: string,
  env: NodeJS.ProcessEnv = process.env,
  flag = "--kubeconfig",
): Connection {
  if (kubeconfig) return fromKubeconfig(kubeconfig);
  const cluster = inCluster(env);
  if (cluster) return cluster;
  const fromEnv = env.KUBECONFIG?.split(":").find((f) => f !== "" && existsSync(f));
  if (fromEnv) return fromKubeconfig(fromEnv);
  const home = join(homedir(), ".kube", "config");
  if (existsSync(home)) return fromKubeconfig(home);
  throw new KubegateError(
    `no way to reach kube-apiserver: not in a cluster, $KUBECONFIG unset and ~/.kube/config missing; give ${flag}`,
  );
}
