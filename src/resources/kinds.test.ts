import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { FILTERED_KINDS, grantable, UNCONFIGURABLE_GROUPS } from "./kinds.ts";

const CRDS = new URL("../../deploy/base/crds.yaml", import.meta.url);

/** Every `kind` enum under a proxySettings array in the shipped CRDs. */
function proxySettingEnums(): string[][] {
  const found: string[][] = [];
  const walk = (node: unknown, underProxySettings: boolean) => {
    if (Array.isArray(node)) for (const n of node) walk(n, underProxySettings);
    else if (node && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        if (underProxySettings && k === "kind" && Array.isArray((v as { enum?: unknown }).enum))
          found.push((v as { enum: string[] }).enum);
        walk(v, underProxySettings || k === "proxySettings");
      }
    }
  };
  for (const doc of parseAllDocuments(readFileSync(CRDS, "utf8"))) walk(doc.toJS(), false);
  return found;
}

describe("the kinds table drives the CRDs", () => {
  it("every proxySettings kind enum in deploy/base/crds.yaml is exactly the table's kinds", () => {
    const enums = proxySettingEnums();
    assert.equal(enums.length, 2, "Tenant owners' and ProxySetting's proxySettings");
    const table = FILTERED_KINDS.filter(grantable).map((k) => k.kind);
    for (const e of enums) assert.deepEqual([...e].sort(), [...table].sort());
  });

  it("every kind names a writable field list (deny by default means an explicit list, even empty)", () => {
    for (const k of FILTERED_KINDS) assert.ok(Array.isArray(k.writable), k.kind);
  });

  it("the Tenant CRD refuses, in clusterResources, exactly the groups the index refuses", () => {
    const tenantCrd = parseAllDocuments(readFileSync(CRDS, "utf8"))
      .map((d) => d.toJS())
      .find((d) => d.metadata.name === "tenants.tenancy.kubegate.dev");
    const items =
      tenantCrd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.clusterResources.items;
    const rules = items["x-kubernetes-validations"] as { rule: string }[];
    assert.equal(rules.length, 1);
    const listed = /^!\(self\.group in \[(.*)\]\)$/.exec(rules[0]?.rule ?? "")?.[1];
    assert.ok(listed, rules[0]?.rule);
    const groups = [...listed.matchAll(/'([^']*)'/g)].map((m) => m[1]);
    assert.deepEqual(groups.sort(), [...UNCONFIGURABLE_GROUPS].sort());
  });
});
