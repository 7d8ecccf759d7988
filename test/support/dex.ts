// Dex, a real OpenID provider built from its Go module, run on loopback HTTPS for the OIDC e2e tests:
// static users (with groups) in its password database, one static client, the password grant.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../src/devcluster/ports.ts";
import { createCA, createServerCert } from "../../src/pki/certificates.ts";
import { rawRequest } from "./https-client.ts";

export interface DexUser {
  email: string;
  /** Becomes the ID token's preferred_username. */
  username: string;
  /** bcrypt hash (cost 10 or more: Dex refuses cheaper ones) of the user's password. */
  bcrypt: string;
  groups: string[];
}

export interface DexOptions {
  /** The dex binary (ensureClientBinaries().dex). */
  binary: string;
  users: DexUser[];
  /** Static clients; an ID token's `aud` is the client that asked for it. */
  clientIds: string[];
  /** How long to wait for the discovery document (default 30 s). */
  timeoutMs?: number;
}

export interface TokenResponse {
  status: number;
  /** Dex's JSON answer: id_token, access_token, token_type, expires_in; or error, error_description. */
  body: Record<string, unknown>;
}

export interface Dex {
  /** The issuer URL, `iss` of its ID tokens. */
  issuer: string;
  caFile: string;
  caPem: string;
  /** The password grant at Dex's token endpoint, as a static client (default the first). */
  passwordGrant(
    username: string,
    password: string,
    opts?: { clientId?: string; scope?: string },
  ): Promise<TokenResponse>;
  /** An ID token from the password grant; throws when Dex refuses. */
  idToken(username: string, password: string, clientId?: string): Promise<string>;
  /** Dex's log so far. */
  logs(): string;
  stop(): Promise<void>;
}

const DEFAULT_SCOPE = "openid email profile groups";

/** Starts Dex and resolves once its discovery document is served over TLS with the CA written here. */
export async function startDex(options: DexOptions): Promise<Dex> {
  const dir = await mkdtemp(join(tmpdir(), "kubegate-dex-"));
  const ca = await createCA("kubegate test Dex CA");
  const serving = await createServerCert(ca, { cn: "127.0.0.1", ipAddresses: ["127.0.0.1"] });
  const at = (n: string) => join(dir, n);
  await writeFile(at("ca.crt"), ca.certPem);
  await writeFile(at("tls.crt"), serving.certPem);
  await writeFile(at("tls.key"), serving.keyPem, { mode: 0o600 });
  const port = await freePort();
  const issuer = `https://127.0.0.1:${port}/dex`;
  // Fresh secrets per run: a client authenticates at the token endpoint, as Dex requires.
  const secrets = new Map(options.clientIds.map((id) => [id, crypto.randomUUID()]));
  const config = {
    issuer,
    storage: { type: "memory" },
    web: { https: `127.0.0.1:${port}`, tlsCert: at("tls.crt"), tlsKey: at("tls.key") },
    logger: { level: "info", format: "json" },
    oauth2: { passwordConnector: "local", skipApprovalScreen: true },
    expiry: { idTokens: "10m" },
    enablePasswordDB: true,
    staticPasswords: options.users.map((u, i) => ({
      email: u.email,
      username: u.username,
      preferredUsername: u.username,
      userID: `dex-user-${i}`,
      hash: u.bcrypt,
      groups: u.groups,
    })),
    staticClients: [...secrets].map(([id, secret]) => ({
      id,
      name: id,
      secret,
      redirectURIs: ["http://127.0.0.1:8000/callback"],
    })),
  };
  // JSON is YAML: Dex reads either.
  await writeFile(at("config.yaml"), JSON.stringify(config, null, 2));

  const child: ChildProcess = spawn(options.binary, ["serve", at("config.yaml")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout?.on("data", (d) => {
    log += d;
  });
  child.stderr?.on("data", (d) => {
    log += d;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`dex exited with ${child.exitCode} before serving:\n${log}`);
    }
    const r = await rawRequest(issuer, {
      path: "/dex/.well-known/openid-configuration",
      ca: ca.certPem,
    }).catch(() => undefined);
    if (r?.status === 200 && (JSON.parse(r.body) as { issuer?: string }).issuer === issuer) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`dex did not serve its discovery document in time:\n${log}`);
    }
    await new Promise((res) => setTimeout(res, 100));
  }

  const passwordGrant = async (
    username: string,
    password: string,
    { clientId = options.clientIds[0] ?? "", scope = DEFAULT_SCOPE } = {},
  ) => {
    const body = new URLSearchParams({ grant_type: "password", username, password, scope }).toString();
    const basic = Buffer.from(`${clientId}:${secrets.get(clientId) ?? "unknown"}`).toString("base64");
    const r = await rawRequest(issuer, {
      method: "POST",
      path: "/dex/token",
      ca: ca.certPem,
      headers: [
        ["Content-Type", "application/x-www-form-urlencoded"],
        ["Authorization", `Basic ${basic}`],
      ],
      body,
    });
    return { status: r.status, body: JSON.parse(r.body) as Record<string, unknown> };
  };

  return {
    issuer,
    caFile: at("ca.crt"),
    caPem: ca.certPem,
    passwordGrant,
    async idToken(username, password, clientId) {
      const r = await passwordGrant(username, password, clientId ? { clientId } : {});
      if (r.status !== 200 || typeof r.body.id_token !== "string")
        throw new Error(
          `dex refused the password grant for ${username}: ${r.status} ${JSON.stringify(r.body)}`,
        );
      return r.body.id_token;
    },
    logs: () => log,
    stop,
  };
}
