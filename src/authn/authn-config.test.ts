import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startIssuer, type TestIssuer } from "../../test/support/oidc-issuer.ts";
import { ConfiguredIssuers, parseAuthenticationConfig } from "./authn-config.ts";
import type { AuthnResult } from "./user.ts";

const HEAD = "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\n";

/** One jwt entry as YAML, with `mappings` and `rules` spliced in as given. */
function entry(url: string, o: { audiences?: string; mappings?: string; rules?: string; ca?: string } = {}) {
  return `
- issuer:
    url: ${url}
    audiences: ${o.audiences ?? "[kubegate]"}
${o.ca ? `    certificateAuthority: |\n${o.ca.replace(/^/gm, "      ")}\n` : ""}  claimMappings:
${o.mappings ?? "    username: { claim: sub, prefix: 'oidc:' }"}
${o.rules ?? ""}`;
}

const refusal = (text: string) => {
  try {
    parseAuthenticationConfig(text, "test.yaml");
  } catch (err) {
    assert.equal((err as { code?: string }).code, "KUBEGATE_AUTHN_CONFIG_INVALID");
    return (err as Error).message;
  }
  assert.fail("the file was accepted");
};

describe("parseAuthenticationConfig", () => {
  it("reads several issuers with their audiences, mappings and claim rules", () => {
    const options = parseAuthenticationConfig(
      `${HEAD}jwt:${entry("https://a.example", {
        audiences: "[kubegate, other]\n    audienceMatchPolicy: MatchAny",
        mappings: `    username: { claim: email, prefix: "" }
    groups: { claim: groups, prefix: "a:" }
    uid: { claim: sub }`,
        rules: "  claimValidationRules:\n  - { claim: hd, requiredValue: example.com }",
      })}${entry("https://b.example/dex")}`,
    );
    assert.deepEqual(options, [
      {
        issuerUrl: "https://a.example",
        clientId: "kubegate",
        extraAudiences: ["other"],
        usernameClaim: "email",
        usernamePrefix: "",
        groupsClaim: "groups",
        groupsPrefix: "a:",
        uidClaim: "sub",
        requiredClaims: { hd: "example.com" },
      },
      {
        issuerUrl: "https://b.example/dex",
        clientId: "kubegate",
        extraAudiences: [],
        usernameClaim: "sub",
        usernamePrefix: "oidc:",
        requiredClaims: {},
      },
    ]);
  });

  it("refuses every CEL expression, naming its field, rather than ignoring the rule", () => {
    const cases: [string, RegExp][] = [
      [
        entry("https://a.example", { mappings: "    username: { expression: 'claims.sub' }" }),
        /jwt\[0\]\.claimMappings\.username\.expression: CEL/,
      ],
      [
        entry("https://a.example", {
          mappings: "    username: { claim: sub, prefix: '' }\n    groups: { expression: 'claims.g' }",
        }),
        /claimMappings\.groups\.expression: CEL/,
      ],
      [
        entry("https://a.example", {
          mappings: "    username: { claim: sub, prefix: '' }\n    uid: { expression: 'claims.sub' }",
        }),
        /claimMappings\.uid\.expression: CEL/,
      ],
      [
        entry("https://a.example", {
          mappings:
            "    username: { claim: sub, prefix: '' }\n    extra:\n    - { key: example.com/x, valueExpression: 'claims.x' }",
        }),
        /claimMappings\.extra: CEL/,
      ],
      [
        entry("https://a.example", {
          rules: "  claimValidationRules:\n  - { expression: 'claims.a == \"b\"', message: no }",
        }),
        /claimValidationRules\[0\]\.expression: CEL/,
      ],
      [
        entry("https://a.example", {
          rules: "  userValidationRules:\n  - { expression: 'true', message: no }",
        }),
        /userValidationRules: CEL/,
      ],
    ];
    for (const [jwt, reason] of cases) assert.match(refusal(`${HEAD}jwt:${jwt}`), reason);
  });

  it("refuses what the apiserver refuses, and what kubegate does not do, with the field's path", () => {
    const cases: [string, RegExp][] = [
      [`${HEAD}jwt:${entry("http://a.example")}`, /jwt\[0\]\.issuer\.url: must use https/],
      [
        `${HEAD}jwt:${entry("https://a.example")}${entry("https://a.example")}`,
        /jwt\[1\]\.issuer\.url: duplicate/,
      ],
      [
        `${HEAD}jwt:${entry("https://a.example", { audiences: "[x, y]" })}`,
        /audienceMatchPolicy: must be MatchAny when several/,
      ],
      [`${HEAD}jwt:${entry("https://a.example", { audiences: "[]" })}`, /audiences: at least one/],
      [
        `${HEAD}jwt:${entry("https://a.example", { mappings: "    username: { claim: sub }" })}`,
        /username\.prefix: required when claim is set/,
      ],
      [
        `${HEAD}jwt:${entry("https://a.example", { mappings: "    username: { claim: sub, prefix: '' }\n    groups: { claim: g }" })}`,
        /groups\.prefix: required/,
      ],
      [
        `${HEAD}jwt:${entry("https://a.example", { mappings: "    username: { prefix: x }" })}`,
        /username\.claim: required/,
      ],
      [
        `${HEAD}jwt:${entry("https://a.example", { mappings: "    username: { claim: sub, prefix: '', colour: red }" })}`,
        /username: unknown field\(s\) colour/,
      ],
      [
        `${HEAD}jwt:${entry("https://a.example").replace("    url:", "    discoveryURL: https://x\n    url:")}`,
        /issuer\.discoveryURL: not supported/,
      ],
      [`${HEAD}anonymous: { enabled: true }\njwt:${entry("https://a.example")}`, /anonymous: not supported/],
      [`${HEAD}jwt: []`, /jwt: at least one issuer/],
      ["apiVersion: apiserver.config.k8s.io/v2\nkind: AuthenticationConfiguration\njwt: []", /apiVersion/],
      [`${HEAD}jwt: [`, /not YAML or JSON/],
    ];
    for (const [text, reason] of cases) assert.match(refusal(text), reason, text);
  });
});

