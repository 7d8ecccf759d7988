// CEL in an AuthenticationConfiguration: the claimMappings expressions (username, groups, uid, extra)
// and the claim and user validation rules, compiled when the file is loaded and evaluated for every
// token the issuer verifies, with kube-apiserver's rules:
// - claim expressions see `claims` (map of string to dyn), user rules see `user` (username, uid,
//   groups, extra), nothing else;
// - username and uid must come out as strings, groups and extra as a string or a list of strings,
//   where "" and [] mean "none"; a validation rule must come out true, or the token is refused with
//   the rule's message;
// - a JSON number written as an integer that fits int64 is a CEL int, exactly (read from the token's
//   own text, not from a double), anything else a double, as kube's JSON decoding makes them; so
//   `claims.exp - claims.iat < 3600` works, and two large numeric ids stay two users.
//
// The library is @marcbachmann/cel-js: no dependencies, a static type checker (so a rule of the wrong
// type is refused when the file loads, not on the first login) and optional types (`claims.?x`), which
// kube's CEL environment also has. Functions it lacks (kube's url(), quantity(), ip() libraries)
// fail type checking, so such a file is refused naming the expression — never half-evaluated.
//
// Cost: the expressions are the operator's, the input a verified token (at most 64 KiB) whose values
// the user may partly choose (a display name, say). kube-apiserver bounds CEL by estimated cost and
// RE2's linear regular expressions; this library has neither, so: a comprehension inside another
// one's body is refused; `matches` takes only a literal pattern without the constructs JavaScript's
// engine reads differently from RE2 or RE2 refuses (lookaround, backreferences, \p, \A, \z, inline
// flags, POSIX classes); and one token's evaluation runs under a wall-clock budget
// (EVALUATION_BUDGET_MS), enforced by node:vm whatever runs, a backtracking pattern included. The
// caller remembers a refusal like a success, so a costly token costs the budget once.
//
// Claims reach CEL as Maps, not plain objects: the library reads a plain object's type from its
// `constructor` property, which a claim may carry.
import { createContext, Script } from "node:vm";
import { type ASTNode, Environment } from "@marcbachmann/cel-js";
import { TokenRejection, type UserInfo } from "./user.ts";

/** What an expression computes, which decides its variable and the types it may produce. */
export type ExpressionRole = "username" | "uid" | "groups" | "extra" | "claimValidation" | "userValidation";

export interface CompiledExpression {
  readonly source: string;
  readonly ast: ASTNode;
  evaluate(vars: Record<string, unknown>): unknown;
}

/** The compiled CEL of one issuer (absent parts are not configured). */
export interface ClaimExpressions {
  username?: CompiledExpression;
  groups?: CompiledExpression;
  uid?: CompiledExpression;
  extra: { key: string; expression: CompiledExpression }[];
  claimValidation: { expression: CompiledExpression; message: string }[];
  userValidation: { expression: CompiledExpression; message: string }[];
}

const LIMITS = {
  maxAstNodes: 1000,
  maxDepth: 32,
  maxListElements: 256,
  maxMapEntries: 256,
  maxCallArguments: 32,
};
const OPTIONS = { enableOptionalTypes: true, limits: LIMITS };
const claimsEnv = new Environment(OPTIONS).registerVariable("claims", "map<string, dyn>");
const userEnv = new Environment(OPTIONS).registerVariable({
  name: "user",
  schema: { username: "string", uid: "string", groups: "list<string>", extra: "map<string, list<string>>" },
});

const STRINGS = /^(string|dyn)$/;
const STRING_OR_LIST = /^(string|dyn|null|list(<(string|dyn)>)?)$/;
// As in kube-apiserver: a rule's static type must be bool, so a dyn claim is compared (`== true`).
const BOOL = /^bool$/;
const ALLOWED: Record<ExpressionRole, { types: RegExp; want: string }> = {
  username: { types: STRINGS, want: "a string" },
  uid: { types: STRINGS, want: "a string" },
  groups: { types: STRING_OR_LIST, want: "a string or a list of strings" },
  extra: { types: STRING_OR_LIST, want: "a string or a list of strings" },
  claimValidation: { types: BOOL, want: "a bool" },
  userValidation: { types: BOOL, want: "a bool" },
};

const ACCESS: ReadonlySet<string> = new Set([".", ".?", "[]", "[?]"]);
const COMPREHENSIONS = new Set(["all", "exists", "exists_one", "map", "filter"]);

