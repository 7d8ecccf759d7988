/**
 * Kubernetes field selectors: the `fieldSelector` query parameter (k8s.io/apimachinery/pkg/fields).
 *
 * Grammar, as kube-apiserver parses it:
 *
 *   selector ::= term ("," term)*          terms split at commas not escaped by a backslash
 *   term     ::= "" | FIELD ("=" | "==" | "!=") VALUE
 *
 * The operator is the first `!=`, `==` or `=` in the term: the field name has no escaping and cannot
 * contain `=`. In the value, `\\`, `\,` and `\=` stand for `\`, `,` and `=`; any other backslash sequence,
 * a lone trailing backslash and a bare `=` are errors. Empty terms (`a=b,,c=d`, a trailing comma) are
 * skipped, and so is a term with neither field nor value (`=`, `!=`). Nothing is trimmed: blanks belong to
 * the field or value (kube-apiserver then rejects `metadata.name ` as an unsupported field). A field that
 * an object does not have reads as the empty string, so `spec.nodeName=` selects unscheduled pods and
 * `x!=v` matches objects without `x`.
 */
import { quote, SelectorError } from "./errors.ts";

export { SelectorError } from "./errors.ts";

/** `==` means `=` and is folded into it (kube's selection.Equals / selection.NotEquals). */
export type FieldOperator = "=" | "!=";

export interface FieldRequirement {
  readonly field: string;
  readonly operator: FieldOperator;
  /** Unescaped. */
  readonly value: string;
}

export type Fields = Readonly<Record<string, string>>;

export interface FieldSelector {
  /** ANDed, in canonical order; empty for a selector that matches everything. */
  readonly requirements: readonly FieldRequirement[];
  /** Whether an object with these field values is selected; an absent field reads as "". */
  matches(fields: Fields | undefined): boolean;
  /** True when the selector selects everything (it has no requirements). */
  isEmpty(): boolean;
  /** Canonical text, values escaped, that kube-apiserver accepts and that parses back to the same selector. */
  toString(): string;
}

/** Escapes `\`, `,` and `=` in a field selector value (kube's fields.EscapeValue). */
export function escapeFieldValue(value: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x5c /* \ */ || c === 0x2c /* , */ || c === 0x3d /* = */) {
      out += `${value.slice(from, i)}\\${value[i]}`;
      from = i + 1;
    }
  }
  return from === 0 ? value : out + value.slice(from);
}

/** Why an escaped value is invalid, or its unescaped form. */
function unescapeValue(raw: string): { value: string } | { problem: string } {
  if (!/[\\,=]/.test(raw)) return { value: raw };
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (c === "\\") {
      const next = raw[i + 1];
      if (next === undefined) return { problem: `value ${quote(raw)} ends with a lone '\\' (write '\\\\')` };
      if (next !== "\\" && next !== "," && next !== "=") {
        return {
          problem: `value ${quote(raw)} has the invalid escape sequence '\\${next}' (only '\\\\', '\\,' and '\\=' are allowed)`,
        };
      }
      out += next;
      i++;
    } else if (c === "=" || c === ",") {
      return { problem: `value ${quote(raw)} has an unescaped '${c}' (write '\\${c}')` };
    } else {
      out += c;
    }
  }
  return { value: out };
}

/** Undoes escapeFieldValue; throws a SelectorError on sequences kube rejects. */
export function unescapeFieldValue(raw: string): string {
  const r = unescapeValue(raw);
  if ("problem" in r) throw new SelectorError(`invalid field selector value: ${r.problem}`);
  return r.value;
}

/** Splits at commas that are not escaped; escapes stay in the terms. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c /* \ */) i++;
    else if (c === 0x2c /* , */) {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms;
}

const render = (r: FieldRequirement) => `${r.field}${r.operator}${escapeFieldValue(r.value)}`;

class CompiledFieldSelector implements FieldSelector {
  readonly requirements: readonly FieldRequirement[];
  readonly #text: string;

  /** Sorts by canonical text (as kube sorts the terms) and drops exact repeats. */
  constructor(requirements: readonly FieldRequirement[]) {
    const rendered = requirements.map((r) => ({ r, text: render(r) }));
    rendered.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
    const kept = rendered.filter((x, i) => i === 0 || rendered[i - 1]?.text !== x.text);
    this.requirements = Object.freeze(kept.map((x) => x.r));
    this.#text = kept.map((x) => x.text).join(",");
  }

