import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KubegateError } from "../status/errors.ts";
import {
  everythingLabelSelector,
  fromLabelRequirements,
  fromLabelSelectorObject,
  intersect,
  isValidLabelKey,
  isValidLabelValue,
  type LabelSelector,
  type LabelSelectorObject,
  type Labels,
  NOTHING_KEY,
  nothingLabelSelector,
  parseLabelSelector,
  SelectorError,
} from "./labels.ts";

const name63 = `a${"b".repeat(61)}c`;
const prefix253 = `${Array.from({ length: 4 }, () => "p".repeat(62)).join(".")}.q`; // 4*62 + 3 + 2 = 253

interface Good {
  text: string;
  /** What toString() renders; kube parses it back to the same selector. */
  canonical: string;
  yes?: (Labels | undefined)[];
  no?: (Labels | undefined)[];
}

// Accepted by kube-apiserver. Grammar facts from k8s.io/apimachinery/pkg/labels, cases written afresh.
const good: Good[] = [
  // empty selects everything
  { text: "", canonical: "", yes: [{}, { a: "b" }, undefined] },
  { text: " \t\r\n ", canonical: "", yes: [{}, { x: "y" }] },
  // each operator
  {
    text: "x=a",
    canonical: "x=a",
    yes: [{ x: "a" }, { x: "a", y: "b" }],
    no: [{}, { x: "b" }, { y: "a" }, undefined],
  },
  { text: "x==a", canonical: "x=a", yes: [{ x: "a" }], no: [{ x: "A" }, {}] },
  { text: "x!=a", canonical: "x!=a", yes: [{}, { x: "b" }, { x: "" }, undefined], no: [{ x: "a" }] },
  {
    text: "x in (a,b)",
    canonical: "x in (a,b)",
    yes: [{ x: "a" }, { x: "b" }],
    no: [{ x: "c" }, {}, { x: "" }],
  },
  {
    text: "x notin (a,b)",
    canonical: "x notin (a,b)",
    yes: [{}, { x: "c" }, { x: "" }],
    no: [{ x: "a" }, { x: "b" }],
  },
  { text: "x", canonical: "x", yes: [{ x: "" }, { x: "v" }], no: [{}, { y: "x" }, undefined] },
  { text: "!x", canonical: "!x", yes: [{}, { y: "1" }, undefined], no: [{ x: "" }, { x: "1" }] },
  {
    text: "x>5",
    canonical: "x>5",
    yes: [{ x: "6" }, { x: "100" }, { x: "+7" }, { x: "0006" }],
    no: [
      { x: "5" },
      { x: "4" },
      { x: "-6" },
      { x: "abc" },
      { x: "" },
      {},
      { x: "5.5" },
      { x: " 6" },
      { x: "1_0" },
    ],
  },
  {
    text: "x<5",
    canonical: "x<5",
    yes: [{ x: "4" }, { x: "0" }, { x: "-3" }, { x: "-0" }],
    no: [{ x: "5" }, { x: "6" }, {}, { x: "4.5" }, { x: "0x1" }, { x: "+" }, { x: "-" }],
  },
  // conjunctions and ordering
  {
    text: "x=a,y=b,z=c",
    canonical: "x=a,y=b,z=c",
    yes: [{ x: "a", y: "b", z: "c" }],
    no: [
      { x: "a", y: "b" },
      { x: "a", y: "b", z: "d" },
    ],
  },
  { text: "z=c,x=a", canonical: "x=a,z=c", yes: [{ x: "a", z: "c" }] },
  {
    text: "x!=a,y=b",
    canonical: "x!=a,y=b",
    yes: [{ y: "b" }, { x: "c", y: "b" }],
    no: [{ x: "a", y: "b" }],
  },
  { text: "a,b,c", canonical: "a,b,c", yes: [{ a: "", b: "", c: "" }], no: [{ a: "", b: "" }] },
  { text: "x>1,x<5", canonical: "x>1,x<5", yes: [{ x: "3" }], no: [{ x: "1" }, { x: "5" }] },
  { text: "x=a,x=b", canonical: "x=a,x=b", no: [{ x: "a" }, { x: "b" }, {}] },
  { text: "x=a,x==a", canonical: "x=a", yes: [{ x: "a" }] },
  { text: "x in (a),x notin (a)", canonical: "x in (a),x notin (a)", no: [{ x: "a" }, {}] },
  {
    text: "z,y notin (b),x in (a),!w,v=1,u!=2,t>3,s<4",
    canonical: "s<4,t>3,u!=2,v=1,!w,x in (a),y notin (b),z",
    yes: [{ s: "3", t: "4", v: "1", x: "a", z: "" }],
    no: [{ s: "3", t: "4", v: "1", x: "a", z: "", w: "" }],
  },
  { text: "X=a,x=b", canonical: "X=a,x=b", yes: [{ X: "a", x: "b" }], no: [{ x: "a", X: "b" }] },
  // empty values
  { text: "x=", canonical: "x=", yes: [{ x: "" }], no: [{}, { x: "a" }] },
  { text: "x= ", canonical: "x=" },
  { text: "x==", canonical: "x=" },
  { text: "x=,z= ", canonical: "x=,z=" },
  { text: "x= ,z= ", canonical: "x=,z=" },
  { text: "x!=", canonical: "x!=", yes: [{}, { x: "a" }], no: [{ x: "" }] },
  { text: "x in ()", canonical: "x in ()", yes: [{ x: "" }], no: [{}, { x: "a" }] },
  { text: "x notin ()", canonical: "x notin ()", yes: [{}, { x: "a" }], no: [{ x: "" }] },
  { text: "x in (,)", canonical: "x in ()" },
  { text: "x in (a,)", canonical: "x in (,a)", yes: [{ x: "" }, { x: "a" }], no: [{}] },
  { text: "x in (,a)", canonical: "x in (,a)" },
  { text: "x in (a,,b)", canonical: "x in (,a,b)", yes: [{ x: "" }] },
  {
    text: "x in (foo,,baz),y,z notin ()",
    canonical: "x in (,baz,foo),y,z notin ()",
    yes: [
      { x: "", y: "1" },
      { x: "foo", y: "", z: "a" },
    ],
    no: [{ x: "foo", y: "1", z: "" }, { x: "foo" }, { x: "bar", y: "" }],
  },
  // whitespace
  { text: " x = a ", canonical: "x=a" },
  { text: "x\t=\ta,\ny\r\n=b", canonical: "x=a,y=b" },
  { text: "x in ( a , b )", canonical: "x in (a,b)" },
  { text: "x in(a)", canonical: "x in (a)" },
  { text: "x notin(a)", canonical: "x notin (a)" },
  { text: "x  in  (a)  ,  y", canonical: "x in (a),y" },
  { text: "! x", canonical: "!x" },
  { text: "x ,!y", canonical: "x,!y" },
  { text: "x!=a , y", canonical: "x!=a,y" },
  // value order and repeats
  { text: "x in (b,a,b)", canonical: "x in (a,b)" },
  { text: "x notin (c, a, b, a)", canonical: "x notin (a,b,c)", no: [{ x: "c" }] },
  // "in" and "notin" are keywords only in operator position
  { text: "in in (in)", canonical: "in in (in)", yes: [{ in: "in" }], no: [{ in: "notin" }] },
  { text: "notin=in", canonical: "notin=in", yes: [{ notin: "in" }] },
  { text: "notin notin (notin)", canonical: "notin notin (notin)", yes: [{}, { notin: "in" }] },
  { text: "in,!notin", canonical: "in,!notin", yes: [{ in: "" }], no: [{ in: "", notin: "" }] },
  { text: "x=in", canonical: "x=in", yes: [{ x: "in" }] },
  // keys and values at their limits
  {
    text: "example.com/app=web",
    canonical: "example.com/app=web",
    yes: [{ "example.com/app": "web" }],
    no: [{ app: "web" }],
  },
  { text: "app.kubernetes.io/name in (kubegate)", canonical: "app.kubernetes.io/name in (kubegate)" },
  { text: "a-b_c.d=E-f_G.h", canonical: "a-b_c.d=E-f_G.h", yes: [{ "a-b_c.d": "E-f_G.h" }] },
  { text: "x..y=a..b", canonical: "x..y=a..b" },
  { text: "1=2", canonical: "1=2", yes: [{ "1": "2" }] },
  { text: `${name63}=${name63}`, canonical: `${name63}=${name63}` },
  { text: `${prefix253}/${name63}`, canonical: `${prefix253}/${name63}` },
  { text: "x=A", canonical: "x=A", yes: [{ x: "A" }], no: [{ x: "a" }] },
  // integers: signed 64-bit, as Go's strconv.ParseInt
  {
    text: "x>007",
    canonical: "x>007",
    yes: [{ x: "8" }, { x: "+8" }],
    no: [{ x: "7" }, { x: "07" }, { x: "8 " }],
  },
  {
    text: "x<9223372036854775807",
    canonical: "x<9223372036854775807",
    yes: [{ x: "9223372036854775806" }, { x: "-9223372036854775808" }, { x: "1" }],
    no: [{ x: "9223372036854775807" }, { x: "9223372036854775808" }, { x: "-9223372036854775809" }],
  },
  {
    text: "x>9007199254740992",
    canonical: "x>9007199254740992",
    yes: [{ x: "9007199254740993" }],
    no: [{ x: "9007199254740992" }, { x: "900719925474099" }],
  },
  { text: "x>9223372036854775807", canonical: "x>9223372036854775807", no: [{ x: "9223372036854775807" }] },
  { text: "x>0", canonical: "x>0", yes: [{ x: "1" }], no: [{ x: "0" }, { x: "-0" }, { x: "-1" }] },
  // keys that are names of Object.prototype members are ordinary keys
  { text: "constructor", canonical: "constructor", yes: [{ constructor: "v" }], no: [{}] },
  { text: "!toString", canonical: "!toString", yes: [{}], no: [{ toString: "" }] },
  { text: "hasOwnProperty=x", canonical: "hasOwnProperty=x", no: [{}] },
];

