import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  base64url,
  CompactSign,
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
} from "jose";
import { createCA, createServerCert, loadCA } from "../../src/pki/certificates.ts";

export type IssuerAlg = "ES256" | "RS256";

export interface IssuerOptions {
  /** Where ca.crt (and the serving cert and key) are written; a fresh temporary directory otherwise. */
  certDir?: string;
  /** Algorithm of the issuer's keys; default ES256. */
  alg?: IssuerAlg;
  /** Default `aud` of signed tokens; default "kubegate". */
  audience?: string;
  /** Listen on this loopback port (to bring an issuer back where it was); default any free port. */
  port?: number;
  /** Path of the issuer URL, e.g. "/realms/test"; default none. */
  path?: string;
  /** Fields that override (or, when undefined, remove) those of the discovery document. */
  discovery?: Record<string, unknown>;
  /** Reuse this CA (PEM cert and key) rather than making a new one, e.g. when restarting an issuer. */
  ca?: { certPem: string; keyPem: string };
}

export interface SignOptions {
  /** Header alg; default the current key's. "none" produces an unsigned token. */
  alg?: string;
  /** Header kid; default the current key's; null leaves kid out. */
  kid?: string | null;
  /** Sign with this key (a foreign key, or an HMAC secret) rather than the issuer's current one. */
  key?: CryptoKey | Uint8Array;
  /** Extra header parameters. */
  header?: Record<string, unknown>;
}

export interface IssuerKey {
  kid: string;
  alg: IssuerAlg;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

export interface TestIssuer {
  /** The issuer URL: `iss` of its tokens, base of its discovery document. */
  url: string;
  port: number;
  caPem: string;
  caKeyPem: string;
  caFile: string;
  audience: string;
  /** The key tokens are signed with now. */
  readonly current: IssuerKey;
  /** Requests served so far, by endpoint. */
  readonly requests: { discovery: number; jwks: number };
  /**
   * A signed JWT: iss, aud, sub, iat and exp (now + 10 min) by default; `claims` override them, and a
   * claim set to undefined is left out.
   */
  sign(claims?: Record<string, unknown>, opts?: SignOptions): Promise<string>;
  /** A new current key; the old ones stay in the JWKS unless dropOld. Returns the new kid. */
  rotateKey(opts?: { dropOld?: boolean }): Promise<string>;
  /** Publish this key (from {@link newKey}) and sign with it from now on; old keys stay published. */
  publishKey(key: IssuerKey): void;
  /** Make the JWKS endpoint answer with this HTTP status (undefined: serve it again). */
  failJwks(status: number | undefined): void;
  /** The current public key as SPKI PEM (for algorithm-confusion tests). */
  publicKeyPem(): Promise<string>;
  close(): Promise<void>;
}

/** A fresh key pair of the issuer's kind (also handy as a "foreign" key in tests). */
export async function newKey(alg: IssuerAlg = "ES256"): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, publicKey, jwk };
}

/** A loopback HTTPS OpenID provider: discovery document and JWKS, and a signer for its tokens. */
export async function startIssuer(options: IssuerOptions = {}): Promise<TestIssuer> {
  const alg = options.alg ?? "ES256";
  const audience = options.audience ?? "kubegate";
  const path = (options.path ?? "").replace(/\/+$/, "");
  const ownDir = options.certDir === undefined;
  const certDir = options.certDir ?? (await mkdtemp(join(tmpdir(), "kubegate-oidc-")));
  await mkdir(certDir, { recursive: true });

  const ca = options.ca
    ? await loadCA(options.ca.certPem, options.ca.keyPem)
    : await createCA("kubegate test OIDC issuer CA");
  const serving = await createServerCert(ca, {
    cn: "localhost",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1", "::1"],
  });
  const caFile = join(certDir, "ca.crt");
  await writeFile(caFile, ca.certPem);
  await writeFile(join(certDir, "tls.crt"), serving.certPem);
  await writeFile(join(certDir, "tls.key"), serving.keyPem, { mode: 0o600 });

  let keys: IssuerKey[] = [await newKey(alg)];
  const requests = { discovery: 0, jwks: 0 };
  let jwksFailure: number | undefined;
  let url = "";

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

  const server: Server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const pathname = new URL(req.url ?? "/", "https://x").pathname;
    if (req.method !== "GET") return send(res, 405, { error: "method not allowed" });
    if (pathname === `${path}/.well-known/openid-configuration`) {
      requests.discovery++;
      const doc: Record<string, unknown> = {
        issuer: url,
        jwks_uri: `${url}/keys`,
        authorization_endpoint: `${url}/auth`,
        token_endpoint: `${url}/token`,
        response_types_supported: ["id_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: [alg],
        ...options.discovery,
      };
      for (const [k, v] of Object.entries(doc)) if (v === undefined) delete doc[k];
      return send(res, 200, doc);
    }
    if (pathname === `${path}/keys`) {
      requests.jwks++;
      if (jwksFailure !== undefined) return send(res, jwksFailure, { error: "failing on purpose" });
      return send(res, 200, { keys: keys.map((k) => k.jwk) });
    }
    send(res, 404, { error: "not found" });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  url = `https://127.0.0.1:${port}${path}`;

  const current = (): IssuerKey => keys[keys.length - 1] as IssuerKey;

  return {
    url,
    port,
    caPem: ca.certPem,
    caKeyPem: ca.keyPem,
    caFile,
    audience,
    get current() {
      return current();
    },
    requests,
    async sign(claims = {}, opts = {}) {
      const now = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = {
        iss: url,
        aud: audience,
        sub: "0001",
        iat: now,
        exp: now + 600,
        ...claims,
      };
      for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
      const key = current();
      const header: Record<string, unknown> = { alg: opts.alg ?? key.alg, typ: "JWT", ...opts.header };
      const kid = opts.kid === undefined ? key.kid : opts.kid;
      if (kid !== null) header.kid = kid;
      const bytes = new TextEncoder().encode(JSON.stringify(payload));
      if (header.alg === "none") {
        return `${base64url.encode(JSON.stringify(header))}.${base64url.encode(bytes)}.`;
      }
      return new CompactSign(bytes)
        .setProtectedHeader(header as { alg: string })
        .sign(opts.key ?? key.privateKey);
    },
    async rotateKey(opts = {}) {
      const next = await newKey(alg);
      keys = opts.dropOld ? [next] : [...keys, next];
      return next.kid;
    },
    publishKey(key) {
      keys = [...keys, key];
    },
    failJwks(status) {
      jwksFailure = status;
    },
    publicKeyPem() {
      return exportSPKI(current().publicKey);
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (ownDir) await rm(certDir, { recursive: true, force: true });
    },
  };
}
