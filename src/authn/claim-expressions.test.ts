import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ClaimEvaluation,
  type ClaimExpressions,
  celClaims,
  compileExpression,
  readsClaim,
} from "./claim-expressions.ts";
import type { UserInfo } from "./user.ts";

const c = compileExpression;
const none = (): ClaimExpressions => ({ extra: [], claimValidation: [], userValidation: [] });
const user: UserInfo = { name: "ada", groups: ["dev"], extra: {} };

describe("compileExpression", () => {
  it("type-checks each role against the types the apiserver takes", () => {
    assert.equal(c("claims.sub", "username").source, "claims.sub");
    c("'p:' + claims.sub", "uid");
    c("claims.groups", "groups");
    c("claims.csv.split(',')", "groups");
    c("[string(claims.a), 'b']", "extra");
    c("claims.exp - claims.iat < 3600", "claimValidation");
    c("user.groups.all(g, !g.startsWith('system:'))", "userValidation");
    c("claims.?nickname.orValue(claims.sub)", "username");
    assert.throws(() => c("claims.sub.size()", "username"), /must evaluate to a string, not int/);
    assert.throws(
      () => c("[1, 2]", "groups"),
      /must evaluate to a string or a list of strings, not list<int>/,
    );
    assert.throws(() => c("'yes'", "claimValidation"), /must evaluate to a bool, not string/);
    assert.throws(() => c("user.username", "username"), /user/);
    assert.throws(() => c("claims.sub == ''", "userValidation"), /claims/);
    assert.throws(() => c("user.nickname == ''", "userValidation"), /nickname/);
    assert.throws(() => c("claims.sub +", "username"));
    assert.throws(() => c("quantity(claims.q) > 1", "claimValidation"), /quantity/);
    assert.throws(
      () => c("claims.email_verified", "claimValidation"),
      /must evaluate to a bool, not dyn \(compare a claim/,
    );
  });

  it("refuses a comprehension in another one's body, not one after another", () => {
    c("claims.g.map(x, 'a:' + x).filter(x, x != 'a:')", "groups");
    c("claims.g.all(x, x in claims.allowed)", "claimValidation");
    for (const nested of [
      "claims.g.all(x, claims.g.exists(y, y == x))",
      "claims.g.map(x, claims.h.map(y, x + y)[0])",
      "claims.g.filter(x, size(claims.h.filter(y, y == x)) > 0)",
    ])
      assert.throws(
        () => c(nested, nested.startsWith("claims.g.all") ? "claimValidation" : "groups"),
        /inside another/,
      );
  });

  it("takes matches() with a literal pattern JavaScript reads as RE2 does, nothing else", () => {
    c("claims.email.matches('^[a-z.]+@example\\\\.com$')", "claimValidation");
    for (const [pattern, reason] of [
      ["claims.email.matches(claims.pattern)", /string literal/],
      ["claims.n.matches('(?i)^ada')", /inline flags/],
      ["claims.n.matches('a(?=b)')", /lookaround/],
      ["claims.n.matches('(a)\\\\1')", /backreferences/],
      ["claims.n.matches('\\\\pL+')", /escapes/],
      ["claims.n.matches('[[:alpha:]]')", /POSIX/],
      ["claims.n.matches('(')", /not a regular expression/],
    ] as const)
      assert.throws(() => c(pattern, "claimValidation"), reason, pattern);
  });

  it("refuses an expression beyond the size limits", () => {
    const huge = Array.from({ length: 600 }, (_, i) => `claims.c${i}`).join(" + ");
    assert.throws(() => c(huge, "username"));
  });

  it("finds reads of a claim in each form CEL has", () => {
    for (const e of ["claims.email", "claims['email']", "has(claims.email)", "claims.?email.orValue('')"])
      assert.equal(readsClaim(c(`string(${e})`, "uid").ast, "email"), true, e);
    assert.equal(readsClaim(c("claims.email_verified ? 'a' : 'b'", "uid").ast, "email"), false);
    assert.equal(readsClaim(c("'claims.email'", "uid").ast, "email"), false);
  });
});

describe("celClaims", () => {
  it("reads integers exactly from the token's text, other numbers as doubles, objects as Maps", () => {
    const claims = celClaims(
      '{"exp":10,"id":1234567890123456789,"big":92233720368547758070,"f":1.5,"e":1e3,"one":1.0,"l":[1,"a",{"n":2}],"b":true,"z":null}',
    );
    assert.deepEqual(
      claims,
      new Map<string, unknown>([
        ["exp", 10n],
        ["id", 1234567890123456789n],
        ["big", 9.223372036854776e19],
        ["f", 1.5],
        ["e", 1000],
        ["one", 1],
        ["l", [1n, "a", new Map([["n", 2n]])]],
        ["b", true],
        ["z", null],
      ]),
    );
  });
});

describe("ClaimEvaluation", () => {
  const evaluation = (x: Partial<ClaimExpressions>, claims: Record<string, unknown>) =>
    new ClaimEvaluation({ ...none(), ...x }, JSON.stringify(claims));

  it("maps username, groups, uid and extra the apiserver's way", () => {
    const e = evaluation(
      {
        username: c("'dex:' + claims.sub", "username"),
        groups: c("claims.roles", "groups"),
        uid: c("claims.id", "uid"),
        extra: [
          { key: "a.io/one", expression: c("claims.team", "extra") },
          { key: "a.io/none", expression: c("''", "extra") },
          { key: "a.io/list", expression: c("['x', '', 'y']", "extra") },
        ],
      },
      { sub: "ada", roles: ["dev", "", "ops"], id: "u-1", team: "blue" },
    );
    assert.equal(e.username(), "dex:ada");
    assert.deepEqual(e.groups(), ["dev", "ops"]);
    assert.equal(e.uid(), "u-1");
    assert.deepEqual(e.extra(), { "a.io/one": ["blue"], "a.io/list": ["x", "y"] });
  });

  it("reads a single string, null and an empty list as the apiserver does", () => {
    const groups = (claims: Record<string, unknown>) =>
      evaluation({ groups: c("claims.g", "groups") }, claims).groups();
    assert.deepEqual(groups({ g: "dev" }), ["dev"]);
    assert.deepEqual(groups({ g: "" }), []);
    assert.deepEqual(groups({ g: [] }), []);
    assert.deepEqual(groups({ g: null }), []);
    assert.throws(() => groups({ g: ["dev", 1] }), /must return a string or a list of strings/);
    assert.throws(() => groups({ g: { a: 1 } }), /must return a string or a list of strings/);
    assert.throws(() => groups({}), /groups expression failed: .*g/);
  });

  it("refuses a username that is not a non-empty string, and leaves an empty uid out", () => {
    const name = (claims: Record<string, unknown>) =>
      evaluation({ username: c("claims.n", "username") }, claims).username();
    assert.throws(() => name({ n: 1 }), /username expression must return a string/);
    assert.throws(() => name({ n: "" }), /empty/);
    assert.throws(() => name({}), /username expression failed/);
    assert.equal(evaluation({ uid: c("claims.u", "uid") }, { u: "" }).uid(), undefined);
    assert.equal(evaluation({}, { sub: "x" }).username(), undefined, "no expression: the claim decides");
  });

  it("holds the token to every claim rule, then the user to every user rule, with their messages", () => {
    const x = {
      claimValidation: [
        { expression: c("claims.exp - claims.iat <= 3600", "claimValidation"), message: "lives too long" },
        { expression: c("claims.flag == true", "claimValidation"), message: "flag" },
      ],
      userValidation: [
        { expression: c("!user.username.startsWith('admin')", "userValidation"), message: "no admins" },
        { expression: c("user.uid == '' && size(user.groups) == 1", "userValidation"), message: "groups" },
      ],
    };
    const ok = { iat: 1000, exp: 4000, flag: true };
    evaluation(x, ok).validate(user);
    assert.throws(
      () => evaluation(x, { ...ok, exp: 9000 }).validate(user),
      /claims\.exp - claims\.iat <= 3600' failed: lives too long/,
    );
    assert.throws(() => evaluation(x, { ...ok, flag: "yes" }).validate(user), /failed: flag/);
    assert.throws(() => evaluation(x, ok).validate({ ...user, name: "admin-1" }), /failed: no admins/);
    assert.throws(() => evaluation(x, ok).validate({ ...user, groups: [] }), /failed: groups/);
  });

  it("keeps large numeric ids apart and takes a claim named constructor like any other", () => {
    const name = (json: string) =>
      new ClaimEvaluation(
        { ...none(), username: c("'u-' + string(claims.id)", "username") },
        json,
      ).username();
    assert.equal(name('{"id":1234567890123456789}'), "u-1234567890123456789");
    assert.equal(name('{"id":1234567890123456788}'), "u-1234567890123456788");
    const blocked = new ClaimEvaluation(
      {
        ...none(),
        claimValidation: [
          { expression: c("!claims.?meta.?blocked.orValue(false)", "claimValidation"), message: "blocked" },
        ],
      },
      '{"constructor":"x","meta":{"blocked":true,"constructor":1}}',
    );
    assert.throws(() => blocked.validate(user), /failed: blocked/);
  });

  it("stops a token's evaluation at the time budget, whatever runs", () => {
    const groups = Array.from({ length: 8000 }, (_, i) => `g${i}`);
    for (const [expression, claims] of [
      ["claims.g.map(x, claims.g + [x])[0]", { g: groups }],
      ["claims.n.matches('^(a+)+$') ? ['x'] : []", { n: `${"a".repeat(40)}!` }],
    ] as const) {
      const e = evaluation({ groups: c(expression, "groups") }, claims);
      assert.throws(() => e.groups(), /CEL evaluation took longer than 100 ms/, expression);
    }
  });
});
