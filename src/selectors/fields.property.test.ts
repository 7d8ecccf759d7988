// Property-based tests of the field selector parser (issue #10, fuzzing). The oracle below is written from
// the Kubernetes rules (k8s.io/apimachinery/pkg/fields/selector.go), never from the parser's own matcher.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parserProperties } from "../../test/support/selector-properties.ts";
import {
  escapeFieldValue,
  type Fields,
  fromFieldRequirements,
  parseFieldSelector,
  SelectorError,
  unescapeFieldValue,
} from "./fields.ts";

const RUNS = 1000;

/**
 * Any UTF-16 code point, lone surrogates included (fast-check's "binary" unit costs a second to build).
 * Biased to ASCII, where the grammar's symbols are.
 */
const anyChar = fc
  .oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0x10ffff }))
  .map((cp) => String.fromCodePoint(cp));

type Op = "=" | "==" | "!=";
interface Req {
  field: string;
  op: Op;
  value: string;
}

const FIELD_POOL = [
  "metadata.name",
  "metadata.namespace",
  "spec.nodeName",
  "status.phase",
  "constructor",
  "",
];
/** A field as kube reads it: anything up to the operator, so no '=', ',' or '\', and no trailing '!'. */
const randomField = fc
  .string({ unit: fc.constantFrom(..."abcXYZ.-_!  ü함/"), maxLength: 12 })
  .filter((f) => !f.endsWith("!"));
const fieldName = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...FIELD_POOL) }, randomField);

const VALUE_POOL = ["", "a", "b", "Running", "a,b", "a=b", "\\", "=", ",", "x\\,y", "!"];
/** Values are anything: the text escapes `\`, `,` and `=`. */
const fieldValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...VALUE_POOL) },
  fc.string({ unit: fc.constantFrom(..."ab=,\\! ü"), maxLength: 8 }),
  fc.string({ unit: anyChar, maxLength: 8 }),
);

const requirement: fc.Arbitrary<Req> = fc.record({
  field: fieldName,
  op: fc.constantFrom<Op>("=", "==", "!="),
  value: fieldValue,
});

/** kube's fields.EscapeValue, written afresh. */
const escapeValue = (v: string) => v.replace(/[\\,=]/g, (c) => `\\${c}`);

/** A valid selector: requirements and their text, with empty terms sprinkled between. */
const validSelector = fc
  .tuple(fc.array(requirement, { maxLength: 6 }), fc.array(fc.nat(2), { minLength: 8, maxLength: 8 }))
  .map(([reqs, empties]) => {
    const terms: string[] = [];
    reqs.forEach((r, i) => {
      for (let k = 0; k < (empties[i % empties.length] as number) - 1; k++) terms.push("");
      terms.push(`${r.field}${r.op}${escapeValue(r.value)}`);
    });
    if ((empties[7] as number) === 2) terms.push("");
    return { reqs, text: terms.join(",") };
  });

/** Requirements kube holds: `==` is `=`, terms with neither field nor value dropped, sorted by text, unique. */
function oracleRequirements(reqs: readonly Req[]) {
  const byText = new Map<string, { field: string; operator: "=" | "!="; value: string }>();
  for (const r of reqs) {
    if (r.field === "" && r.value === "") continue;
    const operator = r.op === "!=" ? "!=" : "=";
    byText.set(`${r.field}${operator}${escapeValue(r.value)}`, { field: r.field, operator, value: r.value });
  }
  return [...byText.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
}

/** An absent field reads as "". */
function oracleMatches(reqs: readonly Req[], fields: Fields | undefined): boolean {
  return reqs.every((r) => {
    if (r.field === "" && r.value === "") return true;
    const v = fields !== undefined && Object.hasOwn(fields, r.field) ? (fields[r.field] as string) : "";
    return r.op === "!=" ? v !== r.value : v === r.value;
  });
}

const fieldSetFor = (reqs: readonly Req[]) => {
  const fields = [...new Set([...reqs.map((r) => r.field), ...FIELD_POOL])];
  const values = [...new Set([...reqs.map((r) => r.value), ...VALUE_POOL])];
  return fc.oneof(
    fc.constant(undefined),
    fc
      .array(fc.tuple(fc.constantFrom(...fields), fc.constantFrom(...values)), { maxLength: 6 })
      .map((entries): Fields => Object.fromEntries(entries)),
  );
};

const anyText = fc.oneof(
  fc.string({ unit: anyChar, maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(..."xa=!,\\ .ü"), maxLength: 30 }),
  fc
    .tuple(validSelector, fc.nat(), fc.string({ unit: anyChar, maxLength: 1 }), fc.nat(2))
    .map(([{ text }, at, ch, del]) => {
      const i = text.length === 0 ? 0 : at % text.length;
      return text.slice(0, i) + ch + text.slice(i + del);
    }),
);

describe("field selectors (property-based)", () => {
  parserProperties("field", parseFieldSelector, anyText);

  it("values: unescapeFieldValue(escapeFieldValue(v)) is v; unescaping arbitrary text throws only a SelectorError", () => {
    fc.assert(
      fc.property(fc.string({ unit: anyChar, maxLength: 20 }), fc.string({ maxLength: 20 }), (v, raw) => {
        assert.equal(escapeFieldValue(v), escapeValue(v));
        assert.equal(unescapeFieldValue(escapeFieldValue(v)), v);
        try {
          const plain = unescapeFieldValue(raw);
          assert.equal(escapeFieldValue(plain), raw, "only canonical escapes are accepted");
        } catch (e) {
          assert.ok(e instanceof SelectorError, String(e));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("valid selectors parse to the requirements kube holds, and print back to themselves", () => {
    fc.assert(
      fc.property(validSelector, ({ reqs, text }) => {
        const s = parseFieldSelector(text);
        const want = oracleRequirements(reqs);
        assert.deepEqual(
          s.requirements.map((r) => ({ ...r })),
          want,
        );
        assert.equal(s.isEmpty(), want.length === 0);
        const printed = s.toString();
        assert.equal(
          printed,
          want.map((r) => `${r.field}${r.operator}${escapeValue(r.value)}`).join(","),
          "canonical text",
        );
        const again = parseFieldSelector(printed);
        assert.equal(again.toString(), printed);
        assert.deepEqual(again.requirements, s.requirements);
        const built = fromFieldRequirements(
          reqs.map((r) => ({ field: r.field, operator: r.op, value: r.value })),
        );
        assert.equal(built.toString(), printed);
      }),
      { numRuns: RUNS },
    );
  });

  it("matching agrees with an oracle written from the Kubernetes rules", () => {
    const withFields = validSelector.chain((sel) =>
      fc.tuple(fc.constant(sel), fc.array(fieldSetFor(sel.reqs), { minLength: 1, maxLength: 8 })),
    );
    const seen = { true: 0, false: 0 };
    fc.assert(
      fc.property(withFields, ([{ reqs, text }, fieldSets]) => {
        const s = parseFieldSelector(text);
        const again = parseFieldSelector(s.toString());
        for (const fields of fieldSets) {
          const want = oracleMatches(reqs, fields);
          seen[`${want}`]++;
          assert.equal(s.matches(fields), want, `${JSON.stringify(text)} on ${JSON.stringify(fields)}`);
          assert.equal(again.matches(fields), want, `reparsed ${JSON.stringify(s.toString())}`);
        }
      }),
      { numRuns: RUNS },
    );
    assert.ok(seen.true > 200 && seen.false > 200, `matched ${seen.true}, missed ${seen.false}`);
  });
});