describe("parseLabelSelector accepts what kube accepts", () => {
  for (const c of good) {
    it(JSON.stringify(c.text), () => {
      const s = parseLabelSelector(c.text);
      assert.equal(s.toString(), c.canonical);
      assert.equal(parseLabelSelector(s.toString()).toString(), c.canonical, "canonical form parses back");
      assert.equal(s.isEmpty(), c.canonical === "");
      for (const l of c.yes ?? []) assert.equal(s.matches(l), true, `should match ${JSON.stringify(l)}`);
      for (const l of c.no ?? []) assert.equal(s.matches(l), false, `should not match ${JSON.stringify(l)}`);
    });
  }
});

interface Bad {
  text: string;
  /** What the message must say. */
  error: RegExp;
}

// Rejected by kube-apiserver.
const bad: Bad[] = [
  // separators
  { text: "x=a,", error: /requirement 2: expected a label key or '!key', found end of selector/ },
  { text: ",x=a", error: /requirement 1 ",": expected a label key/ },
  { text: ",", error: /expected a label key/ },
  { text: "x=a,,y=b", error: /requirement 2 ",": expected a label key/ },
  { text: "x,,y", error: /requirement 2/ },
  { text: "x=a,!", error: /requirement 2 "!": expected a label key after '!', found end of selector/ },
  { text: "x=a b", error: /expected ',' or end of selector after the requirement, found 'b'/ },
  { text: "x=a;y=b", error: /value "a;y" is invalid/ },
  { text: "x=a||y=b", error: /value "a\|\|y" is invalid/ },
  { text: "x=a)", error: /found '\)'/ },
  { text: "(x=a)", error: /expected a label key or '!key', found '\('/ },
  // operators
  { text: "x==a==b", error: /requirement 1 "x==a==": expected ',' or end of selector/ },
  { text: "x===a", error: /expected a value after '==', found '='/ },
  { text: "x!==a", error: /expected a value after '!=', found '='/ },
  { text: "x<=5", error: /expected a value after '<', found '='/ },
  { text: "x>=5", error: /expected a value after '>', found '='/ },
  { text: "x<>5", error: /expected a value after '<', found '>'/ },
  { text: "x=(a)", error: /expected a value after '=', found '\('/ },
  { text: "x=!a", error: /expected a value after '=', found '!'/ },
  { text: "=a", error: /expected a label key or '!key', found '='/ },
  { text: "x y", error: /expected an operator .* after key 'x', found 'y'/ },
  { text: "x ! y", error: /after key 'x', found '!'/ },
  { text: "xin (a)", error: /after key 'xin', found '\('/ },
  { text: "x IN (a)", error: /found 'IN'/ },
  { text: "x exists", error: /found 'exists'/ },
  // negation
  { text: "!x=a", error: /'!x' only tests that the label is absent and takes no operator, found '='/ },
  { text: "!x in (a)", error: /takes no operator, found 'in'/ },
  { text: "!", error: /expected a label key after '!', found end of selector/ },
  { text: "!!x", error: /expected a label key after '!', found '!'/ },
  // sets
  { text: "x in a", error: /expected '\(' after 'in', found 'a'/ },
  { text: "x notin a", error: /expected '\(' after 'notin', found 'a'/ },
  { text: "x in", error: /expected '\(' after 'in', found end of selector/ },
  { text: "x notin", error: /expected '\(' after 'notin'/ },
  { text: "x in (a", error: /expected a value, ',' or '\)' .*found end of selector/ },
  { text: "x in (a,", error: /found end of selector/ },
  { text: "x in (", error: /found end of selector/ },
  { text: "x in a)", error: /expected '\('/ },
  {
    text: "x in (a)), y",
    error: /requirement 1 "x in \(a\)\)": expected ',' or end of selector after the requirement, found '\)'/,
  },
  { text: "x in ((a))", error: /found '\('/ },
  { text: "x in (a,(b))", error: /found '\('/ },
  { text: "x in (a b)", error: /expected ',' or '\)' between values, found 'b'/ },
  { text: "x in (a)y", error: /found 'y'/ },
  { text: "x in (a=b)", error: /found '='/ },
  { text: "x in (a,-b)", error: /value "-b" is invalid/ },
  // integers
  { text: "x<a", error: /'<' compares integers, but value "a" is not a signed 64-bit decimal integer/ },
  { text: "x>", error: /value "" is not a signed 64-bit/ },
  { text: "x>1.5", error: /value "1.5" is not/ },
  { text: "x>0x10", error: /value "0x10" is not/ },
  { text: "x>1_000", error: /value "1_000" is not/ },
  { text: "x>9223372036854775808", error: /value "9223372036854775808" is not a signed 64-bit/ },
  { text: "x>-1", error: /value "-1" is invalid.*negative numbers cannot be used/ },
  { text: "x>+1", error: /value "\+1" is invalid/ },
  // keys
  { text: "Foo/bar=x", error: /key "Foo\/bar" is invalid: the prefix must be a lowercase DNS subdomain/ },
  { text: "/x", error: /the prefix before '\/' must not be empty/ },
  { text: "x/", error: /the name after '\/' must not be empty/ },
  { text: "a/b/c", error: /at most one '\/'/ },
  { text: "-x", error: /key "-x" is invalid: the name must consist of/ },
  { text: "x-=a", error: /key "x-" is invalid/ },
  { text: "_x", error: /key "_x" is invalid/ },
  { text: "ex_ample.com/x", error: /prefix must be a lowercase DNS subdomain/ },
  { text: "-example.com/x", error: /prefix must be a lowercase DNS subdomain/ },
  { text: `${name63}d=a`, error: /the name must be no more than 63 characters \(it has 64\)/ },
  { text: `p${prefix253}/x`, error: /the prefix must be no more than 253 characters \(it has 254\)/ },
  { text: "ключ=a", error: /key "ключ" is invalid/ },
  { text: "x\v=a", error: /key "x\\u000b" is invalid/ },
  { text: "x||y", error: /key "x\|\|y" is invalid/ },
  // values
  {
    text: `x=${name63}d`,
    error: /value "a.*d" is invalid: it must be no more than 63 characters \(it has 64\)/,
  },
  { text: "x=-a", error: /value "-a" is invalid: it must be empty or consist of/ },
  { text: "x=a_", error: /value "a_" is invalid/ },
  { text: "x=ü", error: /value "ü" is invalid/ },
  { text: "x=a/b", error: /value "a\/b" is invalid/ },
  { text: "x!=.", error: /value "\." is invalid/ },
  // kube would silently cut at a NUL; refused here
  { text: "x=a\0,y", error: /contains a NUL character/ },
];

