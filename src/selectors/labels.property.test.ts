// Property-based tests of the label selector parser (issue #10, fuzzing). The oracle below is written from
// the Kubernetes rules (k8s.io/apimachinery/pkg/labels/selector.go), never from the parser's own matcher.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parserProperties } from "../../test/support/selector-properties.ts";
import { fromLabelRequirements, type LabelOperator, type Labels, parseLabelSelector } from "./labels.ts";

const RUNS = 1000;

/**
 * Any UTF-16 code point, lone surrogates included (fast-check's "binary" unit costs a second to build).
 * Biased to ASCII, where the grammar's symbols are.
 */
const anyChar = fc
  .oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0x10ffff }))
  .map((cp) => String.fromCodePoint(cp));

// ---------------------------------------------------------------------------------------------------------
// Generators of valid keys, values and requirements (content.IsLabelKey, validation.IsValidLabelValue).

const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".split("");
const LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789".split("");

/** A name or non-empty value: alphanumeric at both ends, `-_.` inside, at most `max` characters. */
const labelName = (max: number) =>
  fc
    .tuple(
      fc.constantFrom(...ALNUM),
      fc.string({ unit: fc.constantFrom(...ALNUM, "-", "_", "."), maxLength: max - 2 }),
      fc.constantFrom(...ALNUM),
      fc.boolean(),
    )
    .map(([a, mid, z, short]) => (short ? a : `${a}${mid}${z}`));

const dnsLabel = fc
  .tuple(
    fc.constantFrom(...LOWER_ALNUM),
    fc.string({ unit: fc.constantFrom(...LOWER_ALNUM, "-"), maxLength: 10 }),
    fc.constantFrom(...LOWER_ALNUM),
    fc.boolean(),
  )
  .map(([a, mid, z, short]) => (short ? a : `${a}${mid}${z}`));
const dnsSubdomain = fc.array(dnsLabel, { minLength: 1, maxLength: 4 }).map((ls) => ls.join("."));

/** A few fixed keys so that requirements and label sets meet often, plus random ones. */
const KEY_POOL = [
  "app",
  "tier",
  "x",
  "in",
  "notin",
  "constructor",
  "toString",
  "example.com/app",
  "kubegate.io/tenant",
];
const labelKey = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...KEY_POOL) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.option(dnsSubdomain, { nil: undefined }), labelName(63))
      .map(([p, n]) => (p === undefined ? n : `${p}/${n}`)),
  },
);

const VALUE_POOL = ["", "a", "b", "web", "in", "notin", "1", "10", "007", "A"];
const labelValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...VALUE_POOL) },
  { weight: 1, arbitrary: labelName(63) },
);
/** `>`/`<` values: non-negative (a label value cannot start with '-') signed-64-bit decimals. */
const intValue = fc.oneof(
  fc.constantFrom("0", "1", "5", "10", "007", "9223372036854775807", "9007199254740993"),
  fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String),
);

type Op = "=" | "==" | "!=" | "in" | "notin" | "exists" | "!" | ">" | "<";
interface Req {
  key: string;
  op: Op;
  values: string[];
}

const requirement: fc.Arbitrary<Req> = fc.oneof(
  fc.record({ key: labelKey, op: fc.constantFrom<Op>("=", "==", "!="), values: labelValue.map((v) => [v]) }),
  fc.record({
    key: labelKey,
    op: fc.constantFrom<Op>("in", "notin"),
    values: fc.array(labelValue, { minLength: 1, maxLength: 5 }),
  }),
  fc.record({ key: labelKey, op: fc.constantFrom<Op>("exists", "!"), values: fc.constant<string[]>([]) }),
  fc.record({ key: labelKey, op: fc.constantFrom<Op>(">", "<"), values: intValue.map((v) => [v]) }),
);

// ---------------------------------------------------------------------------------------------------------
// Rendering with random blanks: blanks may stand between any two tokens, and are needed between words.

const blank = fc.string({ unit: fc.constantFrom(" ", "\t", "\r", "\n"), maxLength: 2 });
const someBlank = fc.string({ unit: fc.constantFrom(" ", "\t", "\r", "\n"), minLength: 1, maxLength: 2 });