describe("ConfiguredIssuers", () => {
  let a: TestIssuer;
  let b: TestIssuer;
  let dir: string;
  let file: string;
  let issuers: ConfiguredIssuers;

  const config = (aPrefix: string) =>
    `${HEAD}jwt:${entry(a.url, {
      ca: a.caPem,
      mappings: `    username: { claim: sub, prefix: "${aPrefix}" }\n    groups: { claim: groups, prefix: "a:" }\n    uid: { claim: uid }`,
      rules: "  claimValidationRules:\n  - { claim: team, requiredValue: blue }",
    })}${entry(b.url, { ca: b.caPem, audiences: "[b-aud, kubegate]\n    audienceMatchPolicy: MatchAny" })}`;

  const userOf = (r: AuthnResult) => {
    assert.equal(r.kind, "user", r.kind === "rejected" ? r.reason : r.kind);
    return r.kind === "user" ? r.user : undefined;
  };
  const rejected = (r: AuthnResult, reason: RegExp) => {
    assert.equal(r.kind, "rejected");
    if (r.kind === "rejected") assert.match(r.reason, reason);
  };

  before(async () => {
    a = await startIssuer();
    b = await startIssuer({ audience: "b-aud" });
    dir = await mkdtemp(join(tmpdir(), "kubegate-authn-config-"));
    file = join(dir, "authn.yaml");
    await writeFile(file, config("a:"));
    issuers = await ConfiguredIssuers.load(file);
  });
  after(async () => {
    issuers.close();
    await a.close();
    await b.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("sends each token to the issuer it names, and maps its claims as that issuer says", async () => {
    const ta = await a.sign({ sub: "ada", groups: ["dev"], uid: "u-1", team: "blue" });
    assert.ok(issuers.claims(ta));
    assert.deepEqual(userOf(await issuers.authenticate(ta)), {
      name: "a:ada",
      uid: "u-1",
      groups: ["a:dev"],
      extra: {},
    });
    const tb = await b.sign({ sub: "bob" });
    assert.deepEqual(userOf(await issuers.authenticate(tb)), { name: "oidc:bob", groups: [], extra: {} });
  });

  it("rejects a failing claim rule, a missing uid, a foreign audience and a key of another issuer", async () => {
    rejected(
      await issuers.authenticate(await a.sign({ sub: "ada", uid: "u", team: "red" })),
      /required claim "team"/,
    );
    rejected(await issuers.authenticate(await a.sign({ sub: "ada", team: "blue" })), /uid claim "uid"/);
    rejected(await issuers.authenticate(await b.sign({ sub: "bob", aud: "someone-else" })), /audience/);
    // b's key, a's name: the issuer is found by the unverified iss, the signature still decides.
    rejected(
      await issuers.authenticate(await b.sign({ sub: "eve", iss: a.url, team: "blue", uid: "u" })),
      /key|signature/,
    );
    assert.equal(issuers.claims(await b.sign({ iss: "https://elsewhere.example" })), false);
    assert.equal(issuers.claims("not a jwt"), false);
  });

  it("takes a changed file at once, and keeps the last good one when the new one is refused", async () => {
    const token = await a.sign({ sub: "ada", uid: "u", team: "blue" });
    await writeFile(file, config("renamed:"));
    assert.equal(await issuers.reload(), true);
    assert.equal(issuers.generation, 2);
    assert.equal(userOf(await issuers.authenticate(token))?.name, "renamed:ada");
    await writeFile(file, `${config("x:")}\n  userValidationRules: [{ expression: "true" }]\n`);
    assert.equal(await issuers.reload(), false);
    assert.equal(issuers.generation, 2);
    assert.equal(userOf(await issuers.authenticate(token))?.name, "renamed:ada");
    assert.equal(await issuers.reload(), false, "an unchanged file is no change");
  });

  it("refuses to start on an invalid file", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(
      bad,
      `${HEAD}jwt:${entry(a.url, { mappings: "    username: { expression: 'claims.sub' }" })}`,
    );
    await assert.rejects(ConfiguredIssuers.load(bad), /username\.expression: CEL/);
    await assert.rejects(ConfiguredIssuers.load(join(dir, "missing.yaml")), /KUBEGATE|ENOENT|no such file/);
  });
});