describe("parseLabelSelector rejects what kube rejects, saying why", () => {
  for (const c of bad) {
    it(JSON.stringify(c.text), () => {
      assert.throws(
        () => parseLabelSelector(c.text),
        (e: unknown) => {
          assert.ok(e instanceof SelectorError, `a SelectorError, got ${String(e)}`);
          assert.match(e.message, /^invalid label selector /);
          assert.match(e.message, c.error);
          return true;
        },
      );
    });
  }

  it("is a KubegateError answered with 400", () => {
    assert.throws(
      () => parseLabelSelector("x in"),
      (e: unknown) => e instanceof KubegateError && e.httpCode === 400 && e.name === "SelectorError",
    );
  });

  it("rejects a non-string at run time", () => {
    assert.throws(() => parseLabelSelector(undefined as unknown as string), SelectorError);
  });
});

describe("LabelSelector", () => {
  it("exposes sorted, normalized, frozen requirements", () => {
    const s = parseLabelSelector("z>3, x in (b,a,b), !y, w, v==1");
    assert.deepEqual(s.requirements, [
      { key: "v", operator: "=", values: ["1"] },
      { key: "w", operator: "exists", values: [] },
      { key: "x", operator: "in", values: ["a", "b"] },
      { key: "y", operator: "!", values: [] },
      { key: "z", operator: "gt", values: ["3"] },
    ]);
    assert.ok(Object.isFrozen(s.requirements));
    assert.ok(Object.isFrozen(s.requirements[0]));
    assert.ok(Object.isFrozen(s.requirements[0]?.values));
  });

  it("keeps requirements on the same key in their written order", () => {
    assert.equal(parseLabelSelector("b,a<5,a>1").toString(), "a<5,a>1,b");
  });

  it("looks large value sets up as well as small ones", () => {
    const values = Array.from({ length: 20 }, (_, i) => `v${i}`);
    const s = parseLabelSelector(`x in (${values.join(",")}),y notin (${values.join(",")})`);
    for (const v of values) assert.equal(s.matches({ x: v }), true);
    assert.equal(s.matches({ x: "v20" }), false);
    assert.equal(s.matches({ x: "v3", y: "v19" }), false);
    assert.equal(s.matches({ x: "v3", y: "other" }), true);
  });

  it("ignores labels that are not own string properties", () => {
    const proto = { x: "a" };
    const labels = Object.create(proto) as Labels;
    assert.equal(parseLabelSelector("x").matches(labels), false);
    assert.equal(parseLabelSelector("x").matches({ x: undefined } as unknown as Labels), false);
    assert.equal(
      parseLabelSelector("x").matches(Object.assign(Object.create(null), { x: "a" }) as Labels),
      true,
    );
  });

  it("checks keys and values on their own", () => {
    assert.equal(isValidLabelKey("example.com/a"), true);
    assert.equal(isValidLabelKey("Example.com/a"), false);
    assert.equal(isValidLabelValue(""), true);
    assert.equal(isValidLabelValue("a b"), false);
  });
});

