import { randomBytes, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { KubegateError } from "../status/errors.ts";
import {
  DEFAULT_KEY,
  generateKeyPair,
  importPrivateKeyPem,
  type KeyPair,
  type KeySpec,
  privateKeyToPem,
  publicKeyDerOf,
} from "./keys.ts";
import { x509 } from "./x509.ts";

/** A certificate and its private key, both PEM. */
export interface CertifiedKey {
  certPem: string;
  keyPem: string;
}

/** A CA that can sign: its PEMs plus the imported signing key. */
export interface SigningCA extends CertifiedKey {
  cert: x509.X509Certificate;
  keys: KeyPair;
}

export interface CommonOptions {
  days?: number;
  key?: KeySpec;
  /** Fixed "now" for reproducible tests. */
  now?: Date;
}

const DEFAULT_CA_DAYS = 3650;
const DEFAULT_LEAF_DAYS = 365;
// Backdating covers clocks that are a little behind the issuer's.
const BACKDATE_MS = 5 * 60 * 1000;

function validity(now: Date | undefined, days: number): { notBefore: Date; notAfter: Date } {
  const start = now ?? new Date();
  return {
    notBefore: new Date(start.getTime() - BACKDATE_MS),
    notAfter: new Date(start.getTime() + days * 24 * 3600 * 1000),
  };
}

/** Positive 127-bit serial: RFC 5280 asks for ≤ 20 octets and a positive number. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  if (bytes[0] === 0) bytes[0] = 1;
  return bytes.toString("hex");
}

/** Subject as separate RDNs so a comma or plus in a name can never split into another attribute. */
function subjectName(cn: string, organizations: readonly string[] = []): x509.Name {
  const rdns: x509.JsonName = organizations.map((o) => ({ O: [o] }));
  rdns.push({ CN: [cn] });
  return new x509.Name(rdns);
}

function keyUsageFor(keys: KeyPair, base: x509.KeyUsageFlags): x509.KeyUsageFlags {
  // RSA key exchange in TLS ≤1.2 encrypts with the certificate key; ECDSA keys never do.
  return keys.signingAlgorithm.name === "ECDSA" ? base : base | x509.KeyUsageFlags.keyEncipherment;
}

export async function createCA(cn: string, options: CommonOptions = {}): Promise<SigningCA> {
  const keys = await generateKeyPair(options.key ?? DEFAULT_KEY);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: subjectName(cn),
    issuer: subjectName(cn),
    ...validity(options.now, options.days ?? DEFAULT_CA_DAYS),
    signingAlgorithm: keys.signingAlgorithm,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, certPem: cert.toString("pem"), keyPem: await privateKeyToPem(keys.privateKey) };
}

/** Loads a CA from PEM text, refusing a key that does not belong to the certificate or a non-CA cert. */
export async function loadCA(certPem: string, keyPem: string): Promise<SigningCA> {
  let nodeCert: X509Certificate;
  try {
    nodeCert = new X509Certificate(certPem);
  } catch (err) {
    throw new KubegateError(`CA certificate is not a readable PEM certificate: ${(err as Error).message}`);
  }
  if (!nodeCert.ca) {
    throw new KubegateError(`certificate "${nodeCert.subject}" is not a CA (basicConstraints CA:FALSE)`);
  }
  const keys = await importPrivateKeyPem(keyPem, "CA key");
  const certSpki = nodeCert.publicKey.export({ type: "spki", format: "der" });
  if (!publicKeyDerOf(keyPem).equals(certSpki)) {
    throw new KubegateError("CA key does not match the CA certificate (their public keys differ)");
  }
  const cert = new x509.X509Certificate(certPem);
  return { cert, keys, certPem: cert.toString("pem"), keyPem };
}

export interface ServerCertOptions extends CommonOptions {
  cn: string;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  organizations?: readonly string[];
}

export interface ClientCertOptions extends CommonOptions {
  /** The user name Kubernetes derives from the certificate. */
  cn: string;
  /** Each becomes a group. */
  organizations?: readonly string[];
}

async function createLeaf(
  ca: SigningCA,
  subject: x509.Name,
  usage: "server" | "client",
  sans: x509.JsonGeneralName[],
  options: CommonOptions,
): Promise<CertifiedKey> {
  const keys = await generateKeyPair(options.key ?? DEFAULT_KEY);
  const eku = usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(keyUsageFor(keys, x509.KeyUsageFlags.digitalSignature), true),
    new x509.ExtendedKeyUsageExtension([eku]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject,
    issuer: ca.cert.subjectName,
    ...validity(options.now, options.days ?? DEFAULT_LEAF_DAYS),
    signingAlgorithm: ca.keys.signingAlgorithm,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions,
  });
  return { certPem: cert.toString("pem"), keyPem: await privateKeyToPem(keys.privateKey) };
}

const DNS_NAME =
  /^(?=.{1,253}\.?$)(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*\.?$/i;

export function isDnsName(name: string): boolean {
  return DNS_NAME.test(name);
}

/** Serving certificate. The CN is added to the DNS SANs when it is a host name, since TLS ignores CN. */
export async function createServerCert(ca: SigningCA, options: ServerCertOptions): Promise<CertifiedKey> {
  const dns = [...new Set([...(options.dnsNames ?? []), ...(isDnsName(options.cn) ? [options.cn] : [])])];
  const ips = [...new Set(options.ipAddresses ?? [])];
  for (const name of dns) {
    if (!isDnsName(name)) throw new KubegateError(`"${name}" is not a valid DNS name`);
  }
  for (const ip of ips) {
    if (isIP(ip) === 0) throw new KubegateError(`"${ip}" is not a valid IP address`);
  }
  if (dns.length === 0 && ips.length === 0) {
    throw new KubegateError("a server certificate needs at least one DNS name or IP address");
  }
  const sans: x509.JsonGeneralName[] = [
    ...dns.map((value) => ({ type: "dns" as const, value })),
    ...ips.map((value) => ({ type: "ip" as const, value })),
  ];
  return createLeaf(ca, subjectName(options.cn, options.organizations), "server", sans, options);
}

/** Client certificate: Kubernetes reads CN as the user name and every O as a group. */
export async function createClientCert(ca: SigningCA, options: ClientCertOptions): Promise<CertifiedKey> {
  if (options.cn.trim() === "")
    throw new KubegateError("a client certificate needs a non-empty CN (user name)");
  return createLeaf(ca, subjectName(options.cn, options.organizations), "client", [], options);
}

/** The DNS names a Service answers to inside the cluster, as the seed's tls.conf lists them. */
export function serviceDnsNames(
  service: string,
  namespace: string,
  clusterDomain = "cluster.local",
): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.${clusterDomain}`,
  ];
}
