/**
 * Kubernetes label selectors: the string grammar of `?labelSelector=` (k8s.io/apimachinery/pkg/labels), the
 * metav1.LabelSelector object form, and a matcher meant to run once per watch event.
 *
 * Grammar, as kube-apiserver parses it:
 *
 *   selector    ::= "" | requirement ("," requirement)*
 *   requirement ::= "!" KEY | KEY | KEY ("=" | "==" | "!=" | ">" | "<") [VALUE]
 *                 | KEY ("in" | "notin") "(" [VALUE] ("," [VALUE])* ")"
 *
 * Blanks (space, tab, CR, LF) may stand between any two tokens and are needed only between words
 * (`x in(a)` is fine, `xin(a)` is not). The symbols `= ! ( ) , < >` and blanks end a word; `==` and `!=` are
 * the only two-character symbols. `in` and `notin` are operators only right after a key: elsewhere they
 * are ordinary keys and values (`in in (in)` is valid). A missing value is the empty value: `x=`, `x in ()`
 * and `x in (a,)` select on "". `>` and `<` compare as signed 64-bit integers; their value must be a valid
 * label value too, so it cannot be negative. Requirements are ANDed and come out sorted by key (stably).
 */
import { quote, SelectorError } from "./errors.ts";

export { SelectorError } from "./errors.ts";

/**
 * A requirement's operator, spelled as kube's `selection.Operator`. `==` is the same test as `=` and is
 * folded into it, so consumers need to handle only one equality operator.
 */
export type LabelOperator = "=" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";

export interface LabelRequirement {
  readonly key: string;
  readonly operator: LabelOperator;
  /** Sorted and without duplicates; empty for `exists` and `!`, exactly one for `=`, `!=`, `gt`, `lt`. */
  readonly values: readonly string[];
}

export type Labels = Readonly<Record<string, string>>;

export interface LabelSelector {
  /** ANDed, sorted by key; empty for a selector that matches everything. */
  readonly requirements: readonly LabelRequirement[];
  /** Whether an object with these labels is selected; `undefined` labels are no labels. */
  matches(labels: Labels | undefined): boolean;
  /** True when the selector selects everything (it has no requirements). */
  isEmpty(): boolean;
  /** Canonical text that kube-apiserver accepts and that parses back to the same selector. */
  toString(): string;
}

/** A requirement to build a selector from; `==` is accepted and means `=`. */
export interface LabelRequirementInput {
  readonly key: string;
  readonly operator: LabelOperator | "==";
  readonly values?: readonly string[] | null | undefined;
}

/** metav1.LabelSelector, as found in the specs of Deployments, NetworkPolicies, ... */
export interface LabelSelectorObject {
  readonly matchLabels?: Readonly<Record<string, string>> | null | undefined;
  readonly matchExpressions?: readonly LabelSelectorExpression[] | null | undefined;
}