interface ObjectCase {
  name: string;
  sel: LabelSelectorObject | null | undefined;
  canonical: string;
  yes?: Labels[];
  no?: Labels[];
}

const objects: ObjectCase[] = [
  {
    name: "null selects nothing",
    sel: null,
    canonical: `${NOTHING_KEY},!${NOTHING_KEY}`,
    no: [{}, { a: "b" }],
  },
  {
    name: "undefined selects nothing",
    sel: undefined,
    canonical: `${NOTHING_KEY},!${NOTHING_KEY}`,
    no: [{}],
  },
  { name: "{} selects everything", sel: {}, canonical: "", yes: [{}, { a: "b" }] },
  {
    name: "empty lists select everything",
    sel: { matchLabels: {}, matchExpressions: [] },
    canonical: "",
    yes: [{}],
  },
  {
    name: "null fields select everything",
    sel: { matchLabels: null, matchExpressions: null },
    canonical: "",
  },
  {
    name: "matchLabels",
    sel: { matchLabels: { tier: "fe", app: "web" } },
    canonical: "app=web,tier=fe",
    yes: [{ app: "web", tier: "fe", x: "y" }],
    no: [{ app: "web" }],
  },
  {
    name: "matchLabels with an empty value",
    sel: { matchLabels: { a: "" } },
    canonical: "a=",
    yes: [{ a: "" }],
    no: [{}],
  },
  {
    name: "every expression operator",
    sel: {
      matchExpressions: [
        { key: "env", operator: "In", values: ["prod", "dev"] },
        { key: "tier", operator: "NotIn", values: ["db"] },
        { key: "app", operator: "Exists" },
        { key: "legacy", operator: "DoesNotExist", values: [] },
      ],
    },
    canonical: "app,env in (dev,prod),!legacy,tier notin (db)",
    yes: [{ app: "x", env: "dev" }],
    no: [{ app: "x", env: "dev", legacy: "" }, { env: "dev" }, { app: "x", env: "dev", tier: "db" }],
  },
  {
    name: "both forms, null values on Exists",
    sel: {
      matchLabels: { app: "web" },
      matchExpressions: [{ key: "app", operator: "Exists", values: null }],
    },
    canonical: "app=web,app",
  },
];