/** Parses and type-checks one expression; throws an Error whose message says what is wrong. */
export function compileExpression(source: string, role: ExpressionRole): CompiledExpression {
  const env = role === "userValidation" ? userEnv : claimsEnv;
  let parsed: ReturnType<typeof env.parse>;
  try {
    parsed = env.parse(source);
  } catch (err) {
    throw new Error(firstLine(err));
  }
  const checked = parsed.check();
  if (!checked.valid) throw new Error(firstLine(checked.error));
  const { types, want } = ALLOWED[role];
  if (!types.test(checked.type ?? "")) {
    const hint = types === BOOL && checked.type === "dyn" ? " (compare a claim: claims.x == true)" : "";
    throw new Error(`must evaluate to ${want}, not ${checked.type}${hint}`);
  }
  if (nestedComprehension(parsed.ast, false))
    throw new Error("a comprehension (all, exists, exists_one, map, filter) inside another is not allowed");
  visit(parsed.ast, (n) => {
    if (n.op !== "rcall" || (n.args as unknown as [string])[0] !== "matches") return;
    const pattern = (n.args as unknown as [string, ASTNode, ASTNode[]])[2][0];
    if (pattern?.op !== "value" || typeof pattern.args !== "string")
      throw new Error("matches() takes a string literal as its pattern");
    const why = patternProblem(pattern.args);
    if (why) throw new Error(`matches('${pattern.args}'): ${why}`);
  });
  return { source, ast: parsed.ast, evaluate: (vars) => parsed(vars) };
}

/** Whether the expression reads `claims.NAME` (or `claims["NAME"]`, `claims.?NAME`). */
export function readsClaim(ast: ASTNode, name: string): boolean {
  let found = false;
  visit(ast, (n) => {
    if (!ACCESS.has(n.op)) return;
    const [target, key] = n.args as unknown as [ASTNode, unknown];
    if (!isNode(target) || target.op !== "id" || target.args !== "claims") return;
    if ((n.op === "." || n.op === ".?") && key === name) found = true;
    if ((n.op === "[]" || n.op === "[?]") && isNode(key) && key.op === "value" && key.args === name)
      found = true;
  });
  return found;
}

/**
 * Why a pattern cannot be evaluated here as RE2 would evaluate it, within bounded time: constructs
 * JavaScript's engine reads differently from RE2 or RE2 refuses (and that let it backtrack).
 */