export interface LabelSelectorExpression {
  readonly key: string;
  readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  readonly values?: readonly string[] | null | undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Validation of keys and values (content.IsLabelKey and validation.IsValidLabelValue).

const NAME_MAX = 63;
const PREFIX_MAX = 253;
const VALUE_MAX = 63;
/** A label name or non-empty label value: alphanumeric at both ends, `-`, `_`, `.` inside. */
const NAME_RE = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** A lowercase RFC 1123 subdomain. */
const SUBDOMAIN_RE = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;
const NAME_RULE =
  "consist of alphanumeric characters, '-', '_' or '.', and start and end with an alphanumeric character";

function keyProblem(key: string): string | undefined {
  const problems: string[] = [];
  let name = key;
  const slash = key.indexOf("/");
  if (slash !== -1) {
    if (key.indexOf("/", slash + 1) !== -1) {
      return `key ${quote(key)} is invalid: it may contain at most one '/', between an optional DNS subdomain prefix and the name (e.g. 'example.com/my-name')`;
    }
    const prefix = key.slice(0, slash);
    name = key.slice(slash + 1);
    if (prefix === "") problems.push("the prefix before '/' must not be empty");
    else if (prefix.length > PREFIX_MAX) {
      problems.push(`the prefix must be no more than ${PREFIX_MAX} characters (it has ${prefix.length})`);
    } else if (!SUBDOMAIN_RE.test(prefix)) {
      problems.push(
        "the prefix must be a lowercase DNS subdomain: lowercase alphanumeric characters, '-' or '.', starting and ending with an alphanumeric character (e.g. 'example.com')",
      );
    }
  }
  if (name === "")
    problems.push(slash === -1 ? "it must not be empty" : "the name after '/' must not be empty");
  else if (name.length > NAME_MAX) {
    problems.push(`the name must be no more than ${NAME_MAX} characters (it has ${name.length})`);
  } else if (!NAME_RE.test(name))
    problems.push(`the name must ${NAME_RULE} (e.g. 'MyName', 'my.name', '123-abc')`);
  return problems.length === 0 ? undefined : `key ${quote(key)} is invalid: ${problems.join("; ")}`;
}

function valueProblem(value: string): string | undefined {
  if (value.length > VALUE_MAX) {
    return `value ${quote(value)} is invalid: it must be no more than ${VALUE_MAX} characters (it has ${value.length})`;
  }
  if (value !== "" && !NAME_RE.test(value)) {
    const hint = /^-\d+$/.test(value) ? " (negative numbers cannot be used in a label selector)" : "";
    return `value ${quote(value)} is invalid: it must be empty or ${NAME_RULE}${hint}`;
  }
  return undefined;
}

/** Whether `text` is a valid label key (optional DNS subdomain prefix and '/', then a name of ≤63 characters). */
export function isValidLabelKey(text: string): boolean {
  return keyProblem(text) === undefined;
}

/** Whether `text` is a valid label value (empty, or ≤63 alphanumeric characters with `-_.` inside). */
export function isValidLabelValue(text: string): boolean {
  return valueProblem(text) === undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Integers as Go's strconv.ParseInt(s, 10, 64) reads them: an optional sign, then ASCII digits only.

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Numbers of up to 15 digits come back as exact doubles, longer ones as bigints (they compare mixed). */
function parseInt64(text: string): number | bigint | undefined {
  const n = text.length;
  let i = 0;
  const first = text.charCodeAt(0);
  if (first === 0x2b /* + */ || first === 0x2d /* - */) i = 1;
  if (i >= n) return undefined;
  for (let j = i; j < n; j++) {
    const c = text.charCodeAt(j);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  if (n - i <= 15) return Number(text);
  const big = BigInt(text);
  return big < INT64_MIN || big > INT64_MAX ? undefined : big;
}

// ---------------------------------------------------------------------------------------------------------
// Requirements and the compiled selector.

/** How an operator reads in the input it came from, for error messages. */
type Spelling = (op: LabelOperator) => string;
const stringSpelling: Spelling = (op) =>
  op === "exists" ? "exists" : op === "gt" ? ">" : op === "lt" ? "<" : op;

/** Checks a requirement as kube's labels.NewRequirement does; returns every problem, or undefined. */
function requirementProblem(
  key: string,
  operator: LabelOperator,
  values: readonly string[],
  spell: Spelling,
): string | undefined {
  const problems: string[] = [];
  const k = keyProblem(key);
  if (k !== undefined) problems.push(k);
  const op = `'${spell(operator)}'`;
  switch (operator) {
    case "in":
    case "notin":
      if (values.length === 0) problems.push(`${op} needs at least one value`);
      break;
    case "=":
    case "!=":
      if (values.length !== 1) problems.push(`${op} needs exactly one value (got ${values.length})`);
      break;
    case "exists":
    case "!":
      if (values.length !== 0) problems.push(`${op} takes no values (got ${values.length})`);
      break;
    case "gt":
    case "lt":
      if (values.length !== 1) problems.push(`${op} needs exactly one value (got ${values.length})`);
      for (const v of values) {
        if (parseInt64(v) === undefined) {
          problems.push(
            `${op} compares integers, but value ${quote(v)} is not a signed 64-bit decimal integer`,
          );
        }
      }
      break;
    default:
      problems.push(`unknown operator ${quote(String(operator))}`);
  }
  for (const v of values) {
    const p = valueProblem(v);
    if (p !== undefined) problems.push(p);
  }
  return problems.length === 0 ? undefined : problems.join("; ");
}

function normalizedValues(values: readonly string[]): readonly string[] {
  if (values.length <= 1) return Object.freeze(values.slice());
  return Object.freeze([...new Set(values)].sort());
}

function makeRequirement(key: string, operator: LabelOperator, values: readonly string[]): LabelRequirement {
  return Object.freeze({ key, operator, values: normalizedValues(values) });
}

const EQ = 0;
const NEQ = 1;
const IN = 2;
const NOTIN = 3;
const EXISTS = 4;
const ABSENT = 5;
const GT = 6;
const LT = 7;
const CODES: Record<LabelOperator, number> = {
  "=": EQ,
  "!=": NEQ,
  in: IN,
  notin: NOTIN,
  exists: EXISTS,
  "!": ABSENT,
  gt: GT,
  lt: LT,
};
/** Above this many values, `in`/`notin` look values up in a Set rather than scanning the list. */
const SET_THRESHOLD = 8;

/** One requirement, laid out for matching: every matcher has the same shape, so the loop stays monomorphic. */
class Matcher {
  readonly key: string;
  readonly code: number;
  readonly value: string;
  readonly list: readonly string[];
  readonly set: ReadonlySet<string> | undefined;
  readonly bound: number | bigint;

  constructor(r: LabelRequirement) {
    this.key = r.key;
    this.code = CODES[r.operator];
    this.value = r.values[0] ?? "";
    this.list = r.values;
    this.set = r.values.length > SET_THRESHOLD ? new Set(r.values) : undefined;
    this.bound = this.code === GT || this.code === LT ? (parseInt64(this.value) ?? 0) : 0;
  }

  test(labels: Labels | undefined): boolean {
    let v: string | undefined;
    if (labels != null) {
      const found = labels[this.key];
      // Own string properties only: "constructor" is a valid label key.
      if (typeof found === "string" && Object.hasOwn(labels, this.key)) v = found;
    }
    switch (this.code) {
      case EQ:
        return v === this.value;
      case NEQ:
        return v !== this.value;
      case IN:
        return v !== undefined && this.has(v);
      case NOTIN:
        return v === undefined || !this.has(v);
      case EXISTS:
        return v !== undefined;
      case ABSENT:
        return v === undefined;
      case GT: {
        if (v === undefined) return false;
        const n = parseInt64(v);
        return n !== undefined && n > this.bound;
      }
      case LT: {
        if (v === undefined) return false;
        const n = parseInt64(v);
        return n !== undefined && n < this.bound;
      }
      default:
        return false;
    }
  }

  private has(v: string): boolean {
    return this.set === undefined ? this.list.includes(v) : this.set.has(v);
  }
}

function renderRequirement(r: LabelRequirement): string {
  switch (r.operator) {
    case "exists":
      return r.key;
    case "!":
      return `!${r.key}`;
    case "in":
    case "notin":
      return `${r.key} ${r.operator} (${r.values.join(",")})`;
    case "gt":
      return `${r.key}>${r.values[0] ?? ""}`;
    case "lt":
      return `${r.key}<${r.values[0] ?? ""}`;
    default:
      return `${r.key}${r.operator}${r.values[0] ?? ""}`;
  }
}

function sameRequirement(a: LabelRequirement, b: LabelRequirement): boolean {
  if (a.key !== b.key || a.operator !== b.operator || a.values.length !== b.values.length) return false;
  for (let i = 0; i < a.values.length; i++) if (a.values[i] !== b.values[i]) return false;
  return true;
}

const byKey = (a: LabelRequirement, b: LabelRequirement) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

class CompiledLabelSelector implements LabelSelector {
  readonly requirements: readonly LabelRequirement[];
  readonly #matchers: readonly Matcher[];
  #text: string | undefined;

  /** Takes validated, normalized requirements; sorts them by key (stably) and drops exact repeats. */
  constructor(requirements: readonly LabelRequirement[]) {
    const sorted = requirements.slice().sort(byKey);
    const kept: LabelRequirement[] = [];
    for (const r of sorted) {
      let repeat = false;
      for (let i = kept.length - 1; i >= 0; i--) {
        const k = kept[i] as LabelRequirement;
        if (k.key !== r.key) break;
        if (sameRequirement(k, r)) {
          repeat = true;
          break;
        }
      }
      if (!repeat) kept.push(r);
    }
    this.requirements = Object.freeze(kept);
    this.#matchers = Object.freeze(kept.map((r) => new Matcher(r)));
  }

  matches(labels: Labels | undefined): boolean {
    for (const m of this.#matchers) if (!m.test(labels)) return false;
    return true;
  }

  isEmpty(): boolean {
    return this.requirements.length === 0;
  }

  toString(): string {
    this.#text ??= this.requirements.map(renderRequirement).join(",");
    return this.#text;
  }
}

/** The selector that selects everything (the empty string, or an empty metav1.LabelSelector). */
export const everythingLabelSelector: LabelSelector = Object.freeze(new CompiledLabelSelector([]));

/**
 * The label key used to spell "matches nothing". The label selector grammar has no literal for it, so the
 * nothing-selector is `k,!k` for this key: unsatisfiable whatever an object's labels, and accepted by
 * kube-apiserver, so pushing `toString()` upstream fails closed (an empty result) rather than open.
 */
export const NOTHING_KEY = "kubegate.io/nothing";

/** The selector that selects nothing: what a null/absent metav1.LabelSelector means. */
export const nothingLabelSelector: LabelSelector = Object.freeze(
  new CompiledLabelSelector([
    makeRequirement(NOTHING_KEY, "exists", []),
    makeRequirement(NOTHING_KEY, "!", []),
  ]),
);

// ---------------------------------------------------------------------------------------------------------
// The string grammar: a lexer that never fails (as kube's), then a recursive-descent parser.

type TokenKind = "end" | "word" | "in" | "notin" | "(" | ")" | "," | "!" | "=" | "==" | "!=" | ">" | "<";

interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

const isBlank = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
/** `= ! ( ) , > <` */
const isSymbol = (c: number) =>
  c === 0x3d || c === 0x21 || c === 0x28 || c === 0x29 || c === 0x2c || c === 0x3e || c === 0x3c;

function lex(text: string): Token[] {
  const tokens: Token[] = [];
  const n = text.length;
  let i = 0;
  for (;;) {
    while (i < n && isBlank(text.charCodeAt(i))) i++;
    if (i >= n) {
      tokens.push({ kind: "end", text: "", start: n, end: n });
      return tokens;
    }
    const c = text.charCodeAt(i);
    if (isSymbol(c)) {
      // Only "==" and "!=" are two characters long: "<=" is "<" then "=", "===" is "==" then "=".
      const len = (c === 0x3d || c === 0x21) && text.charCodeAt(i + 1) === 0x3d ? 2 : 1;
      const sym = text.slice(i, i + len) as TokenKind;
      tokens.push({ kind: sym, text: sym, start: i, end: i + len });
      i += len;
      continue;
    }
    let j = i + 1;
    while (j < n && !isBlank(text.charCodeAt(j)) && !isSymbol(text.charCodeAt(j))) j++;
    const word = text.slice(i, j);
    tokens.push({
      kind: word === "in" ? "in" : word === "notin" ? "notin" : "word",
      text: word,
      start: i,
      end: j,
    });
    i = j;
  }
}

const describe = (t: Token) => (t.kind === "end" ? "end of selector" : `'${t.text}'`);

class LabelParser {
  readonly #text: string;
  readonly #tokens: Token[];
  #pos = 0;
  #index = 0;
  #start = 0;

  constructor(text: string) {
    this.#text = text;
    this.#tokens = lex(text);
  }

  parse(): LabelRequirement[] {
    const out: LabelRequirement[] = [];
    if (this.#peek().kind === "end") return out;
    for (;;) {
      out.push(this.#requirement());
      const t = this.#next();
      if (t.kind === "end") return out;
      if (t.kind !== ",") {
        this.#fail(`expected ',' or end of selector after the requirement, found ${describe(t)}`, t);
      }
    }
  }

  /** The token at the cursor. `in`/`notin` are words everywhere but in operator position. */
  #peek(): Token {
    return this.#tokens[this.#pos] as Token;
  }

  #next(): Token {
    const t = this.#peek();
    if (t.kind !== "end") this.#pos++;
    return t;
  }

  #isWord(t: Token): boolean {
    return t.kind === "word" || t.kind === "in" || t.kind === "notin";
  }

  #requirement(): LabelRequirement {
    this.#index++;
    this.#start = this.#peek().start;
    let t = this.#next();
    const negated = t.kind === "!";
    if (negated) t = this.#next();
    if (!this.#isWord(t)) {
      this.#fail(`expected a label key${negated ? " after '!'" : " or '!key'"}, found ${describe(t)}`, t);
    }
    const key = t.text;
    const keyBad = keyProblem(key);
    if (keyBad !== undefined) this.#fail(keyBad, t);

    const after = this.#peek();
    if (after.kind === "end" || after.kind === ",") {
      return makeRequirement(key, negated ? "!" : "exists", []);
    }
    if (negated) {
      this.#fail(
        `'!${key}' only tests that the label is absent and takes no operator, found ${describe(after)}`,
        after,
      );
    }

    const opToken = this.#next();
    let operator: LabelOperator;
    let values: string[];
    switch (opToken.kind) {
      case "in":
      case "notin":
        operator = opToken.kind;
        values = this.#valueList(opToken);
        break;
      case "=":
      case "==":
        operator = "=";
        values = [this.#exactValue(opToken)];
        break;
      case "!=":
        operator = "!=";
        values = [this.#exactValue(opToken)];
        break;
      case ">":
        operator = "gt";
        values = [this.#exactValue(opToken)];
        break;
      case "<":
        operator = "lt";
        values = [this.#exactValue(opToken)];
        break;
      default:
        return this.#fail(
          `expected an operator (=, ==, !=, in, notin, >, <), ',' or end of selector after key '${key}', found ${describe(opToken)}`,
          opToken,
        );
    }
    const bad = requirementProblem(key, operator, values, stringSpelling);
    if (bad !== undefined) this.#fail(bad, this.#tokens[this.#pos - 1] as Token);
    return makeRequirement(key, operator, values);
  }

  /** The value after `=`, `==`, `!=`, `>` or `<`; none at all (`x=`, `x=,y`) is the empty value. */
  #exactValue(op: Token): string {
    const t = this.#peek();
    if (t.kind === "end" || t.kind === ",") return "";
    this.#next();
    if (!this.#isWord(t)) this.#fail(`expected a value after '${op.text}', found ${describe(t)}`, t);
    return t.text;
  }

  /** `( [v] (, [v])* )`: an omitted value between commas or parentheses is the empty value. */
  #valueList(op: Token): string[] {
    const open = this.#next();
    if (open.kind !== "(") {
      this.#fail(`expected '(' after '${op.text}', found ${describe(open)} (write '${op.text} (a,b)')`, open);
    }
    const values: string[] = [];
    let filled = false;
    for (;;) {
      const t = this.#next();
      if (this.#isWord(t)) {
        if (filled) this.#fail(`expected ',' or ')' between values, found ${describe(t)}`, t);
        values.push(t.text);
        filled = true;
      } else if (t.kind === "," || t.kind === ")") {
        if (!filled) values.push("");
        if (t.kind === ")") return values;
        filled = false;
      } else {
        this.#fail(`expected a value, ',' or ')' in the list after '${op.text}', found ${describe(t)}`, t);
      }
    }
  }

  #fail(reason: string, at: Token): never {
    const shown = this.#text.slice(this.#start, Math.max(at.end, this.#start)).trim();
    // The requirement's text, unless it is all there is.
    const echo = shown !== "" && shown !== this.#text.trim();
    const which = `requirement ${this.#index}${echo ? ` ${quote(shown)}` : ""}`;
    throw new SelectorError(`invalid label selector ${quote(this.#text)}: ${which}: ${reason}`);
  }
}

/**
 * Parses the `labelSelector` query parameter as kube-apiserver does, rejecting what it rejects with a
 * SelectorError. The empty (or blank) string selects everything.
 */
export function parseLabelSelector(text: string): LabelSelector {
  if (typeof text !== "string") throw new SelectorError("invalid label selector: not a string");
  // kube's lexer reads a NUL byte as the end of input and silently drops what follows; refuse it instead.
  if (text.includes("\0"))
    throw new SelectorError(`invalid label selector ${quote(text)}: contains a NUL character`);
  const requirements = new LabelParser(text).parse();
  return requirements.length === 0 ? everythingLabelSelector : new CompiledLabelSelector(requirements);
}

/** Builds a selector from requirements, validating each as kube's labels.NewRequirement does. */
export function fromLabelRequirements(requirements: Iterable<LabelRequirementInput>): LabelSelector {
  const out: LabelRequirement[] = [];
  let i = 0;
  for (const r of requirements) {
    const operator: LabelOperator = r.operator === "==" ? "=" : r.operator;
    const values = r.values ?? [];
    const bad = requirementProblem(r.key, operator, values, stringSpelling);
    if (bad !== undefined) throw new SelectorError(`invalid label selector: requirement ${i + 1}: ${bad}`);
    out.push(makeRequirement(r.key, operator, values));
    i++;
  }
  return out.length === 0 ? everythingLabelSelector : new CompiledLabelSelector(out);
}

const OBJECT_OPERATORS: Record<string, LabelOperator> = {
  In: "in",
  NotIn: "notin",
  Exists: "exists",
  DoesNotExist: "!",
};
const objectSpelling: Spelling = (op) =>
  op === "in"
    ? "In"
    : op === "notin"
      ? "NotIn"
      : op === "exists"
        ? "Exists"
        : op === "!"
          ? "DoesNotExist"
          : op;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Converts a metav1.LabelSelector as kube's `metav1.LabelSelectorAsSelector` does:
 * - `null`/`undefined` selects NOTHING (an absent selector on e.g. a PodDisruptionBudget selects no pods);
 *   the result is `nothingLabelSelector`;
 * - an object without matchLabels and matchExpressions (or with both empty) selects EVERYTHING;
 * - matchLabels entries become `key=value`; `In`/`NotIn` need at least one value, `Exists`/`DoesNotExist`
 *   must have none; keys and values are validated like in the string form.
 * Malformed JSON shapes are rejected with a SelectorError too, as decoding would.
 */
export function fromLabelSelectorObject(sel: LabelSelectorObject | null | undefined): LabelSelector {
  if (sel === null || sel === undefined) return nothingLabelSelector;
  function fail(where: string, problem: string): never {
    throw new SelectorError(`invalid label selector: ${where}: ${problem}`);
  }
  if (!isRecord(sel)) fail("selector", "must be an object with matchLabels and/or matchExpressions");
  const out: LabelRequirement[] = [];

  const matchLabels: unknown = sel.matchLabels;
  if (matchLabels !== undefined && matchLabels !== null) {
    if (!isRecord(matchLabels)) fail("matchLabels", "must be an object mapping label keys to values");
    for (const [key, value] of Object.entries(matchLabels as Record<string, unknown>)) {
      const where = `matchLabels[${quote(key)}]`;
      if (typeof value !== "string") fail(where, "the value must be a string");
      const bad = requirementProblem(key, "=", [value as string], stringSpelling);
      if (bad !== undefined) fail(where, bad);
      out.push(makeRequirement(key, "=", [value as string]));
    }
  }

  const expressions: unknown = sel.matchExpressions;
  if (expressions !== undefined && expressions !== null) {
    if (!Array.isArray(expressions)) fail("matchExpressions", "must be a list");
    for (const [i, expr] of (expressions as unknown[]).entries()) {
      let where = `matchExpressions[${i}]`;
      if (!isRecord(expr)) fail(where, "must be an object with key, operator and values");
      const { key, operator: op, values: rawValues } = expr as Record<string, unknown>;
      where += ` (key ${quote(String(key))}, operator ${quote(String(op))})`;
      if (typeof key !== "string") fail(where, "key must be a string");
      const operator =
        typeof op === "string" && Object.hasOwn(OBJECT_OPERATORS, op) ? OBJECT_OPERATORS[op] : undefined;
      if (operator === undefined) {
        fail(
          where,
          `${quote(String(op))} is not a valid label selector operator (In, NotIn, Exists, DoesNotExist)`,
        );
      }
      const values: unknown = rawValues ?? [];
      if (!Array.isArray(values) || values.some((v) => typeof v !== "string")) {
        fail(where, "values must be a list of strings");
      }
      const bad = requirementProblem(key as string, operator, values as string[], objectSpelling);
      if (bad !== undefined) fail(where, bad);
      out.push(makeRequirement(key as string, operator, values as string[]));
    }
  }

  return out.length === 0 ? everythingLabelSelector : new CompiledLabelSelector(out);
}

/**
 * The selector that matches exactly the objects both `a` and `b` match: the union of their requirements
 * (sorted by key, exact repeats dropped). Intersecting with nothing gives nothing; with everything, the other.
 */
export function intersect(a: LabelSelector, b: LabelSelector): LabelSelector {
  if (b.isEmpty()) return a;
  if (a.isEmpty()) return b;
  return fromLabelRequirements([...a.requirements, ...b.requirements]);
}