describe("fromLabelSelectorObject converts as LabelSelectorAsSelector", () => {
  for (const c of objects) {
    it(c.name, () => {
      const s = fromLabelSelectorObject(c.sel);
      assert.equal(s.toString(), c.canonical);
      // The string form pushed upstream means the same.
      const reparsed = parseLabelSelector(s.toString());
      for (const l of c.yes ?? []) assert.equal(s.matches(l) && reparsed.matches(l), true);
      for (const l of c.no ?? []) assert.equal(s.matches(l) || reparsed.matches(l), false);
    });
  }

  const invalid: [string, unknown, RegExp][] = [
    [
      "In without values",
      { matchExpressions: [{ key: "a", operator: "In" }] },
      /'In' needs at least one value/,
    ],
    [
      "In with []",
      { matchExpressions: [{ key: "a", operator: "In", values: [] }] },
      /'In' needs at least one value/,
    ],
    [
      "NotIn with []",
      { matchExpressions: [{ key: "a", operator: "NotIn", values: [] }] },
      /'NotIn' needs at least/,
    ],
    [
      "Exists with values",
      { matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] },
      /'Exists' takes no values/,
    ],
    [
      "DoesNotExist with values",
      { matchExpressions: [{ key: "a", operator: "DoesNotExist", values: ["x"] }] },
      /'DoesNotExist' takes no values/,
    ],
    [
      "an unknown operator",
      { matchExpressions: [{ key: "a", operator: "Gt", values: ["1"] }] },
      /"Gt" is not a valid/,
    ],
    [
      "a lowercase operator",
      { matchExpressions: [{ key: "a", operator: "in", values: ["1"] }] },
      /"in" is not a valid/,
    ],
    [
      "a bad key",
      { matchExpressions: [{ key: "a b", operator: "Exists" }] },
      /matchExpressions\[0\].*key "a b"/,
    ],
    ["a bad value", { matchExpressions: [{ key: "a", operator: "In", values: ["ok", "-x"] }] }, /value "-x"/],
    ["a bad matchLabels key", { matchLabels: { "a/b/c": "x" } }, /matchLabels\["a\/b\/c"\]/],
    ["a bad matchLabels value", { matchLabels: { a: "x y" } }, /value "x y" is invalid/],
    ["a non-string matchLabels value", { matchLabels: { a: 1 } }, /must be a string/],
    ["a non-list matchExpressions", { matchExpressions: {} }, /must be a list/],
    [
      "non-string values",
      { matchExpressions: [{ key: "a", operator: "In", values: [1] }] },
      /list of strings/,
    ],
    ["a non-object", "app=web", /must be an object/],
  ];
  for (const [name, sel, error] of invalid) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => fromLabelSelectorObject(sel as LabelSelectorObject),
        (e: unknown) => {
          assert.ok(e instanceof SelectorError);
          assert.match(e.message, error);
          return true;
        },
      );
    });
  }
});