function patternProblem(pattern: string): string | undefined {
  const unsupported: [RegExp, string][] = [
    [/\(\?[=!]|\(\?<[=!]/, "lookaround"],
    [/\\[1-9]|\\k</, "backreferences"],
    [/\(\?[a-zA-Z<'P]/, "inline flags or named groups"],
    [/\\[pPAzQEC]/, "the escapes \\p, \\P, \\A, \\z, \\Q, \\E and \\C"],
    [/\[:[a-z]+:\]/, "POSIX classes"],
  ];
  for (const [re, what] of unsupported) if (re.test(pattern)) return `${what} are not supported`;
  try {
    new RegExp(pattern);
  } catch (err) {
    return `not a regular expression kubegate can evaluate (${firstLine(err)})`;
  }
  return undefined;
}

function nestedComprehension(node: ASTNode, inBody: boolean): boolean {
  if (node.op === "rcall") {
    const [name, receiver, args] = node.args as unknown as [string, ASTNode, ASTNode[]];
    const isComprehension = COMPREHENSIONS.has(name);
    if (isComprehension && inBody) return true;
    if (nestedComprehension(receiver, inBody)) return true;
    return args.some((a, i) => nestedComprehension(a, inBody || (isComprehension && i > 0)));
  }
  return children(node).some((c) => nestedComprehension(c, inBody));
}

function visit(node: ASTNode, fn: (n: ASTNode) => void): void {
  fn(node);
  for (const c of children(node)) visit(c, fn);
}

function children(node: ASTNode): ASTNode[] {
  const out: ASTNode[] = [];
  const collect = (v: unknown): void => {
    if (isNode(v)) out.push(v);
    else if (Array.isArray(v)) for (const x of v) collect(x);
  };
  if (node.op !== "value" && node.op !== "id") collect(node.args);
  return out;
}

function isNode(v: unknown): v is ASTNode {
  return typeof v === "object" && v !== null && typeof (v as { op?: unknown }).op === "string";
}

function firstLine(err: unknown): string {
  return String((err as Error | undefined)?.message ?? err).split("\n")[0] ?? "";
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A token's claims as CEL sees them, from the payload's JSON text: objects as Maps, a number written
 * as an integer within int64 as a bigint (exactly as written), any other number as a double.
 */
export function celClaims(payloadJson: string): unknown {
  return JSON.parse(payloadJson, (_key, value: unknown, context?: { source?: string }) => {
    if (typeof value === "number") {
      const source = context?.source ?? "";
      if (/^-?\d+$/.test(source)) {
        const n = BigInt(source);
        if (n >= INT64_MIN && n <= INT64_MAX) return n;
      }
      return value;
    }
    if (typeof value === "object" && value !== null && !Array.isArray(value))
      return new Map(Object.entries(value));
    return value;
  });
}

/** Wall-clock time all of one token's expressions may take together. */
export const EVALUATION_BUDGET_MS = 100;

// One context and script for every evaluation: vm's timeout interrupts whatever runs inside, the
// library's code included. Made once, they cost about 0.1 ms an expression.
const sandbox = createContext({ job: undefined as (() => unknown) | undefined });
const runJob = new Script("job()");

function run(e: CompiledExpression, vars: Record<string, unknown>, what: string, deadline: number): unknown {
  const left = Math.max(1, Math.floor(deadline - performance.now()));
  sandbox.job = () => e.evaluate(vars);
  try {
    return runJob.runInContext(sandbox, { timeout: left });
  } catch (err) {
    if ((err as { code?: string }).code === "ERR_SCRIPT_EXECUTION_TIMEOUT")
      throw new TokenRejection(
        `CEL evaluation took longer than ${EVALUATION_BUDGET_MS} ms (at the ${what} expression)`,
      );
    throw new TokenRejection(`${what} expression failed: ${firstLine(err)}`);
  } finally {
    sandbox.job = undefined;
  }
}

function stringOf(e: CompiledExpression, claims: unknown, what: string, deadline: number): string {
  const v = run(e, { claims }, what, deadline);
  if (typeof v !== "string") throw new TokenRejection(`${what} expression must return a string`);
  return v;
}

/** kube's reading: a string is one value, a list its strings without the empty ones, "" / [] / null none. */
function stringsOf(e: CompiledExpression, claims: unknown, what: string, deadline: number): string[] {
  const v = run(e, { claims }, what, deadline);
  if (v === null) return [];
  if (typeof v === "string") return v === "" ? [] : [v];
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v.filter((x) => x !== "");
  throw new TokenRejection(`${what} expression must return a string or a list of strings`);
}

function check(
  rules: ClaimExpressions["claimValidation"],
  vars: Record<string, unknown>,
  what: string,
  deadline: number,
): void {
  for (const { expression, message } of rules) {
    const v = run(expression, vars, what, deadline);
    if (typeof v !== "boolean") throw new TokenRejection(`${what} '${expression.source}' must return a bool`);
    if (!v) throw new TokenRejection(`${what} '${expression.source}' failed: ${message}`);
  }
}

/** One token's evaluation: its claims are converted once for all of the issuer's expressions. */
export class ClaimEvaluation {
  private readonly claims: unknown;
  private readonly deadline = performance.now() + EVALUATION_BUDGET_MS;

  /** `payloadJson`: the verified token's payload, as text. */
  constructor(
    private readonly x: ClaimExpressions,
    payloadJson: string,
  ) {
    this.claims = celClaims(payloadJson);
  }

  username(): string | undefined {
    if (!this.x.username) return undefined;
    const name = stringOf(this.x.username, this.claims, "username", this.deadline);
    if (name === "") throw new TokenRejection("username expression returned an empty string");
    return name;
  }

  groups(): string[] | undefined {
    return this.x.groups ? stringsOf(this.x.groups, this.claims, "groups", this.deadline) : undefined;
  }

  uid(): string | undefined {
    if (!this.x.uid) return undefined;
    const uid = stringOf(this.x.uid, this.claims, "uid", this.deadline);
    return uid === "" ? undefined : uid;
  }

  extra(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const { key, expression } of this.x.extra) {
      const values = stringsOf(expression, this.claims, `extra "${key}"`, this.deadline);
      if (values.length > 0) out[key] = values;
    }
    return out;
  }

  /** The claim validation rules, then the user validation rules on the user made from the claims. */
  validate(user: UserInfo): void {
    check(this.x.claimValidation, { claims: this.claims }, "claim validation rule", this.deadline);
    if (this.x.userValidation.length === 0) return;
    const asUser = { username: user.name, uid: user.uid ?? "", groups: user.groups, extra: user.extra };
    check(this.x.userValidation, { user: asUser }, "user validation rule", this.deadline);
  }
}
