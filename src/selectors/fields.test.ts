import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  escapeFieldValue,
  everythingFieldSelector,
  exactMatch,
  type Fields,
  fromFieldRequirements,
  intersectFields,
  parseFieldSelector,
  SelectorError,
  unescapeFieldValue,
} from "./fields.ts";

interface Good {
  text: string;
  canonical: string;
  requirements?: { field: string; operator: "=" | "!="; value: string }[];
  yes?: (Fields | undefined)[];
  no?: (Fields | undefined)[];
}

// Accepted by kube-apiserver's parser. Grammar facts from k8s.io/apimachinery/pkg/fields, cases written afresh.
const good: Good[] = [
  { text: "", canonical: "", requirements: [], yes: [{}, { a: "b" }, undefined] },
  { text: ",", canonical: "", requirements: [] },
  {
    text: "metadata.name=foo",
    canonical: "metadata.name=foo",
    requirements: [{ field: "metadata.name", operator: "=", value: "foo" }],
    yes: [{ "metadata.name": "foo", "metadata.namespace": "x" }],
    no: [{ "metadata.name": "bar" }, {}, undefined],
  },
  { text: "metadata.name==foo", canonical: "metadata.name=foo", yes: [{ "metadata.name": "foo" }] },
  {
    text: "status.phase!=Running",
    canonical: "status.phase!=Running",
    yes: [{ "status.phase": "Pending" }, {}],
    no: [{ "status.phase": "Running" }],
  },
  {
    text: "x=a,y=b,z=c",
    canonical: "x=a,y=b,z=c",
    yes: [{ x: "a", y: "b", z: "c" }],
    no: [{ x: "a", y: "b" }],
  },
  { text: "z=c,x!=a", canonical: "x!=a,z=c", yes: [{ z: "c" }], no: [{ x: "a", z: "c" }] },
  { text: "x=a,,y=b,", canonical: "x=a,y=b" },
  { text: "x=a,x==a", canonical: "x=a" },
  { text: "x=a,x=b", canonical: "x=a,x=b", no: [{ x: "a" }, { x: "b" }] },
  // an absent field reads as ""
  {
    text: "spec.nodeName=",
    canonical: "spec.nodeName=",
    yes: [{}, { "spec.nodeName": "" }],
    no: [{ "spec.nodeName": "n" }],
  },
  { text: "spec.nodeName!=", canonical: "spec.nodeName!=", yes: [{ "spec.nodeName": "n" }], no: [{}] },
  { text: "x==", canonical: "x=", requirements: [{ field: "x", operator: "=", value: "" }] },
  // escaping
  {
    text: String.raw`x=a\,b`,
    canonical: String.raw`x=a\,b`,
    yes: [{ x: "a,b" }],
    no: [{ x: String.raw`a\,b` }],
  },
  { text: String.raw`x=a\=b`, canonical: String.raw`x=a\=b`, yes: [{ x: "a=b" }] },
  { text: String.raw`x=a\\b`, canonical: String.raw`x=a\\b`, yes: [{ x: String.raw`a\b` }] },
  { text: String.raw`x=a||y\=b`, canonical: String.raw`x=a||y\=b`, yes: [{ x: "a||y=b" }] },
  { text: String.raw`x=a\=\=b`, canonical: String.raw`x=a\=\=b`, yes: [{ x: "a==b" }] },
  {
    text: String.raw`k=\\\,,k2=v2`,
    canonical: String.raw`k2=v2,k=\\\,`,
    requirements: [
      { field: "k2", operator: "=", value: "v2" },
      { field: "k", operator: "=", value: String.raw`\,` },
    ],
  },
  { text: String.raw`k=\\,k2=v2`, canonical: String.raw`k2=v2,k=\\`, yes: [{ k: "\\", k2: "v2" }] },
  // fields are taken as written, up to the first operator
  { text: String.raw`a\,b=c`, canonical: String.raw`a\,b=c`, yes: [{ "a\\,b": "c" }] },
  {
    text: String.raw`a\=b`,
    canonical: String.raw`a\=b`,
    requirements: [{ field: "a\\", operator: "=", value: "b" }],
  },
  { text: "a!b=c", canonical: "a!b=c", requirements: [{ field: "a!b", operator: "=", value: "c" }] },
  { text: "x=a!b", canonical: "x=a!b", yes: [{ x: "a!b" }] },
  { text: "x=!", canonical: "x=!", requirements: [{ field: "x", operator: "=", value: "!" }] },
  { text: "metadata.name = foo", canonical: "metadata.name = foo", yes: [{ "metadata.name ": " foo" }] },
  { text: "함=수,목=록", canonical: "목=록,함=수", yes: [{ 함: "수", 목: "록" }] },
  // a term with neither field nor value is dropped; an empty field alone is kept
  { text: "=", canonical: "", requirements: [] },
  { text: "!=,a=b", canonical: "a=b" },
  { text: "==", canonical: "" },
  { text: "=x", canonical: "=x", requirements: [{ field: "", operator: "=", value: "x" }] },
  // names of Object.prototype members are ordinary fields
  { text: "constructor=", canonical: "constructor=", yes: [{}], no: [{ constructor: "x" }] },
];

describe("parseFieldSelector accepts what kube accepts", () => {
  for (const c of good) {
    it(JSON.stringify(c.text), () => {
      const s = parseFieldSelector(c.text);
      assert.equal(s.toString(), c.canonical);
      assert.equal(parseFieldSelector(s.toString()).toString(), c.canonical, "canonical form parses back");
      assert.equal(s.isEmpty(), c.canonical === "");
      if (c.requirements !== undefined) assert.deepEqual(s.requirements, c.requirements);
      for (const f of c.yes ?? []) assert.equal(s.matches(f), true, `should match ${JSON.stringify(f)}`);
      for (const f of c.no ?? []) assert.equal(s.matches(f), false, `should not match ${JSON.stringify(f)}`);
    });
  }
});