  matches(fields: Fields | undefined): boolean {
    for (const r of this.requirements) {
      let v = "";
      if (fields != null) {
        const found = fields[r.field];
        if (typeof found === "string" && Object.hasOwn(fields, r.field)) v = found;
      }
      if ((v === r.value) !== (r.operator === "=")) return false;
    }
    return true;
  }

  isEmpty(): boolean {
    return this.requirements.length === 0;
  }

  toString(): string {
    return this.#text;
  }
}

/** The selector that selects everything (the empty string). */
export const everythingFieldSelector: FieldSelector = Object.freeze(new CompiledFieldSelector([]));

/** Parses the `fieldSelector` query parameter as kube-apiserver does, rejecting what it rejects. */
export function parseFieldSelector(text: string): FieldSelector {
  if (typeof text !== "string") throw new SelectorError("invalid field selector: not a string");
  const out: FieldRequirement[] = [];
  for (const term of splitTerms(text)) {
    if (term === "") continue;
    const fail = (problem: string): never => {
      throw new SelectorError(`invalid field selector ${quote(text)}: term ${quote(term)}: ${problem}`);
    };
    // The first "!=", "==" or "=" splits the term; "==" is tried before "=" so the value keeps no '='.
    let at = -1;
    let len = 0;
    let operator: FieldOperator = "=";
    for (let i = 0; i < term.length; i++) {
      const c = term.charCodeAt(i);
      if (c === 0x21 /* ! */ && term.charCodeAt(i + 1) === 0x3d) {
        [at, len, operator] = [i, 2, "!="];
        break;
      }
      if (c === 0x3d /* = */) {
        [at, len] = [i, term.charCodeAt(i + 1) === 0x3d ? 2 : 1];
        break;
      }
    }
    if (at === -1) fail("expected field=value, field==value or field!=value");
    const field = term.slice(0, at);
    const value = unescapeValue(term.slice(at + len));
    if ("problem" in value) return fail(value.problem);
    // kube drops a term that has neither field nor value ("=" or "!=") instead of rejecting it.
    if (field === "" && value.value === "") continue;
    out.push(Object.freeze({ field, operator, value: value.value }));
  }
  return out.length === 0 ? everythingFieldSelector : new CompiledFieldSelector(out);
}

/** Builds a selector from requirements (values unescaped); `==` is accepted and means `=`. */
export function fromFieldRequirements(
  requirements: Iterable<{
    readonly field: string;
    readonly operator: FieldOperator | "==";
    readonly value: string;
  }>,
): FieldSelector {
  const out: FieldRequirement[] = [];
  for (const { field, operator, value } of requirements) {
    const where = `invalid field selector: requirement on field ${quote(String(field))}`;
    if (typeof field !== "string" || typeof value !== "string")
      throw new SelectorError(`${where}: not a string`);
    if (operator !== "=" && operator !== "==" && operator !== "!=") {
      throw new SelectorError(`${where}: operator ${quote(String(operator))} is not one of =, ==, !=`);
    }
    // The field is written as is, never escaped: it must not contain what would split the term elsewhere.
    if (/[=,\\]|!$/.test(field)) {
      throw new SelectorError(`${where}: a field name cannot contain '=', ',' or '\\', nor end with '!'`);
    }
    if (field === "" && value === "") continue;
    out.push(Object.freeze({ field, operator: operator === "==" ? "=" : operator, value }));
  }
  return out.length === 0 ? everythingFieldSelector : new CompiledFieldSelector(out);
}

/** A selector matching what both `a` and `b` match: the union of their requirements. */
export function intersectFields(a: FieldSelector, b: FieldSelector): FieldSelector {
  if (b.isEmpty()) return a;
  if (a.isEmpty()) return b;
  return new CompiledFieldSelector([...a.requirements, ...b.requirements]);
}

/**
 * The value the selector requires `field` to equal (`field=value` or `field==value`), or undefined. Lets a
 * caller turn e.g. `spec.nodeName=X` or `metadata.name=X` into a direct lookup (kube's RequiresExactMatch).
 */
export function exactMatch(selector: FieldSelector, field: string): string | undefined {
  for (const r of selector.requirements) if (r.operator === "=" && r.field === field) return r.value;
  return undefined;
}