describe("intersect", () => {
  const a = parseLabelSelector("app=web,tier in (fe,be)");
  const b = parseLabelSelector("tenant=t1,app");

  it("requires both", () => {
    const both = intersect(a, b);
    assert.equal(both.toString(), "app=web,app,tenant=t1,tier in (be,fe)");
    assert.equal(both.matches({ app: "web", tier: "fe", tenant: "t1" }), true);
    assert.equal(both.matches({ app: "web", tier: "fe" }), false);
    assert.equal(both.matches({ app: "web", tenant: "t1" }), false);
  });

  it("returns the other side for everything", () => {
    assert.equal(intersect(everythingLabelSelector, a), a);
    assert.equal(intersect(a, parseLabelSelector("")), a);
    assert.equal(intersect(everythingLabelSelector, everythingLabelSelector).isEmpty(), true);
  });

  it("selects nothing with nothing", () => {
    const n = intersect(a, nothingLabelSelector);
    assert.equal(n.matches({ app: "web", tier: "fe" }), false);
    assert.equal(n.isEmpty(), false);
    assert.equal(
      parseLabelSelector(n.toString()).matches({ app: "web", tier: "fe", [NOTHING_KEY]: "" }),
      false,
    );
  });

  it("drops exact repeats", () => {
    assert.equal(intersect(parseLabelSelector("a=1,b"), parseLabelSelector("b,a==1")).toString(), "a=1,b");
  });
});

