// Property-based tests of the client header sanitizer (issue #10, fuzzing): whatever a client sends, no
// identity, forwarding or hop-by-hop header is forwarded, and everything else is, unchanged.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { StatusError } from "../status/status.ts";
import { readClientHeaders, responseHeaders } from "./headers.ts";

const RUNS = 1500;

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "host",
  "http2-settings",
];
const FORWARDING = ["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip", "forwarded"];
const IDENTITY = [
  "authorization",
  "impersonate-user",
  "impersonate-group",
  "impersonate-group",
  "impersonate-uid",
  "impersonate-extra-scopes",
  "impersonate-extra-example.com%2fkey",
  "x-remote-user",
  "x-remote-group",
  "x-remote-extra-scopes",
  "x-remote-uid",
];
const BENIGN = [
  "accept",
  "content-type",
  "user-agent",
  "x-custom",
  "audit-id",
  "x-secret-thing",
  "kubectl-command",
];

const TOKEN = "abcdefghijklmnopqrstuvwxyz0123456789-!#$&'*+.^_`|~".split("");
const randomToken = fc.string({ unit: fc.constantFrom(...TOKEN), minLength: 1, maxLength: 12 });

/** Random letter case, as clients send it. */
const inRandomCase = (name: string) =>
  fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((up) => [...name].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(""));

