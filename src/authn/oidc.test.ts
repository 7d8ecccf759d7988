import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { newKey, startIssuer, type TestIssuer } from "../../test/support/oidc-issuer.ts";
import { OidcAuthenticator, type OidcOptions, prefixFromFlag } from "./oidc.ts";
import type { AuthnResult } from "./user.ts";

const now = () => Math.floor(Date.now() / 1000);

function assertUser(r: AuthnResult, name: string, groups: string[] = []): void {
  assert.equal(r.kind, "user", r.kind === "rejected" ? r.reason : "");
  if (r.kind !== "user") return;
  assert.equal(r.method, "oidc");
  assert.deepEqual(r.user, { name, groups, extra: {} });
  assert.equal(r.user.uid, undefined);
}

function assertRejected(r: AuthnResult, reason: RegExp): void {
  assert.equal(r.kind, "rejected", `expected a rejection, got ${JSON.stringify(r)}`);
  if (r.kind === "rejected") assert.match(r.reason, reason);
}

/** A loopback port nothing listens on (there is a tiny race with other processes; acceptable in tests). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("OidcAuthenticator", () => {
  let issuer: TestIssuer;
  let auth: OidcAuthenticator;
  const authenticators: OidcAuthenticator[] = [];

  async function make(
    extra: Partial<OidcOptions> = {},
    from: TestIssuer = issuer,
  ): Promise<OidcAuthenticator> {
    const a = await OidcAuthenticator.create({
      issuerUrl: from.url,
      clientId: "kubegate",
      caFile: from.caFile,
      groupsClaim: "groups",
      ...extra,
    });
    authenticators.push(a);
    return a;
  }

  before(async () => {
    issuer = await startIssuer();
    auth = await make();
  });

  after(async () => {
    for (const a of authenticators) a.close();
    await issuer.close();
  });

  describe("options", () => {
    const base: OidcOptions = { issuerUrl: "https://issuer.example", clientId: "kubegate" };
    const cases: [string, Partial<OidcOptions>, RegExp][] = [
      ["http issuer", { issuerUrl: "http://issuer.example" }, /must use https/],
      ["not a URL", { issuerUrl: "issuer.example" }, /is not a URL/],
      ["query in issuer", { issuerUrl: "https://issuer.example/?a=b" }, /query or fragment/],
      ["credentials in issuer", { issuerUrl: "https://u:p@issuer.example" }, /credentials/],
      ["empty clientId", { clientId: "" }, /clientId is required/],
      ["empty usernameClaim", { usernameClaim: "" }, /usernameClaim/],
      ["groupsPrefix without groupsClaim", { groupsPrefix: "g:" }, /groupsPrefix needs groupsClaim/],
      ["alg none", { signingAlgs: ["none"] }, /must not contain "none"/],
      ["HS256", { signingAlgs: ["RS256", "HS256"] }, /must not contain "HS256"/],
      ["unknown alg", { signingAlgs: ["XX1"] }, /not supported/],
      ["no algs", { signingAlgs: [] }, /at least one/],
      ["negative tolerance", { clockToleranceSec: -1 }, /clockToleranceSec/],
      ["huge tolerance", { clockToleranceSec: 3600 }, /clockToleranceSec/],
      ["non-string required claim", { requiredClaims: { hd: 1 as unknown as string } }, /requiredClaims/],
      ["missing caFile", { caFile: "/nonexistent/ca.crt" }, /cannot read caFile/],
    ];
    for (const [name, extra, message] of cases) {
      it(`rejects ${name}`, async () => {
        await assert.rejects(OidcAuthenticator.create({ ...base, ...extra }), message);
      });
    }

    it("rejects a caFile without certificates", async () => {
      await assert.rejects(
        OidcAuthenticator.create({ ...base, caFile: new URL(import.meta.url).pathname }),
        /holds no PEM certificate/,
      );
    });

    it("does not contact the issuer at creation", async () => {
      const a = await OidcAuthenticator.create({
        ...base,
        issuerUrl: `https://127.0.0.1:${await freePort()}`,
      });
      a.close();
    });
  });

  describe("claims()", () => {
    it("recognises a JWT from our issuer, without verifying it", async () => {
      assert.equal(auth.claims(await issuer.sign()), true);
      assert.equal(auth.claims(await issuer.sign({}, { key: (await newKey()).privateKey })), true);
    });

    it("declines other tokens", async () => {
      assert.equal(auth.claims(await issuer.sign({ iss: "https://other.example" })), false);
      assert.equal(auth.claims(await issuer.sign({ iss: undefined })), false);
      assert.equal(auth.claims("opaque-service-account-token"), false);
      assert.equal(auth.claims("a.b.c"), false);
      assert.equal(auth.claims("a.b.c.d.e"), false);
      assert.equal(auth.claims(""), false);
    });
  });

  describe("accepts", () => {
    it("username and groups, without prefixes by default", async () => {
      const token = await issuer.sign({ preferred_username: "alice", groups: ["dev", "ops"] });
      assertUser(await auth.authenticate(token), "alice", ["dev", "ops"]);
    });

    it("username and group prefixes", async () => {
      const a = await make({ usernamePrefix: "oidc:", groupsPrefix: "oidc:" });
      const token = await issuer.sign({ preferred_username: "alice", groups: ["dev", "ops"] });
      assertUser(await a.authenticate(token), "oidc:alice", ["oidc:dev", "oidc:ops"]);
    });

    it('a username prefix as given; only the flag reads "-" as no prefix, as kube-apiserver does', async () => {
      const a = await make({ usernamePrefix: "-" });
      assertUser(await a.authenticate(await issuer.sign({ preferred_username: "alice" })), "-alice");
      assert.equal(prefixFromFlag("-"), "");
      assert.equal(prefixFromFlag("oidc:"), "oidc:");
    });

    it("a single group given as a string, and no groups claim at all", async () => {
      assertUser(
        await auth.authenticate(await issuer.sign({ preferred_username: "bob", groups: "dev" })),
        "bob",
        ["dev"],
      );
      assertUser(await auth.authenticate(await issuer.sign({ preferred_username: "bob" })), "bob", []);
    });

    it("no groups when groupsClaim is not configured", async () => {
      const a = await make({ groupsClaim: undefined });
      assertUser(
        await a.authenticate(await issuer.sign({ preferred_username: "bob", groups: ["dev"] })),
        "bob",
      );
    });

    it("another username claim", async () => {
      const a = await make({ usernameClaim: "sub" });
      assertUser(await a.authenticate(await issuer.sign({ sub: "1234" })), "1234");
    });

    it("an aud array that contains the client id", async () => {
      const token = await issuer.sign({ preferred_username: "alice", aud: ["other", "kubegate"] });
      assertUser(await auth.authenticate(token), "alice");
    });

    it("email as username when email_verified is true or absent", async () => {
      const a = await make({ usernameClaim: "email" });
      assertUser(
        await a.authenticate(await issuer.sign({ email: "a@example.com", email_verified: true })),
        "a@example.com",
      );
      assertUser(await a.authenticate(await issuer.sign({ email: "b@example.com" })), "b@example.com");
    });

    it("required claims with their values", async () => {
      const a = await make({ requiredClaims: { hd: "example.com", tenant: "t1" } });
      const token = await issuer.sign({ preferred_username: "alice", hd: "example.com", tenant: "t1" });
      assertUser(await a.authenticate(token), "alice");
    });

    it("clock skew within the tolerance", async () => {
      const token = await issuer.sign({ preferred_username: "alice", nbf: now() + 5, iat: now() + 5 });
      assertUser(await auth.authenticate(token), "alice");
    });

    it("a token without kid when exactly one key fits", async () => {
      const solo = await startIssuer();
      try {
        const a = await make({}, solo);
        assertUser(await a.authenticate(await solo.sign({ preferred_username: "x" }, { kid: null })), "x");
      } finally {
        await solo.close();
      }
    });

    it("RS256 and an issuer URL with a path", async () => {
      const rsa = await startIssuer({ alg: "RS256", path: "/realms/test" });
      try {
        const a = await make({}, rsa);
        assert.match(rsa.url, /\/realms\/test$/);
        assertUser(await a.authenticate(await rsa.sign({ preferred_username: "r" })), "r");
      } finally {
        await rsa.close();
      }
    });
  });

  describe("rejects", () => {
    const sign = (claims: Record<string, unknown> = {}, opts = {}) =>
      issuer.sign({ preferred_username: "mallory", ...claims }, opts);

    it("a wrong issuer", async () => {
      assertRejected(
        await auth.authenticate(await sign({ iss: "https://evil.example" })),
        /issuer .* is not/,
      );
      assertRejected(await auth.authenticate(await sign({ iss: `${issuer.url}/` })), /issuer .* is not/);
    });

    it("a wrong audience", async () => {
      assertRejected(
        await auth.authenticate(await sign({ aud: "someone-else" })),
        /audience .* does not include/,
      );
      assertRejected(await auth.authenticate(await sign({ aud: ["a", "b"] })), /audience/);
      assertRejected(await auth.authenticate(await sign({ aud: undefined })), /no "aud" claim/);
    });

    it("an expired token", async () => {
      assertRejected(await auth.authenticate(await sign({ iat: now() - 3600, exp: now() - 60 })), /expired/);
    });

    it("a token without exp", async () => {
      assertRejected(await auth.authenticate(await sign({ exp: undefined })), /no "exp" claim/);
    });

    it("a token not valid yet", async () => {
      assertRejected(await auth.authenticate(await sign({ nbf: now() + 120 })), /not valid yet/);
    });

    it("a token issued in the future", async () => {
      assertRejected(await auth.authenticate(await sign({ iat: now() + 120 })), /issued in the future/);
    });

    it("a tampered signature", async () => {
      const token = await sign();
      const [h, p, s] = token.split(".") as [string, string, string];
      const flipped = `${s.slice(0, 10)}${s[10] === "A" ? "B" : "A"}${s.slice(11)}`;
      assertRejected(await auth.authenticate(`${h}.${p}.${flipped}`), /signature is invalid/);
    });

    it("a tampered payload", async () => {
      const token = await sign();
      const [h, , s] = token.split(".") as [string, string, string];
      const forged = Buffer.from(
        JSON.stringify({ iss: issuer.url, aud: "kubegate", preferred_username: "admin", exp: now() + 600 }),
      ).toString("base64url");
      assertRejected(await auth.authenticate(`${h}.${forged}.${s}`), /signature is invalid/);
    });

    it("a token signed with a foreign key under the issuer's kid", async () => {
      const foreign = await newKey();
      assertRejected(
        await auth.authenticate(await sign({}, { key: foreign.privateKey })),
        /signature is invalid/,
      );
    });

    it('alg "none"', async () => {
      assertRejected(await auth.authenticate(await sign({}, { alg: "none" })), /alg "none"/);
      assertRejected(await auth.authenticate(await sign({}, { alg: "none", kid: null })), /alg "none"/);
    });

    it("HS256 with the issuer's public key as the secret (algorithm confusion)", async () => {
      const secret = new TextEncoder().encode(await issuer.publicKeyPem());
      assertRejected(
        await auth.authenticate(await sign({}, { alg: "HS256", key: secret })),
        /"HS256" is not accepted/,
      );
      const jwkSecret = new TextEncoder().encode(JSON.stringify(issuer.current.jwk));
      assertRejected(
        await auth.authenticate(await sign({}, { alg: "HS256", key: jwkSecret })),
        /not accepted/,
      );
    });

    it("an algorithm outside signingAlgs", async () => {
      const a = await make({ signingAlgs: ["RS256"] });
      assertRejected(await a.authenticate(await sign()), /"ES256" is not accepted/);
    });

    it("a missing username claim", async () => {
      assertRejected(
        await auth.authenticate(await sign({ preferred_username: undefined })),
        /"preferred_username" is missing/,
      );
    });

    it("a username claim that is not a non-empty string", async () => {
      for (const value of [42, true, ["alice"], { name: "alice" }, null]) {
        assertRejected(await auth.authenticate(await sign({ preferred_username: value })), /is not a string/);
      }
      assertRejected(await auth.authenticate(await sign({ preferred_username: "" })), /is empty/);
    });

    it("a groups claim of the wrong type", async () => {
      for (const value of [42, ["dev", 1], [["dev"]], { dev: true }, null, true]) {
        assertRejected(
          await auth.authenticate(await sign({ groups: value })),
          /neither a string nor an array/,
        );
      }
    });

    it("a distributed groups claim", async () => {
      const token = await sign({
        groups: undefined,
        _claim_names: { groups: "src1" },
        _claim_sources: { src1: { endpoint: "https://example.com/groups" } },
      });
      assertRejected(await auth.authenticate(token), /distributed claim/);
    });

    it("an unknown kid", async () => {
      assertRejected(
        await auth.authenticate(await sign({}, { kid: "no-such-key" })),
        /no key of the issuer matches.*no-such-key/,
      );
    });

    it("email_verified false, or not a boolean, when email is the username", async () => {
      const a = await make({ usernameClaim: "email" });
      assertRejected(
        await a.authenticate(await sign({ email: "a@example.com", email_verified: false })),
        /not verified/,
      );
      assertRejected(
        await a.authenticate(await sign({ email: "a@example.com", email_verified: "true" })),
        /not a boolean/,
      );
    });

    it("a required claim missing or with another value", async () => {
      const a = await make({ requiredClaims: { hd: "example.com" } });
      assertRejected(await a.authenticate(await sign()), /required claim "hd" is missing/);
      assertRejected(
        await a.authenticate(await sign({ hd: "evil.com" })),
        /required claim "hd" does not have/,
      );
      assertRejected(
        await a.authenticate(await sign({ hd: ["example.com"] })),
        /required claim "hd" does not have/,
      );
    });

    it("malformed tokens", async () => {
      const good = await sign();
      const [h, p] = good.split(".") as [string, string, string];
      const cases: [string, RegExp][] = [
        ["", /empty token/],
        ["not-a-jwt", /three dot-separated parts/],
        ["a.b", /three dot-separated parts/],
        ["a.b.c.d", /three dot-separated parts/],
        ["a.b.c.d.e", /JWE/],
        ["!!!.???.***", /malformed token/],
        [`${h}.${Buffer.from("not json").toString("base64url")}.x`, /malformed token/],
        [`${h}.${Buffer.from("[1,2]").toString("base64url")}.x`, /malformed token/],
        [`${Buffer.from("{}").toString("base64url")}.${p}.x`, /no "alg"/],
        ["x".repeat(70_000), /longer than/],
      ];
      for (const [token, reason] of cases) assertRejected(await auth.authenticate(token), reason);
    });

    it("a discoveryUrl: discovery from there, tokens still of issuerUrl", async () => {
      // An issuer known by a public URL and reached at another address (kube's discoveryURL).
      const publicUrl = "https://login.public.example/realm";
      const inner = await startIssuer({ discovery: { issuer: publicUrl } });
      try {
        const a = await make(
          { issuerUrl: publicUrl, discoveryUrl: `${inner.url}/.well-known/openid-configuration` },
          inner,
        );
        assertUser(
          await a.authenticate(await inner.sign({ iss: publicUrl, preferred_username: "ann" })),
          "ann",
        );
        assertRejected(await a.authenticate(await inner.sign({ preferred_username: "ann" })), /token issuer/);
        await assert.rejects(
          make({ issuerUrl: publicUrl, discoveryUrl: "http://x.example/" }, inner),
          /must use https/,
        );
        await assert.rejects(
          make({ issuerUrl: publicUrl, discoveryUrl: `${publicUrl}/` }, inner),
          /must differ/,
        );
      } finally {
        await inner.close();
      }
    });

    it("a discovery document naming another issuer", async () => {
      const liar = await startIssuer({ discovery: { issuer: "https://evil.example" } });
      try {
        const a = await make({}, liar);
        assertRejected(
          await a.authenticate(await liar.sign({ preferred_username: "x" })),
          /KUBEGATE_OIDC_ISSUER_MISMATCH/,
        );
      } finally {
        await liar.close();
      }
    });

    it("an issuer whose TLS certificate is not trusted", async () => {
      const a = await make({ caFile: undefined });
      const r = await a.authenticate(await sign());
      assertRejected(r, /discovery at .* failed: .*certificate/);
    });

    it("an unreachable issuer, rejected (not thrown), and recovers when it comes up", async () => {
      const port = await freePort();
      const url = `https://127.0.0.1:${port}`;
      const ca = { certPem: issuer.caPem, keyPem: issuer.caKeyPem };
      const a = await make({ issuerUrl: url });
      // Tokens can be signed before the issuer exists: use a placeholder issuer for the key.
      const r1 = await a.authenticate(await issuer.sign({ iss: url, preferred_username: "late" }));
      assertRejected(r1, /discovery at .* failed: .*ECONNREFUSED/);
      const late = await startIssuer({ port, ca });
      try {
        // Failures are remembered only briefly.
        await sleep(1_100);
        assertUser(await a.authenticate(await late.sign({ preferred_username: "late" })), "late");
      } finally {
        await late.close();
      }
    });

    it("when the JWKS cannot be fetched", async () => {
      const broken = await startIssuer();
      try {
        broken.failJwks(500);
        const a = await make({}, broken);
        const token = await broken.sign({ preferred_username: "x" });
        assertRejected(await a.authenticate(token), /KUBEGATE_OIDC_BAD_ANSWER/);
        // The failure is remembered for a moment (no request per token), then retried.
        assertRejected(await a.authenticate(token), /KUBEGATE_OIDC_BAD_ANSWER/);
        assert.equal(broken.requests.jwks, 1);
        broken.failJwks(undefined);
        await sleep(1_100);
        assertUser(await a.authenticate(token), "x");
        assert.equal(broken.requests.jwks, 2);
      } finally {
        await broken.close();
      }
    });

    it("after close()", async () => {
      const a = await make();
      a.close();
      assertRejected(await a.authenticate(await sign()), /closed/);
    });
  });

  describe("keys and caching", () => {
    it("fetches discovery and the JWKS once for many verifications", async () => {
      const own = await startIssuer();
      try {
        const a = await make({}, own);
        const tokens = await Promise.all(
          Array.from({ length: 20 }, (_, i) => own.sign({ preferred_username: `user-${i}` })),
        );
        // Concurrent first use shares one discovery and one JWKS fetch.
        const first = await Promise.all(tokens.map((t) => a.authenticate(t)));
        first.forEach((r, i) => {
          assertUser(r, `user-${i}`);
        });
        for (let i = 0; i < 20; i++) assertUser(await a.authenticate(tokens[0] as string), "user-0");
        for (const t of tokens) assert.equal((await a.authenticate(t)).kind, "user");
        assert.deepEqual(own.requests, { discovery: 1, jwks: 1 });
      } finally {
        await own.close();
      }
    });

    it("picks up a rotated key (new kid) and tries every key for a token without kid", async () => {
      const own = await startIssuer();
      try {
        const a = await make({ jwksCooldownSec: 0 }, own);
        const before = await own.sign({ preferred_username: "old" });
        assertUser(await a.authenticate(before), "old");
        assert.equal(own.requests.jwks, 1);
        const kid = await own.rotateKey();
        const after = await own.sign({ preferred_username: "new" });
        assert.notEqual(before.split(".")[0], after.split(".")[0]);
        assert.equal(own.current.kid, kid);
        assertUser(await a.authenticate(after), "new");
        assert.equal(own.requests.jwks, 2);
        // Both keys are published: a kid-less token must be tried against both.
        assertUser(
          await a.authenticate(await own.sign({ preferred_username: "nokid" }, { kid: null })),
          "nokid",
        );
        const foreign = await newKey();
        assertRejected(
          await a.authenticate(await own.sign({}, { kid: null, key: foreign.privateKey })),
          /signature is invalid/,
        );
      } finally {
        await own.close();
      }
    });

    it("does not refetch the JWKS for unknown kids during the cooldown", async () => {
      const own = await startIssuer();
      try {
        const a = await make({ jwksCooldownSec: 60 }, own);
        assertUser(await a.authenticate(await own.sign({ preferred_username: "a" })), "a");
        for (let i = 0; i < 5; i++) {
          assertRejected(await a.authenticate(await own.sign({}, { kid: `garbage-${i}` })), /no key/);
        }
        assert.equal(own.requests.jwks, 1);
      } finally {
        await own.close();
      }
    });

    it("remembers a verified token (even after its key is withdrawn) but not past its exp", async () => {
      const own = await startIssuer();
      try {
        const a = await make({ jwksCooldownSec: 0, clockToleranceSec: 0 }, own);
        const oldKey = own.current;
        const cached = await own.sign({ preferred_username: "cached" });
        assertUser(await a.authenticate(cached), "cached");
        // Withdraw the old key; a token with the new key makes the authenticator learn that.
        await own.rotateKey({ dropOld: true });
        assertUser(await a.authenticate(await own.sign({ preferred_username: "fresh" })), "fresh");
        // The cached verdict stands; a token with the withdrawn key that was never seen does not verify.
        assertUser(await a.authenticate(cached), "cached");
        const unseen = await own.sign(
          { preferred_username: "unseen" },
          { key: oldKey.privateKey, kid: oldKey.kid },
        );
        assertRejected(await a.authenticate(unseen), /no key/);
        // The cache never outlives exp.
        const short = await own.sign({ preferred_username: "short", exp: now() + 2 });
        assertUser(await a.authenticate(short), "short");
        await sleep(2_100);
        assertRejected(await a.authenticate(short), /expired/);
      } finally {
        await own.close();
      }
    });

    it("refreshes a stale JWKS, and keeps the known keys while the issuer cannot serve it", async () => {
      const own = await startIssuer();
      try {
        const a = await make({ jwksMaxAgeSec: 0 }, own);
        assertUser(await a.authenticate(await own.sign({ preferred_username: "one" })), "one");
        assertUser(await a.authenticate(await own.sign({ preferred_username: "two" })), "two");
        assert.equal(own.requests.jwks, 2);
        own.failJwks(503);
        assertUser(await a.authenticate(await own.sign({ preferred_username: "three" })), "three");
        assert.equal(own.requests.jwks, 3);
        assertRejected(
          await a.authenticate(await own.sign({}, { key: (await newKey()).privateKey })),
          /signature is invalid/,
        );
      } finally {
        await own.close();
      }
    });

    it("does not remember failures", async () => {
      const own = await startIssuer();
      try {
        const a = await make({ jwksCooldownSec: 0 }, own);
        assertUser(await a.authenticate(await own.sign({ preferred_username: "warm" })), "warm");
        const next = await newKey();
        // A token whose kid is not published yet fails ...
        const token = await own.sign(
          { preferred_username: "early" },
          { key: next.privateKey, kid: next.kid },
        );
        assertRejected(await a.authenticate(token), /no key/);
        // ... and succeeds once the issuer publishes the key: the failure was not cached.
        own.publishKey(next);
        assertUser(await a.authenticate(token), "early");
      } finally {
        await own.close();
      }
    });
  });
});