function render(r: Req, b: () => string, must: () => string): string {
  switch (r.op) {
    case "exists":
      return r.key;
    case "!":
      return `!${b()}${r.key}`;
    case "in":
    case "notin":
      return `${r.key}${must()}${r.op}${b()}(${r.values.map((v) => `${b()}${v}${b()}`).join(",")})`;
    default:
      return `${r.key}${b()}${r.op}${b()}${r.values[0] ?? ""}`;
  }
}

/** A valid selector: its requirements and a text for them, written with random blanks. */
const validSelector = fc
  .tuple(
    fc.array(requirement, { maxLength: 6 }),
    fc.array(blank, { minLength: 64, maxLength: 64 }),
    fc.array(someBlank, { minLength: 16, maxLength: 16 }),
  )
  .map(([reqs, blanks, musts]) => {
    let i = 0;
    let j = 0;
    const b = () => blanks[i++ % blanks.length] as string;
    const must = () => musts[j++ % musts.length] as string;
    const text = reqs.map((r) => `${b()}${render(r, b, must)}${b()}`).join(",");
    return { reqs, text };
  });

// ---------------------------------------------------------------------------------------------------------
// The oracle.

const OPERATOR: Record<Op, LabelOperator> = {
  "=": "=",
  "==": "=",
  "!=": "!=",
  in: "in",
  notin: "notin",
  exists: "exists",
  "!": "!",
  ">": "gt",
  "<": "lt",
};

/** Go's strconv.ParseInt(s, 10, 64). */
function goParseInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n < -(2n ** 63n) || n > 2n ** 63n - 1n ? undefined : n;
}

function oracleRequirement(r: Req, labels: Labels | undefined): boolean {
  const has = labels !== undefined && Object.hasOwn(labels, r.key);
  const v = has ? labels?.[r.key] : undefined;
  switch (r.op) {
    case "=":
    case "==":
      return has && v === r.values[0];
    case "!=":
      return !has || v !== r.values[0];
    case "in":
      return has && r.values.includes(v as string);
    case "notin":
      return !has || !r.values.includes(v as string);
    case "exists":
      return has;
    case "!":
      return !has;
    case ">":
    case "<": {
      if (!has) return false;
      const n = goParseInt64(v as string);
      const bound = goParseInt64(r.values[0] as string) as bigint;
      return n !== undefined && (r.op === ">" ? n > bound : n < bound);
    }
  }
}

const oracleMatches = (reqs: readonly Req[], labels: Labels | undefined) =>
  reqs.every((r) => oracleRequirement(r, labels));

