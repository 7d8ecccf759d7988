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

  it("compiles CEL wherever the apiserver takes it, and leaves the replaced claims unset", () => {
    const [o] = parseAuthenticationConfig(
      `${HEAD}jwt:${entry("https://a.example", {
        mappings: `    username: { expression: "'a:' + claims.sub" }
    groups: { expression: "claims.roles.map(r, 'role:' + r)" }
    uid: { expression: "claims.sub" }
    extra:
    - { key: example.com/team, valueExpression: "claims.team" }`,
        rules: `  claimValidationRules:
  - { expression: "claims.exp - claims.iat <= 3600", message: too long }
  - { claim: hd, requiredValue: example.com }
  userValidationRules:
  - { expression: "!user.username.startsWith('system:')", message: reserved }`,
      })}`,
    );
    assert.ok(o?.expressions);
    const x = o.expressions;
    assert.deepEqual(
      [x.username?.source, x.groups?.source, x.uid?.source, x.extra.map((e) => e.key)],
      ["'a:' + claims.sub", "claims.roles.map(r, 'role:' + r)", "claims.sub", ["example.com/team"]],
    );
    assert.deepEqual(
      x.claimValidation.map((r) => r.message),
      ["too long"],
    );
    assert.deepEqual(
      x.userValidation.map((r) => r.message),
      ["reserved"],
    );
    assert.deepEqual(o.requiredClaims, { hd: "example.com" });
    for (const k of ["usernameClaim", "usernamePrefix", "groupsClaim", "groupsPrefix", "uidClaim"] as const)
      assert.equal(o[k], undefined, k);
  });

  it("refuses CEL that does not compile, has the wrong type or breaks the apiserver's rules, naming the field", () => {
    const withUser = (m: string) => `    username: { claim: sub, prefix: '' }\n${m}`;
    const cases: [string, RegExp][] = [
      [
        entry("https://a.example", { mappings: "    username: { expression: 'claims.sub +' }" }),
        /jwt\[0\]\.claimMappings\.username\.expression: /,
      ],
      [
        entry("https://a.example", { mappings: "    username: { expression: '1' }" }),
        /username\.expression: must evaluate to a string, not int/,
      ],
      [
        entry("https://a.example", { mappings: "    username: { expression: 'claims.sub', prefix: 'x:' }" }),
        /username\.prefix: not allowed with expression/,
      ],
      [
        entry("https://a.example", { mappings: "    username: { expression: 'claims.sub', claim: sub }" }),
        /username: claim and expression exclude each other/,
      ],
      [
        entry("https://a.example", { mappings: withUser("    groups: { expression: 'claims.g > 1' }") }),
        /groups\.expression: must evaluate to a string or a list of strings, not bool/,
      ],
      [
        entry("https://a.example", { mappings: withUser("    uid: { expression: 'url(claims.sub)' }") }),
        /uid\.expression: .*url/,
      ],
      [
        entry("https://a.example", {
          mappings: withUser("    uid: { expression: 'claims.sub', claim: sub }"),
        }),
        /uid: claim and expression exclude each other/,
      ],
      [
        entry("https://a.example", {
          mappings: withUser("    groups: { expression: 'claims.g.filter(x, claims.g.exists(y, y == x))' }"),
        }),
        /groups\.expression: a comprehension .* inside another is not allowed/,
      ],
      ...[
        ["team", /extra\[0\]\.key: must be a domain-prefixed path/],
        ["Example.com/team", /extra\[0\]\.key: must be lowercase/],
        [
          "authentication.kubernetes.io/credential-id",
          /extra\[0\]\.key: k8s\.io, kubernetes\.io .* reserved/,
        ],
        ["k8s.io/x", /extra\[0\]\.key: k8s\.io, kubernetes\.io .* reserved/],
        ["a b/c", /extra\[0\]\.key: must be a domain-prefixed path/],
        ["acme.io/a b", /extra\[0\]\.key: must be a domain-prefixed path/],
      ].map(([key, reason]): [string, RegExp] => [
        entry("https://a.example", {
          mappings: withUser(`    extra:\n    - { key: "${key}", valueExpression: 'claims.x' }`),
        }),
        reason as RegExp,
      ]),
      [
        entry("https://a.example", {
          mappings: withUser(
            "    extra:\n    - { key: a.io/x, valueExpression: 'claims.x' }\n    - { key: a.io/x, valueExpression: 'claims.y' }",
          ),
        }),
        /extra\[1\]\.key: duplicate key "a\.io\/x"/,
      ],
      [
        entry("https://a.example", {
          mappings: withUser("    extra:\n    - { key: a.io/x, valueExpression: 'claims.x + 1' }"),
        }),
        /extra\[0\]\.valueExpression: must evaluate to a string or a list of strings, not int/,
      ],
      [
        entry("https://a.example", {
          rules: "  claimValidationRules:\n  - { expression: 'claims.a', message: no }",
        }),
        /claimValidationRules\[0\]\.expression: must evaluate to a bool, not dyn \(compare a claim/,
      ],
      [
        entry("https://a.example", {
          rules: "  claimValidationRules:\n  - { expression: \"'yes'\", message: no }",
        }),
        /claimValidationRules\[0\]\.expression: must evaluate to a bool, not string/,
      ],
      [
        entry("https://a.example", {
          rules: "  claimValidationRules:\n  - { expression: 'claims.a == \"b\"', requiredValue: b }",
        }),
        /claimValidationRules\[0\]: expression excludes claim and requiredValue/,
      ],
      [
        entry("https://a.example", {
          rules: "  claimValidationRules:\n  - { expression: 'user.username == \"x\"' }",
        }),
        /claimValidationRules\[0\]\.expression: .*user/,
      ],
      [
        entry("https://a.example", {
          rules: "  userValidationRules:\n  - { expression: 'claims.sub == \"x\"', message: no }",
        }),
        /userValidationRules\[0\]\.expression: .*claims/,
      ],
      [
        entry("https://a.example", { mappings: "    username: { expression: 'claims.email' }" }),
        /username\.expression: uses claims\.email, so claims\.email_verified must be used/,
      ],
    ];
    for (const [jwt, reason] of cases) assert.match(refusal(`${HEAD}jwt:${jwt}`), reason, jwt);
    // Taken: the email guard satisfied by the username expression itself, a claim rule, or an extra
    // mapping.
    const email = "    username: { expression: 'claims.email' }";
    for (const where of [
      { mappings: "    username: { expression: 'claims.email_verified ? claims.email : \"\"' }" },
      {
        mappings: email,
        rules: "  claimValidationRules:\n  - { expression: 'claims.email_verified == true' }",
      },
      {
        mappings: `${email}\n    extra:\n    - { key: a.io/v, valueExpression: 'string(claims["email_verified"])' }`,
      },
    ])
      parseAuthenticationConfig(`${HEAD}jwt:${entry("https://a.example", where)}`);
  });

  it("keeps a required claim of any name, __proto__ included", () => {
    const [o] = parseAuthenticationConfig(
      `${HEAD}jwt:${entry("https://a.example", {
        rules:
          "  claimValidationRules:\n  - { claim: __proto__, requiredValue: x }\n  - { claim: tenant, requiredValue: a }",
      })}`,
    );
    assert.deepEqual(Object.entries(o?.requiredClaims ?? {}), [
      ["__proto__", "x"],
      ["tenant", "a"],
    ]);
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
        /username\.claim: claim or expression is required/,
      ],
      [
        `${HEAD}jwt:${entry("https://a.example", { mappings: "    username: { claim: sub, prefix: '', colour: red }" })}`,
        /username: unknown field\(s\) colour/,
      ],
      [
        `${HEAD}jwt:${entry("https://a.example").replace("    url:", "    discoveryURL: http://x\n    url:")}`,
        /issuer\.discoveryURL: must use https/,
      ],
      [
        `${HEAD}jwt:${entry("https://a.example").replace("    url:", "    discoveryURL: https://a.example/\n    url:")}`,
        /issuer\.discoveryURL: must differ from url/,
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

  it("maps a verified token with the file's CEL and holds it to the CEL rules", async () => {
    const celFile = join(dir, "cel.yaml");
    await writeFile(
      celFile,
      `${HEAD}jwt:${entry(a.url, {
        ca: a.caPem,
        mappings: `    username: { expression: "claims.email_verified ? claims.email : 'unverified:' + claims.sub" }
    groups: { expression: "claims.roles.map(r, 'role:' + r)" }
    uid: { expression: "claims.sub" }
    extra:
    - { key: example.com/tenant, valueExpression: "claims.?tenant.orValue('')" }`,
        rules: `  claimValidationRules:
  - { expression: "claims.exp - claims.iat <= 3600", message: "tokens may live an hour at most" }
  userValidationRules:
  - { expression: "!('role:root' in user.groups)", message: "no root role" }`,
      })}`,
    );
    const cel = await ConfiguredIssuers.load(celFile);
    try {
      const claims = { sub: "s-1", email: "ada@example.com", email_verified: true, roles: ["dev"] };
      assert.deepEqual(userOf(await cel.authenticate(await a.sign({ ...claims, tenant: "blue" }))), {
        name: "ada@example.com",
        uid: "s-1",
        groups: ["role:dev"],
        extra: { "example.com/tenant": ["blue"] },
      });
      assert.deepEqual(
        userOf(await cel.authenticate(await a.sign({ ...claims, email_verified: false, roles: [] }))),
        { name: "unverified:s-1", uid: "s-1", groups: [], extra: {} },
      );
      const now = Math.floor(Date.now() / 1000);
      rejected(
        await cel.authenticate(await a.sign({ ...claims, iat: now, exp: now + 7200 })),
        /claims\.exp - claims\.iat <= 3600' failed: tokens may live an hour at most/,
      );
      rejected(await cel.authenticate(await a.sign({ ...claims, roles: ["root"] })), /failed: no root role/);
      rejected(await cel.authenticate(await a.sign({ ...claims, roles: "dev" })), /groups expression failed/);
    } finally {
      cel.close();
    }
  });

  it("a token too costly to evaluate is refused at the budget, and costs it once", async () => {
    const slowFile = join(dir, "slow.yaml");
    await writeFile(
      slowFile,
      `${HEAD}jwt:${entry(a.url, {
        ca: a.caPem,
        mappings: `    username: { claim: sub, prefix: "" }
    groups: { expression: "claims.g.map(x, claims.g + [x])[0]" }`,
      })}`,
    );
    const slow = await ConfiguredIssuers.load(slowFile);
    try {
      const token = await a.sign({ sub: "ada", g: Array.from({ length: 4000 }, (_, i) => `g${i}`) });
      let t = performance.now();
      rejected(await slow.authenticate(token), /CEL evaluation took longer than 100 ms/);
      assert.ok(performance.now() - t >= 100);
      t = performance.now();
      rejected(await slow.authenticate(token), /CEL evaluation took longer than 100 ms/);
      assert.ok(performance.now() - t < 50, "the second time is the remembered outcome");
    } finally {
      slow.close();
    }
  });

  it("takes a changed file at once, and keeps the last good one when the new one is refused", async () => {
    const token = await a.sign({ sub: "ada", uid: "u", team: "blue" });
    await writeFile(file, config("renamed:"));
    assert.equal(await issuers.reload(), true);
    assert.equal(issuers.generation, 2);
    assert.equal(userOf(await issuers.authenticate(token))?.name, "renamed:ada");
    await writeFile(file, `${config("x:")}\n  userValidationRules: [{ expression: "claims.sub == 'x'" }]\n`);
    assert.equal(await issuers.reload(), false);
    assert.equal(issuers.generation, 2);
    assert.equal(userOf(await issuers.authenticate(token))?.name, "renamed:ada");
    assert.equal(await issuers.reload(), false, "an unchanged file is no change");
  });

  it("refuses to start on an invalid file", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(
      bad,
      `${HEAD}jwt:${entry(a.url, { mappings: "    username: { expression: 'claims.sub.size()' }" })}`,
    );
    await assert.rejects(
      ConfiguredIssuers.load(bad),
      /username\.expression: must evaluate to a string, not int/,
    );
    await assert.rejects(ConfiguredIssuers.load(join(dir, "missing.yaml")), /KUBEGATE|ENOENT|no such file/);
  });
});