describe("fromLabelRequirements", () => {
  it("builds and validates", () => {
    const s = fromLabelRequirements([
      { key: "tenant", operator: "in", values: ["b", "a"] },
      { key: "x", operator: "==", values: ["1"] },
    ]);
    assert.equal(s.toString(), "tenant in (a,b),x=1");
    assert.throws(() => fromLabelRequirements([{ key: "x", operator: "gt", values: ["a"] }]), SelectorError);
    assert.throws(
      () => fromLabelRequirements([{ key: "x", operator: "=", values: [] }]),
      /exactly one value/,
    );
    assert.equal(fromLabelRequirements([]), everythingLabelSelector);
  });
});

// Random strings over the grammar's alphabet: every one is either refused with a SelectorError or gives a
// selector whose canonical text parses back to a selector that renders and matches the same.
describe("parse and render agree on random input", () => {
  let seed = 0x9e3779b9;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const pieces = [
    "x",
    "y",
    "a",
    "1",
    "5",
    " ",
    " ",
    ",",
    "=",
    "==",
    "!",
    "!=",
    "(",
    ")",
    "<",
    ">",
    "in",
    "notin",
    "-",
  ];
  const labelSets: Labels[] = [
    {},
    { x: "a" },
    { x: "1", y: "5" },
    { y: "" },
    { x: "in", a: "x" },
    { x: "7" },
  ];

  it("for 3000 strings", () => {
    let accepted = 0;
    for (let n = 0; n < 3000; n++) {
      const text = Array.from({ length: 1 + Math.floor(random() * 12) }, () => pick(pieces)).join("");
      let s: LabelSelector;
      try {
        s = parseLabelSelector(text);
      } catch (e) {
        assert.ok(e instanceof SelectorError, `${JSON.stringify(text)} threw ${String(e)}`);
        continue;
      }
      accepted++;
      const again = parseLabelSelector(s.toString());
      assert.equal(again.toString(), s.toString(), JSON.stringify(text));
      for (const l of labelSets)
        assert.equal(again.matches(l), s.matches(l), `${JSON.stringify(text)} on ${JSON.stringify(l)}`);
    }
    assert.ok(accepted > 100, `only ${accepted} accepted`);
  });
});