/** The normalized requirements kube would hold: `==` is `=`, values sorted and unique, stable by key. */
function oracleRequirements(reqs: readonly Req[]) {
  const normal = reqs.map((r) => ({
    key: r.key,
    operator: OPERATOR[r.op],
    values: r.values.length <= 1 ? [...r.values] : [...new Set(r.values)].sort(),
  }));
  const sorted = normal
    .map((r, i) => ({ r, i }))
    .sort((a, b) => (a.r.key < b.r.key ? -1 : a.r.key > b.r.key ? 1 : a.i - b.i))
    .map((x) => x.r);
  const seen = new Set<string>();
  return sorted.filter((r) => {
    const id = JSON.stringify(r);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** Label sets drawn from the values the requirements use, so that matches and misses both happen. */
const labelSetFor = (reqs: readonly Req[]) => {
  const keys = [...new Set([...reqs.map((r) => r.key), ...KEY_POOL])];
  const values = [
    ...new Set([...reqs.flatMap((r) => r.values), ...VALUE_POOL, "-1", "+3", "99999999999999999999"]),
  ];
  return fc.oneof(
    fc.constant(undefined),
    fc
      .array(fc.tuple(fc.constantFrom(...keys), fc.constantFrom(...values)), { maxLength: 6 })
      .map((entries): Labels => Object.fromEntries(entries)),
  );
};

/** A label set that satisfies every requirement when one exists (built, then checked by the oracle). */
function satisfying(reqs: readonly Req[], pick: (xs: readonly string[]) => string): Labels {
  const labels: Record<string, string> = {};
  for (const r of reqs) {
    if (r.op === "=" || r.op === "==" || r.op === "in") labels[r.key] = pick(r.values);
    else if (r.op === "exists") labels[r.key] ??= "";
    else if (r.op === ">") labels[r.key] = String((goParseInt64(r.values[0] as string) as bigint) + 1n);
    else if (r.op === "<") labels[r.key] = String((goParseInt64(r.values[0] as string) as bigint) - 1n);
  }
  return labels;
}

// ---------------------------------------------------------------------------------------------------------

const GRAMMAR_PIECES = [
  "x",
  "a",
  "in",
  "notin",
  "example.com/",
  "1",
  "-",
  "_",
  ".",
  "/",
  " ",
  "\t",
  ",",
  "=",
  "==",
  "!",
  "!=",
  "(",
  ")",
  "<",
  ">",
  "\0",
  "ü",
  "\uD800",
];
const anyText = fc.oneof(
  fc.string({ unit: anyChar, maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(..."xa1=!(),<> \t-_./"), maxLength: 30 }),
  fc.array(fc.constantFrom(...GRAMMAR_PIECES), { maxLength: 16 }).map((p) => p.join("")),
  // a valid selector with one character inserted, replaced or deleted
  fc
    .tuple(validSelector, fc.nat(), fc.string({ unit: anyChar, maxLength: 1 }), fc.nat(2))
    .map(([{ text }, at, ch, del]) => {
      const i = text.length === 0 ? 0 : at % text.length;
      return text.slice(0, i) + ch + text.slice(i + del);
    }),
);

describe("label selectors (property-based)", () => {
  parserProperties("label", parseLabelSelector, anyText);

  it("valid selectors parse to the requirements kube holds, and print back to themselves", () => {
    fc.assert(
      fc.property(validSelector, ({ reqs, text }) => {
        const s = parseLabelSelector(text);
        const want = oracleRequirements(reqs);
        assert.deepEqual(
          s.requirements.map((r) => ({ ...r, values: [...r.values] })),
          want,
        );
        assert.equal(s.isEmpty(), want.length === 0);
        const printed = s.toString();
        const again = parseLabelSelector(printed);
        assert.equal(again.toString(), printed);
        assert.deepEqual(again.requirements, s.requirements);
        // building the same requirements gives the same selector
        const built = fromLabelRequirements(
          reqs.map((r) => ({ key: r.key, operator: OPERATOR[r.op], values: r.values })),
        );
        assert.equal(built.toString(), printed);
      }),
      { numRuns: RUNS },
    );
  });

  it("matching agrees with an oracle written from the Kubernetes rules", () => {
    const withLabels = validSelector.chain((sel) =>
      fc.tuple(fc.constant(sel), fc.array(labelSetFor(sel.reqs), { minLength: 1, maxLength: 8 })),
    );
    const seen = { true: 0, false: 0 };
    fc.assert(
      fc.property(withLabels, ([{ reqs, text }, labelSets]) => {
        const s = parseLabelSelector(text);
        const again = parseLabelSelector(s.toString());
        for (const labels of labelSets) {
          const want = oracleMatches(reqs, labels);
          seen[`${want}`]++;
          assert.equal(s.matches(labels), want, `${JSON.stringify(text)} on ${JSON.stringify(labels)}`);
          assert.equal(again.matches(labels), want, `reparsed ${JSON.stringify(s.toString())}`);
        }
      }),
      { numRuns: RUNS },
    );
    assert.ok(seen.true > 200 && seen.false > 200, `matched ${seen.true}, missed ${seen.false}`);
  });

  it("a label set built to satisfy the requirements is matched exactly when the oracle says so", () => {
    const withPick = fc.tuple(validSelector, fc.nat());
    let satisfied = 0;
    fc.assert(
      fc.property(withPick, ([{ reqs, text }, seed]) => {
        const labels = satisfying(reqs, (xs) => xs[seed % xs.length] as string);
        const want = oracleMatches(reqs, labels);
        if (want) satisfied++;
        assert.equal(parseLabelSelector(text).matches(labels), want);
      }),
      { numRuns: RUNS },
    );
    assert.ok(satisfied > RUNS / 4, `only ${satisfied} satisfied`);
  });
});
