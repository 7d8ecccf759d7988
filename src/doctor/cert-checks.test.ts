import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { createCA, createClientCert, createServerCert, type SigningCA } from "../pki/certificates.ts";
import { x509 } from "../pki/x509.ts";
import {
  chainsTo,
  checkClientCertificate,
  checkServingCertificate,
  dnsNameMatches,
  parseBundle,
} from "./cert-checks.ts";
import type { Finding } from "./types.ts";

const HOST = "custom-api.kubegate-system.svc";
const DAY = 24 * 3600 * 1000;
const cert = (pem: string) => new x509.X509Certificate(pem);
const outcomes = (f: Finding[]) => f.map((x) => x.outcome);

let ca: SigningCA;
let otherCa: SigningCA;
before(async () => {
  ca = await createCA("doctor-test-ca");
  otherCa = await createCA("some-other-ca");
});

function serving(signer: SigningCA, names: string[], extra: { now?: Date; days?: number } = {}) {
  return createServerCert(signer, { cn: names[0] ?? "x", dnsNames: names, ...extra });
}

describe("dnsNameMatches", () => {
  it("matches exactly, case-insensitively, ignoring a trailing dot, and wildcards one label only", () => {
    assert.ok(dnsNameMatches("Custom-API.kubegate-system.svc.", HOST));
    assert.ok(dnsNameMatches("*.kubegate-system.svc", HOST));
    assert.ok(!dnsNameMatches("*.svc", HOST));
    assert.ok(!dnsNameMatches("custom-api.kubegate-system", HOST));
    assert.ok(!dnsNameMatches("*.kubegate-system.svc", "kubegate-system.svc"));
  });
});

describe("checkServingCertificate", () => {
  const input = async (served: string[], bundle: string, now = new Date()) => ({
    what: "the serving certificate",
    served: served.map(cert),
    caBundlePem: bundle,
    caBundleSource: "APIService v1.custom.api.local",
    host: HOST,
    now,
    reissue: "reissue it",
  });

  it("is all ok for the Service name, signed by the caBundle's CA", async () => {
    const s = await serving(ca, [HOST, "localhost"]);
    const f = await checkServingCertificate(await input([s.certPem], `${otherCa.certPem}${ca.certPem}`));
    assert.deepEqual(outcomes(f), ["ok", "ok", "ok"], JSON.stringify(f));
    assert.match(f[1]?.message ?? "", /chains to the caBundle.*doctor-test-ca/);
  });

  it("names the missing SAN, what the certificate names instead, and that the CN does not count", async () => {
    const s = await createServerCert(ca, { cn: HOST, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
    // createServerCert adds a host-name CN to the SANs; make one whose CN alone names the Service.
    const cnOnly = await createServerCert(ca, { cn: "Custom API", dnsNames: ["localhost"] });
    const f = await checkServingCertificate(await input([cnOnly.certPem], ca.certPem));
    assert.equal(f[0]?.outcome, "problem");
    assert.match(f[0]?.message ?? "", /not valid for custom-api\.kubegate-system\.svc: it names localhost/);
    assert.equal(f[0]?.fix, "reissue it");
    const good = await checkServingCertificate(await input([s.certPem], ca.certPem));
    assert.equal(good[0]?.outcome, "ok");
  });

  it("a certificate from another CA does not chain, and the message names both issuers", async () => {
    const s = await serving(otherCa, [HOST]);
    const f = await checkServingCertificate(await input([s.certPem], ca.certPem));
    const chain = f.find((x) => /chain/.test(x.message));
    assert.equal(chain?.outcome, "problem");
    assert.match(chain?.message ?? "", /issued by "CN=some-other-ca".*holds "CN=doctor-test-ca"/);
  });

  it("an empty caBundle is a problem of its own", async () => {
    const s = await serving(ca, [HOST]);
    const f = await checkServingCertificate(await input([s.certPem], ""));
    assert.ok(f.some((x) => x.outcome === "problem" && /has no caBundle/.test(x.message)));
  });

  it("expired is a problem, ending within 30 days a warning", async () => {
    const old = await serving(ca, [HOST], { now: new Date(Date.now() - 10 * DAY), days: 5 });
    const f = await checkServingCertificate(await input([old.certPem], ca.certPem));
    assert.ok(f.some((x) => x.outcome === "problem" && /expired on/.test(x.message)));
    const soon = await serving(ca, [HOST], { days: 10 });
    const g = await checkServingCertificate(await input([soon.certPem], ca.certPem));
    assert.deepEqual(outcomes(g), ["ok", "ok", "warning"]);
    assert.match(g[2]?.message ?? "", /expires in (9|10) day/);
  });
});

describe("chainsTo", () => {
  it("follows an intermediate the server sends, and fails without it", async () => {
    // An intermediate CA: a CA certificate signed by the root, built with the library directly.
    const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ]);
    const intermediate = await x509.X509CertificateGenerator.create({
      serialNumber: "0a",
      subject: "CN=intermediate",
      issuer: ca.cert.subject,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 100 * DAY),
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      publicKey: keys.publicKey,
      signingKey: ca.keys.privateKey,
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
    });
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: "0b",
      subject: `CN=${HOST}`,
      issuer: intermediate.subject,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 100 * DAY),
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      publicKey: (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]))
        .publicKey,
      signingKey: keys.privateKey,
    });
    const full = await chainsTo([leaf, intermediate], [ca.cert]);
    assert.deepEqual(full, { ok: true, path: [`CN=${HOST}`, "CN=intermediate", "CN=doctor-test-ca"] });
    const partial = await chainsTo([leaf], [ca.cert]);
    assert.equal(partial.ok, false);
  });

  it("a forged certificate with the right issuer name but another key does not chain", async () => {
    const impostor = await createCA("doctor-test-ca");
    const s = await serving(impostor, [HOST]);
    const r = await chainsTo([cert(s.certPem)], [ca.cert]);
    assert.equal(r.ok, false);
  });
});

