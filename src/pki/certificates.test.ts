import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { describe, it } from "node:test";
import {
  createCA,
  createClientCert,
  createServerCert,
  isDnsName,
  loadCA,
  serviceDnsNames,
} from "./certificates.ts";

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

describe("createCA", () => {
  it("makes a self-signed CA with the requested CN and validity", async () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const ca = await createCA("test-ca", { days: 10, now });
    const cert = new X509Certificate(ca.certPem);
    assert.equal(cert.ca, true);
    assert.equal(cert.subject, "CN=test-ca");
    assert.equal(cert.issuer, "CN=test-ca");
    assert.ok(cert.verify(cert.publicKey), "self-signature verifies");
    assert.equal(new Date(cert.validTo).getTime(), new Date("2026-01-11T00:00:00Z").getTime());
    assert.ok(new Date(cert.validFrom) < now, "backdated for clock skew");
    assert.equal(createPrivateKey(ca.keyPem).asymmetricKeyDetails?.namedCurve, "prime256v1");
  });

  it("makes RSA keys of the requested size", async () => {
    const ca = await createCA("rsa-ca", { key: { type: "rsa", bits: 3072 } });
    const key = createPrivateKey(ca.keyPem);
    assert.equal(key.asymmetricKeyType, "rsa");
    assert.equal(key.asymmetricKeyDetails?.modulusLength, 3072);
  });
});

describe("createServerCert", () => {
  it("carries DNS and IP SANs, serverAuth, and chains to the CA", async () => {
    const ca = await createCA("ca");
    const pair = await createServerCert(ca, {
      cn: "custom-api-local-svc.custom-api-local-ns.svc",
      dnsNames: [...serviceDnsNames("custom-api-local-svc", "custom-api-local-ns"), "localhost"],
      ipAddresses: ["127.0.0.1", "::1"],
    });
    const cert = new X509Certificate(pair.certPem);
    const caCert = new X509Certificate(ca.certPem);
    assert.equal(cert.ca, false);
    assert.ok(cert.checkIssued(caCert));
    assert.ok(cert.verify(caCert.publicKey));
    assert.deepEqual(cert.keyUsage, [SERVER_AUTH]);
    for (const host of [
      "custom-api-local-svc",
      "custom-api-local-svc.custom-api-local-ns",
      "custom-api-local-svc.custom-api-local-ns.svc",
      "custom-api-local-svc.custom-api-local-ns.svc.cluster.local",
      "localhost",
    ]) {
      assert.equal(cert.checkHost(host), host, host);
    }
    assert.equal(cert.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(cert.checkIP("::1"), "::1");
    assert.equal(cert.checkHost("other.example"), undefined);
    assert.equal(cert.checkIP("10.0.0.1"), undefined);
  });

  it("adds a host-name CN to the SANs", async () => {
    const ca = await createCA("ca");
    const cert = new X509Certificate((await createServerCert(ca, { cn: "gw.example.com" })).certPem);
    assert.equal(cert.checkHost("gw.example.com"), "gw.example.com");
  });

  it("refuses bad names and empty SANs", async () => {
    const ca = await createCA("ca");
    await assert.rejects(createServerCert(ca, { cn: "x", dnsNames: ["bad_name!"] }), /not a valid DNS name/);
    await assert.rejects(createServerCert(ca, { cn: "x", ipAddresses: ["300.1.1.1"] }), /not a valid IP/);
    await assert.rejects(createServerCert(ca, { cn: "not a host" }), /at least one DNS name or IP/);
  });
});

describe("createClientCert", () => {
  it("puts the user in CN and each group in its own O, with clientAuth only", async () => {
    const ca = await createCA("ca");
    const cert = new X509Certificate(
      (await createClientCert(ca, { cn: "alice", organizations: ["team-a", "dev"] })).certPem,
    );
    assert.equal(cert.subject, "O=team-a\nO=dev\nCN=alice");
    assert.deepEqual(cert.keyUsage, [CLIENT_AUTH]);
    assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey));
    assert.equal(cert.subjectAltName, undefined);
  });

  it("keeps a comma or plus inside one attribute instead of splitting it", async () => {
    const ca = await createCA("ca");
    const cert = new X509Certificate(
      (await createClientCert(ca, { cn: "eve,O=system:masters", organizations: ["a+b"] })).certPem,
    );
    const legacy = cert.toLegacyObject();
    assert.equal(legacy.subject.CN, "eve,O=system:masters");
    assert.equal(legacy.subject.O, "a+b");
  });

  it("refuses an empty user name", async () => {
    await assert.rejects(createClientCert(await createCA("ca"), { cn: " " }), /non-empty CN/);
  });
});

describe("loadCA", () => {
  it("round-trips a CA and signs with it", async () => {
    const ca = await createCA("ca");
    const loaded = await loadCA(ca.certPem, ca.keyPem);
    const leaf = await createClientCert(loaded, { cn: "bob" });
    assert.ok(new X509Certificate(leaf.certPem).verify(new X509Certificate(ca.certPem).publicKey));
  });

  it("accepts a PKCS#1 RSA key as kubeadm writes it", async () => {
    const ca = await createCA("ca", { key: { type: "rsa", bits: 2048 } });
    const pkcs1 = createPrivateKey(ca.keyPem).export({ type: "pkcs1", format: "pem" }).toString();
    assert.match(pkcs1, /BEGIN RSA PRIVATE KEY/);
    const loaded = await loadCA(ca.certPem, pkcs1);
    const leaf = await createServerCert(loaded, { cn: "localhost" });
    assert.ok(new X509Certificate(leaf.certPem).verify(new X509Certificate(ca.certPem).publicKey));
  });

  it("refuses a key that is not the CA's, a non-CA certificate, and garbage", async () => {
    const ca = await createCA("ca");
    const other = await createCA("other");
    await assert.rejects(loadCA(ca.certPem, other.keyPem), /does not match the CA certificate/);
    const leaf = await createServerCert(ca, { cn: "localhost" });
    await assert.rejects(loadCA(leaf.certPem, leaf.keyPem), /is not a CA/);
    await assert.rejects(loadCA("not pem", ca.keyPem), /not a readable PEM certificate/);
    await assert.rejects(loadCA(ca.certPem, "not pem"), /not a readable PEM private key/);
  });
});

describe("isDnsName", () => {
  it("accepts host names with an optional trailing dot and rejects the rest", () => {
    for (const ok of ["a", "foo.bar.", "svc.ns.svc.cluster.local", "*.example.com", "x-1.y"])
      assert.ok(isDnsName(ok), ok);
    for (const bad of ["", "-a", "a-", "a..b", "a b", "a_b", `${"a".repeat(64)}.com`, "."])
      assert.ok(!isDnsName(bad), bad);
  });
});