/** A header name: identity, forwarding, hop-by-hop, pseudo, benign or random; in random letter case. */
const headerName = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom(...HOP_BY_HOP) },
    { weight: 2, arbitrary: fc.constantFrom(...FORWARDING) },
    { weight: 3, arbitrary: fc.constantFrom(...IDENTITY) },
    { weight: 4, arbitrary: fc.constantFrom(...BENIGN) },
    { weight: 1, arbitrary: randomToken.map((t) => `impersonate-${t}`) },
    { weight: 1, arbitrary: randomToken.map((t) => `impersonate-extra-${t}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("%zz", "%", "a%2", "%C3%BC", "%e2%82").map((t) => `impersonate-extra-${t}`),
    },
    { weight: 1, arbitrary: randomToken.map((t) => `x-remote-${t}`) },
    { weight: 1, arbitrary: fc.constantFrom(":authority", ":path") },
    { weight: 4, arbitrary: randomToken },
  )
  .chain(inRandomCase);

/** A Connection value: comma-separated tokens, blanks around them, naming any header at all. */
const connectionValue = fc
  .array(fc.tuple(headerName, fc.constantFrom("", " ", "\t", "  ")), { minLength: 0, maxLength: 4 })
  .map((tokens) => tokens.map(([t, b]) => `${b}${t}${b}`).join(","));

const headerValue = fc.oneof(
  fc.constantFrom("a", "b", "admin", "system:masters", "Bearer x", ""),
  fc.string({ maxLength: 12 }),
);

/** Raw headers as Node hands them over: [name, value, name, value, ...], repeats and all. */
const rawHeaders = fc
  .array(
    fc.oneof(
      { weight: 5, arbitrary: fc.tuple(headerName, headerValue) },
      {
        weight: 1,
        arbitrary: fc.tuple(
          inRandomCase("connection").chain((n) => fc.constant(n)),
          connectionValue,
        ),
      },
    ),
    { maxLength: 14 },
  )
  .map((pairs) => pairs.flat());

/** What the contract says, written from the header classes rather than from the module. */
function oracle(raw: readonly string[]) {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === "connection") {
      for (const t of (raw[i + 1] as string).split(",")) named.add(t.trim().toLowerCase());
    }
  }
  const forward = new Map<string, string | string[]>();
  const users = new Set<string>();
  const uids = new Set<string>();
  let authorizations = 0;
  let refused = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    if (name === "authorization") authorizations++;
    if (name === "impersonate-user") users.add(value);
    else if (name === "impersonate-uid") uids.add(value);
    else if (name.startsWith("impersonate-extra-")) {
      try {
        decodeURIComponent(name.slice("impersonate-extra-".length));
      } catch {
        refused = true;
      }
    } else if (name.startsWith("impersonate-") && name !== "impersonate-group") refused = true;
    const never =
      name.startsWith(":") ||
      name === "authorization" ||
      name.startsWith("impersonate-") ||
      name.startsWith("x-remote-") ||
      HOP_BY_HOP.includes(name) ||
      FORWARDING.includes(name) ||
      named.has(name);
    if (never) continue;
    const had = forward.get(name);
    forward.set(name, had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value]);
  }
  refused ||= authorizations > 1 || users.size > 1 || uids.size > 1;
  return { forward: Object.fromEntries(forward), refused, named };
}

const isForbidden = (name: string, named: Set<string>) =>
  name !== name.toLowerCase() ||
  name.startsWith(":") ||
  name === "authorization" ||
  name.startsWith("impersonate-") ||
  name.startsWith("x-remote-") ||
  HOP_BY_HOP.includes(name) ||
  FORWARDING.includes(name) ||
  named.has(name);

/**
 * Header names and Impersonate-Extra keys that are "constructor" or "__proto__" meet Object.prototype in
 * the plain objects the module collects into (see the todo tests below).
 */
const PROTOTYPE_KEY = /^(?:impersonate-extra-)?(?:constructor|__proto__)$/i;
const hitsPrototypeBug = (raw: readonly string[]) => raw.some((n, i) => i % 2 === 0 && PROTOTYPE_KEY.test(n));

describe("client headers (property-based)", () => {
  it("never forwards identity, forwarding, hop-by-hop or Connection-named headers; keeps the rest as sent", () => {
    const seen = { refused: 0, forwarded: 0 };
    fc.assert(
      fc.property(rawHeaders, (raw) => {
        fc.pre(!hitsPrototypeBug(raw));
        const want = oracle(raw);
        let got: ReturnType<typeof readClientHeaders>;
        try {
          got = readClientHeaders(raw);
        } catch (e) {
          assert.ok(e instanceof StatusError, `threw ${String(e)}`);
          assert.equal(e.status.code, 400);
          assert.ok(want.refused, `refused without reason: ${e.message}`);
          seen.refused++;
          return;
        }
        assert.ok(!want.refused, "accepted an ambiguous or unknown identity header");
        for (const name of Object.keys(got.forward)) {
          assert.ok(!isForbidden(name, want.named), `forwarded ${name}`);
        }
        assert.deepEqual(got.forward, want.forward);
        seen.forwarded += Object.keys(got.forward).length;
        // what is kept aside is what was sent
        const auth = raw.filter(
          (_, i) => i % 2 === 1 && (raw[i - 1] as string).toLowerCase() === "authorization",
        );
        assert.equal(got.authorization, auth[0]);
      }),
      { numRuns: RUNS },
    );
    assert.ok(seen.refused > 50 && seen.forwarded > 1000, JSON.stringify(seen));
  });

  it("well-formed impersonation is collected for judgement, never forwarded", () => {
    const impersonating = fc
      .tuple(
        fc.option(headerValue, { nil: undefined }),
        fc.array(headerValue, { maxLength: 3 }),
        fc.array(fc.tuple(fc.constantFrom("scopes", "example.com%2Fkey", "Reason"), headerValue), {
          maxLength: 3,
        }),
        fc.array(fc.tuple(fc.constantFrom(...BENIGN), headerValue), { maxLength: 4 }),
      )
      .chain(
        ([user, groups, extras, benign]): fc.Arbitrary<{
          user: string | undefined;
          extras: [string, string][];
          raw: string[];
        }> => {
          const pairs: [string, string][] = [
            ...(user === undefined ? [] : [["impersonate-user", user] as [string, string]]),
            ...groups.map((g) => ["impersonate-group", g] as [string, string]),
            ...extras.map(([k, v]) => [`impersonate-extra-${k}`, v] as [string, string]),
            ...benign,
          ];
          return fc
            .shuffledSubarray(pairs, { minLength: pairs.length, maxLength: pairs.length })
            .chain((shuffled) =>
              fc.tuple(...shuffled.map(([n, v]) => inRandomCase(n).map((cased) => [cased, v]))),
            )
            .map((cased) => ({ user, extras, raw: cased.flat() }));
        },
      );
    fc.assert(
      fc.property(impersonating, ({ user, extras, raw }) => {
        const got = readClientHeaders(raw);
        assert.deepEqual(got.forward, oracle(raw).forward);
        const groups = raw.filter(
          (_, i) => i % 2 === 1 && (raw[i - 1] as string).toLowerCase() === "impersonate-group",
        );
        if (user === undefined && groups.length === 0 && extras.length === 0) {
          assert.equal(got.impersonation, undefined);
          return;
        }
        assert.equal(got.impersonation?.user, user);
        assert.deepEqual(got.impersonation?.groups, groups, "groups in the order sent");
        for (const [k, v] of extras) {
          assert.ok(got.impersonation?.extra[decodeURIComponent(k).toLowerCase()]?.includes(v));
        }
      }),
      { numRuns: 500 },
    );
  });

  it("Impersonate-Extra-<key> named like an Object.prototype member is judged, not a TypeError", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("constructor", "__proto__").chain(inRandomCase),
        headerValue,
        (key, value) => {
          let got: ReturnType<typeof readClientHeaders>;
          try {
            got = readClientHeaders([`Impersonate-Extra-${key}`, value]);
          } catch (e) {
            assert.ok(e instanceof StatusError, `threw ${String(e)}`);
            return;
          }
          assert.deepEqual(
            Object.getOwnPropertyDescriptor(got.impersonation?.extra ?? {}, key.toLowerCase())?.value,
            [value],
          );
          assert.deepEqual(Object.keys(got.forward), []);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("a header named Constructor or __proto__ is forwarded as sent", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("constructor", "__proto__").chain(inRandomCase),
        headerValue,
        (name, value) => {
          const got = readClientHeaders([name, value, "Accept", "*/*"]);
          assert.deepEqual(Object.keys(got.forward).sort(), ["accept", name.toLowerCase()].sort());
          assert.deepEqual(Object.getOwnPropertyDescriptor(got.forward, name.toLowerCase())?.value, value);
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe("response headers (property-based)", () => {
  // Node and undici hand over response headers with lowercase names; a Connection header may repeat.
  const lowerName = fc.oneof(
    fc.constantFrom(...HOP_BY_HOP),
    fc.constantFrom(...BENIGN, "set-cookie", "content-length", "warning"),
    randomToken.map((t) => t.toLowerCase()),
  );
  const lowerConnection = fc
    .array(fc.tuple(lowerName.chain(inRandomCase), fc.constantFrom("", " ", "\t")), { maxLength: 4 })
    .map((ts) => ts.map(([t, b]) => `${b}${t}${b}`).join(","));
  const responseHeaderMap = fc
    .tuple(
      fc.dictionary(
        lowerName,
        fc.oneof(headerValue, fc.array(headerValue, { maxLength: 3 }), fc.constant(undefined)),
        { maxKeys: 10 },
      ),
      fc.option(fc.oneof(lowerConnection, fc.array(lowerConnection, { minLength: 1, maxLength: 2 })), {
        nil: undefined,
      }),
    )
    .map(([h, connection]) => (connection === undefined ? h : { ...h, connection }));

  it("never passes back hop-by-hop or Connection-named headers; keeps the rest unchanged", () => {
    fc.assert(
      fc.property(responseHeaderMap, (headers) => {
        // An own "__proto__" key (possible in a null-prototype or JSON-parsed map, not from undici) would
        // replace the prototype of the result instead of being copied: left out here, see the report.
        fc.pre(!Object.hasOwn(headers, "__proto__"));
        const c = headers.connection;
        const named = new Set(
          (Array.isArray(c) ? c : c ? [c] : []).flatMap((v) =>
            v.split(",").map((t) => t.trim().toLowerCase()),
          ),
        );
        const got = responseHeaders(headers);
        for (const [name, value] of Object.entries(headers)) {
          if (value === undefined || HOP_BY_HOP.includes(name) || named.has(name)) {
            assert.ok(!Object.hasOwn(got, name), `passed back ${name}`);
          } else {
            assert.deepEqual(got[name], value, `changed ${name}`);
          }
        }
        assert.deepEqual(
          Object.keys(got).sort(),
          Object.keys(headers)
            .filter((n) => headers[n] !== undefined && !HOP_BY_HOP.includes(n) && !named.has(n))
            .sort(),
        );
      }),
      { numRuns: RUNS },
    );
  });
});