describe("checkClientCertificate", () => {
  it("shows CN as the user and every O as a group", async () => {
    const c = await createClientCert(ca, { cn: "alice", organizations: ["team-a", "dev"] });
    const f = checkClientCertificate(cert(c.certPem), new Date(), "alice.crt");
    assert.deepEqual(outcomes(f), ["ok", "ok"]);
    assert.match(f[0]?.message ?? "", /user "alice", groups "team-a", "dev"/);
  });

  it("expired and not yet valid are problems, ending soon a warning", async () => {
    const c = await createClientCert(ca, { cn: "bob", days: 20 });
    const x = cert(c.certPem);
    assert.equal(checkClientCertificate(x, new Date(), "bob.crt")[1]?.outcome, "warning");
    const later = checkClientCertificate(x, new Date(Date.now() + 21 * DAY), "bob.crt")[1];
    assert.equal(later?.outcome, "problem");
    assert.match(later?.message ?? "", /expired on/);
    const earlier = checkClientCertificate(x, new Date(Date.now() - DAY), "bob.crt")[1];
    assert.equal(earlier?.outcome, "problem");
    assert.match(earlier?.message ?? "", /not valid before/);
  });

  it("a serving certificate is not a client certificate (no clientAuth usage)", async () => {
    const s = await serving(ca, ["carol"]);
    const f = checkClientCertificate(cert(s.certPem), new Date(), "carol.crt");
    assert.ok(f.some((x) => x.outcome === "problem" && /lacks clientAuth/.test(x.message)));
  });
});

describe("parseBundle", () => {
  it("reads every certificate and reports unreadable ones", () => {
    const broken = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
    const r = parseBundle(`${ca.certPem}${broken}${otherCa.certPem}`);
    assert.equal(r.certs.length, 2);
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0] ?? "", /certificate #2/);
  });
});
