import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createCA, createServerCert } from "./certificates.ts";
import { checkServingPair } from "./serving-pair.ts";

const ca = await createCA("pair-ca");
const one = await createServerCert(ca, { cn: "localhost" });
const two = await createServerCert(ca, { cn: "localhost" });

describe("checkServingPair", () => {
  it("accepts a certificate with its own key", () => {
    assert.doesNotThrow(() => checkServingPair(one.certPem, one.keyPem));
  });
  it("refuses what a rotation caught half-way leaves on disk", () => {
    assert.throws(() => checkServingPair("", one.keyPem), /no complete PEM certificate/);
    assert.throws(
      () => checkServingPair(one.certPem.slice(0, 200), one.keyPem),
      /no complete PEM certificate/,
    );
    assert.throws(() => checkServingPair(one.certPem, ""), /no complete PEM private key/);
    assert.throws(() => checkServingPair(one.certPem, two.keyPem), /does not belong/);
  });
});