const bad: { text: string; error: RegExp }[] = [
  { text: "x=a||y=b", error: /term "x=a\|\|y=b": value "a\|\|y=b" has an unescaped '='/ },
  { text: "x==a==b", error: /value "a==b" has an unescaped '='/ },
  { text: "a=b=c", error: /value "b=c" has an unescaped '=' \(write '\\='\)/ },
  { text: "x!==a", error: /value "=a" has an unescaped '='/ },
  { text: "x=a,b", error: /term "b": expected field=value, field==value or field!=value/ },
  { text: "x in (a)", error: /term "x in \(a\)": expected field=value/ },
  { text: "x in (a,b,c)", error: /term "x in \(a": expected field=value/ },
  { text: "x", error: /term "x": expected/ },
  { text: "x!a", error: /term "x!a": expected/ },
  { text: "x=a,y", error: /term "y"/ },
  { text: String.raw`k=\ `, error: /invalid escape sequence '\\ '/ },
  { text: "k=\\", error: /ends with a lone '\\'/ },
  { text: "k=\\\\\\", error: /ends with a lone '\\'/ },
  {
    text: String.raw`k=\a`,
    error: /invalid escape sequence '\\a' \(only '\\\\', '\\,' and '\\=' are allowed\)/,
  },
  { text: String.raw`k=a\b`, error: /invalid escape sequence '\\b'/ },
  { text: String.raw`a\=b=c`, error: /value "b=c" has an unescaped '='/ },
];

describe("parseFieldSelector rejects what kube rejects, saying why", () => {
  for (const c of bad) {
    it(JSON.stringify(c.text), () => {
      assert.throws(
        () => parseFieldSelector(c.text),
        (e: unknown) => {
          assert.ok(e instanceof SelectorError, `a SelectorError, got ${String(e)}`);
          assert.match(e.message, /^invalid field selector /);
          assert.match(e.message, c.error);
          return true;
        },
      );
    });
  }
});

describe("exactMatch", () => {
  const cases: [string, string, string | undefined][] = [
    ["spec.nodeName=n1", "spec.nodeName", "n1"],
    ["spec.nodeName==n1", "spec.nodeName", "n1"],
    ["spec.nodeName!=n1", "spec.nodeName", undefined],
    ["metadata.name=a,spec.nodeName=b", "metadata.name", "a"],
    ["metadata.name=a,spec.nodeName=b", "spec.nodeName", "b"],
    ["metadata.name=a", "spec.nodeName", undefined],
    ["spec.nodeName=", "spec.nodeName", ""],
    [String.raw`metadata.name=a\,b`, "metadata.name", "a,b"],
    ["", "metadata.name", undefined],
  ];
  for (const [text, field, want] of cases) {
    it(`${JSON.stringify(text)} on ${field}`, () =>
      assert.equal(exactMatch(parseFieldSelector(text), field), want));
  }
});

describe("field values", () => {
  const pairs: [string, string][] = [
    ["", ""],
    ["a", "a"],
    ["=", String.raw`\=`],
    [",", String.raw`\,`],
    ["\\", String.raw`\\`],
    ["\\=\\,\\", String.raw`\\\=\\\,\\`],
  ];
  for (const [plain, escaped] of pairs) {
    it(`escape ${JSON.stringify(plain)}`, () => {
      assert.equal(escapeFieldValue(plain), escaped);
      assert.equal(unescapeFieldValue(escaped), plain);
    });
  }
  it("refuses bad escapes", () => {
    for (const raw of ["\\", "\\\\\\", String.raw`\a`, "a=b", "a,b"]) {
      assert.throws(() => unescapeFieldValue(raw), SelectorError);
    }
  });
});

describe("building and combining field selectors", () => {
  it("builds from requirements with escaping", () => {
    const s = fromFieldRequirements([
      { field: "metadata.namespace", operator: "==", value: "a,b" },
      { field: "status.phase", operator: "!=", value: "Failed" },
    ]);
    assert.equal(s.toString(), String.raw`metadata.namespace=a\,b,status.phase!=Failed`);
    assert.equal(parseFieldSelector(s.toString()).toString(), s.toString());
    assert.equal(fromFieldRequirements([]), everythingFieldSelector);
    for (const field of ["a=b", "a,b", "a\\", "a!"]) {
      assert.throws(() => fromFieldRequirements([{ field, operator: "=", value: "x" }]), SelectorError);
    }
  });

  it("intersects", () => {
    const a = parseFieldSelector("metadata.namespace=t1");
    const b = parseFieldSelector("spec.nodeName=n1,metadata.namespace=t1");
    const both = intersectFields(a, b);
    assert.equal(both.toString(), "metadata.namespace=t1,spec.nodeName=n1");
    assert.equal(both.matches({ "metadata.namespace": "t1", "spec.nodeName": "n1" }), true);
    assert.equal(both.matches({ "metadata.namespace": "t2", "spec.nodeName": "n1" }), false);
    assert.equal(intersectFields(everythingFieldSelector, a), a);
    assert.equal(intersectFields(a, everythingFieldSelector), a);
  });

  it("freezes requirements", () => {
    const s = parseFieldSelector("a=b");
    assert.ok(Object.isFrozen(s.requirements));
    assert.ok(Object.isFrozen(s.requirements[0]));
  });
});
