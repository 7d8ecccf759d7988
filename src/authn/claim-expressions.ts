// CEL in an AuthenticationConfiguration: the claimMappings expressions (username, groups, uid, extra)
// and the claim and user validation rules, compiled when the file is loaded and evaluated for every
// token the issuer verifies, with kube-apiserver's rules:
// - claim expressions see `claims` (map of string to dyn), user rules see `user` (username, uid,
//   groups, extra), nothing else;
// - username and uid must come out as strings, groups and extra as a string or a list of strings,
//   where "" and [] mean "none"; a validation rule must come out true, or the token is refused with
//   the rule's message;
// - integers in the token are CEL ints (kube reads JSON numbers as int64 when they are whole), so
//   `claims.exp - claims.iat < 3600` works as it does in the apiserver.
//
// The library is @marcbachmann/cel-js: no dependencies, a static type checker (so a rule of the wrong
// type is refused when the file loads, not on the first login) and optional types (`claims.?x`), which
// kube's CEL environment also has. Functions it lacks (kube's url(), quantity(), ip() libraries)
// fail type checking, so such a file is refused naming the expression — never half-evaluated.
//
// Cost: the expressions are the operator's, the input is a verified token (at most 64 KiB). One
// comprehension over a claim is linear in the token; a comprehension inside another one's body could
// be quadratic, so it is refused.
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
const BOOL = /^(bool|dyn)$/;
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
  if (!types.test(checked.type ?? "")) throw new Error(`must evaluate to ${want}, not ${checked.type}`);
  if (nestedComprehension(parsed.ast, false))
    throw new Error("a comprehension (all, exists, exists_one, map, filter) inside another is not allowed");
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

/**
 * The token's claims as CEL sees them: whole numbers become ints (bigint), everything else as JSON
 * gave it. Fresh objects, so nothing the evaluation touches is shared with the token cache.
 */
export function celClaims(value: unknown): unknown {
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(celClaims);
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, celClaims(v)]));
  return value;
}

function run(e: CompiledExpression, vars: Record<string, unknown>, what: string): unknown {
  try {
    return e.evaluate(vars);
  } catch (err) {
    throw new TokenRejection(`${what} expression failed: ${firstLine(err)}`);
  }
}

function stringOf(e: CompiledExpression, claims: unknown, what: string): string {
  const v = run(e, { claims }, what);
  if (typeof v !== "string") throw new TokenRejection(`${what} expression must return a string`);
  return v;
}

/** kube's reading: a string is one value, a list its strings without the empty ones, "" / [] / null none. */
function stringsOf(e: CompiledExpression, claims: unknown, what: string): string[] {
  const v = run(e, { claims }, what);
  if (v === null) return [];
  if (typeof v === "string") return v === "" ? [] : [v];
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v.filter((x) => x !== "");
  throw new TokenRejection(`${what} expression must return a string or a list of strings`);
}

function check(
  rules: ClaimExpressions["claimValidation"],
  vars: Record<string, unknown>,
  what: string,
): void {
  for (const { expression, message } of rules) {
    const v = run(expression, vars, what);
    if (typeof v !== "boolean") throw new TokenRejection(`${what} '${expression.source}' must return a bool`);
    if (!v) throw new TokenRejection(`${what} '${expression.source}' failed: ${message}`);
  }
}

/** One token's evaluation: its claims are converted once for all of the issuer's expressions. */
export class ClaimEvaluation {
  private readonly claims: unknown;

  constructor(
    private readonly x: ClaimExpressions,
    payload: Record<string, unknown>,
  ) {
    this.claims = celClaims(payload);
  }

  username(): string | undefined {
    if (!this.x.username) return undefined;
    const name = stringOf(this.x.username, this.claims, "username");
    if (name === "") throw new TokenRejection("username expression returned an empty string");
    return name;
  }

  groups(): string[] | undefined {
    return this.x.groups ? stringsOf(this.x.groups, this.claims, "groups") : undefined;
  }

  uid(): string | undefined {
    if (!this.x.uid) return undefined;
    const uid = stringOf(this.x.uid, this.claims, "uid");
    return uid === "" ? undefined : uid;
  }

  extra(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const { key, expression } of this.x.extra) {
      const values = stringsOf(expression, this.claims, `extra "${key}"`);
      if (values.length > 0) out[key] = values;
    }
    return out;
  }

  /** The claim validation rules, then the user validation rules on the user made from the claims. */
  validate(user: UserInfo): void {
    check(this.x.claimValidation, { claims: this.claims }, "claim validation rule");
    if (this.x.userValidation.length === 0) return;
    const asUser = { username: user.name, uid: user.uid ?? "", groups: user.groups, extra: user.extra };
    check(this.x.userValidation, { user: asUser }, "user validation rule");
  }
}
