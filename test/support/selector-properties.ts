// The two properties every selector parser (labels, fields) must have, written once for both.
import assert from "node:assert/strict";
import { it } from "node:test";
import fc from "fast-check";
import { SelectorError } from "../../src/selectors/errors.ts";
import { KubegateError } from "../../src/status/errors.ts";

interface Parsed {
  requirements: unknown;
  toString(): string;
}

/**
 * Arbitrary text either parses to a selector that prints and reparses to itself, or is refused with a
 * 400 SelectorError naming the kind of selector; input that is not a string is refused the same way.
 */
export function parserProperties(
  kind: "label" | "field",
  parse: (text: string) => Parsed,
  anyText: fc.Arbitrary<string>,
): void {
  it("arbitrary text either parses to a selector that round-trips or throws only a SelectorError", () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(anyText, (text) => {
        let s: Parsed;
        try {
          s = parse(text);
        } catch (e) {
          assert.ok(e instanceof SelectorError, `${JSON.stringify(text)} threw ${String(e)}`);
          assert.ok(e instanceof KubegateError);
          assert.equal(e.httpCode, 400);
          assert.equal(e.name, "SelectorError");
          assert.match(e.message, new RegExp(`^invalid ${kind} selector`));
          refused++;
          return;
        }
        accepted++;
        const again = parse(s.toString());
        assert.equal(again.toString(), s.toString());
        assert.deepEqual(again.requirements, s.requirements);
      }),
      { numRuns: 2000 },
    );
    assert.ok(accepted > 100 && refused > 100, `accepted ${accepted}, refused ${refused}`);
  });

  it("non-string input throws only a SelectorError", () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        fc.pre(typeof value !== "string");
        assert.throws(() => parse(value as string), SelectorError);
      }),
      { numRuns: 200 },
    );
  });
}
