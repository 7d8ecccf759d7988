import { createPrivateKey, createPublicKey, type KeyObject, webcrypto } from "node:crypto";
import { KubegateError } from "../status/errors.ts";
import { x509 } from "./x509.ts";

type CryptoKey = webcrypto.CryptoKey;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;

export type KeyType = "ecdsa" | "rsa";

export interface KeySpec {
  type: KeyType;
  /** RSA modulus length; ignored for ECDSA (always P-256). */
  bits?: 2048 | 3072 | 4096;
}

export const DEFAULT_KEY: KeySpec = { type: "ecdsa" };

/** A key pair usable both by WebCrypto (for signing) and node's KeyObject (for PEM export). */
export interface KeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  signingAlgorithm: EcdsaParams | Algorithm;
}

function algorithmFor(spec: KeySpec): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  if (spec.type === "rsa") {
    return {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: spec.bits ?? 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    };
  }
  return { name: "ECDSA", namedCurve: "P-256" };
}

function signingAlgorithmFor(alg: { name: string; namedCurve?: string }): EcdsaParams | Algorithm {
  if (alg.name === "ECDSA") {
    return { name: "ECDSA", hash: alg.namedCurve === "P-384" ? "SHA-384" : "SHA-256" } as EcdsaParams;
  }
  return { name: "RSASSA-PKCS1-v1_5" };
}

export async function generateKeyPair(spec: KeySpec = DEFAULT_KEY): Promise<KeyPair> {
  const alg = algorithmFor(spec);
  const pair = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  return { ...pair, signingAlgorithm: signingAlgorithmFor(alg as { name: string; namedCurve?: string }) };
}

export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

export async function publicKeyToPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("spki", key);
  return x509.PemConverter.encode(der, "PUBLIC KEY");
}

/**
 * Loads a private key in any PEM form Kubernetes tools write (PKCS#8, SEC1 "EC PRIVATE KEY",
 * PKCS#1 "RSA PRIVATE KEY") and turns it into a WebCrypto signing key plus its public half.
 */
export async function importPrivateKeyPem(pem: string, what = "private key"): Promise<KeyPair> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(pem);
  } catch (err) {
    throw new KubegateError(`${what} is not a readable PEM private key: ${(err as Error).message}`);
  }
  let alg: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams;
  if (keyObject.asymmetricKeyType === "ec") {
    const curve = keyObject.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === "prime256v1" ? "P-256" : curve === "secp384r1" ? "P-384" : undefined;
    if (!namedCurve) throw new KubegateError(`${what} uses unsupported elliptic curve ${curve}`);
    alg = { name: "ECDSA", namedCurve };
  } else if (keyObject.asymmetricKeyType === "rsa") {
    alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  } else {
    throw new KubegateError(`${what} has unsupported type ${keyObject.asymmetricKeyType}`);
  }
  const pkcs8 = keyObject.export({ type: "pkcs8", format: "der" });
  const spki = createPublicKey(keyObject).export({ type: "spki", format: "der" });
  const privateKey = await webcrypto.subtle.importKey("pkcs8", pkcs8, alg, true, ["sign"]);
  const publicKey = await webcrypto.subtle.importKey("spki", spki, alg, true, ["verify"]);
  return { privateKey, publicKey, signingAlgorithm: signingAlgorithmFor(alg) };
}

/** DER SubjectPublicKeyInfo of a PEM private key, for comparing it with a certificate's key. */
export function publicKeyDerOf(privateKeyPem: string): Buffer {
  return createPublicKey(privateKeyPem).export({ type: "spki", format: "der" });
}
