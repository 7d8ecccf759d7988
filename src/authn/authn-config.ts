// kube-apiserver's structured authentication file (`--authentication-config`, kind
// AuthenticationConfiguration, apiserver.config.k8s.io/v1beta1 or v1): its `jwt` issuers become one
// OidcAuthenticator each, and a token goes to the issuer its (unverified) `iss` names.
//
// What is read as the apiserver reads it: issuer url and audiences (several need audienceMatchPolicy
// MatchAny), discoveryURL, an inline certificateAuthority, claimMappings username/groups (a claim with a prefix,
// which the apiserver requires once a claim is named, or a CEL expression), uid (claim or expression)
// and extra (expressions), claimValidationRules (claim/requiredValue or expression/message) and
// userValidationRules. CEL is compiled and type-checked on load (claim-expressions.ts). The file is read
// again when it changes; a broken new file leaves the last good one in force.
//
// Refused, naming the field, rather than ignored (issue #21): an expression kubegate's CEL cannot
// compile, and egressSelectorType and anonymous, which change where or whether tokens are checked.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import type { Logger } from "../observability/logger.ts";
import { KubegateError } from "../status/errors.ts";
import type { TokenAuthenticator } from "./authenticate.ts";
import {
  type ClaimExpressions,
  type CompiledExpression,
  compileExpression,
  type ExpressionRole,
  readsClaim,
} from "./claim-expressions.ts";
import { OidcAuthenticator, type OidcOptions, unverifiedIssuer } from "./oidc.ts";
import type { AuthnResult } from "./user.ts";

const API_VERSIONS = ["apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1beta1"] as const;

const mapping = z.strictObject({
  claim: z.string().optional(),
  prefix: z.string().optional(),
  expression: z.string().optional(),
});

const jwtEntry = z.strictObject({
  issuer: z.strictObject({
    url: z.string(),
    discoveryURL: z.string().optional(),
    certificateAuthority: z.string().optional(),
    audiences: z.array(z.string()),
    audienceMatchPolicy: z.string().optional(),
    egressSelectorType: z.string().optional(),
  }),
  claimValidationRules: z
    .array(
      z.strictObject({
        claim: z.string().optional(),
        requiredValue: z.string().optional(),
        expression: z.string().optional(),
        message: z.string().optional(),
      }),
    )
    .optional(),
  claimMappings: z.strictObject({
    username: mapping,
    groups: mapping.optional(),
    uid: z.strictObject({ claim: z.string().optional(), expression: z.string().optional() }).optional(),
    extra: z.array(z.strictObject({ key: z.string(), valueExpression: z.string() })).optional(),
  }),
  userValidationRules: z
    .array(z.strictObject({ expression: z.string(), message: z.string().optional() }))
    .optional(),
});

const fileSchema = z.strictObject({
  apiVersion: z.enum(API_VERSIONS),
  kind: z.literal("AuthenticationConfiguration"),
  jwt: z.array(jwtEntry).optional(),
  anonymous: z.unknown().optional(),
});

type JwtEntry = z.infer<typeof jwtEntry>;

function invalid(source: string, problems: string[]): KubegateError {
  return new KubegateError(`authentication config ${source}: ${problems.join("; ")}`, {
    code: "KUBEGATE_AUTHN_CONFIG_INVALID",
  });
}

/** The OIDC options of each `jwt` issuer of an AuthenticationConfiguration; throws naming every problem. */
export function parseAuthenticationConfig(text: string, source = "file"): OidcOptions[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw invalid(source, [`not YAML or JSON: ${(err as Error).message}`]);
  }
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) {
    throw invalid(
      source,
      parsed.error.issues.map((i) => {
        const unknown = i.code === "unrecognized_keys" ? `: unknown field(s) ${i.keys.join(", ")}` : "";
        return `${pathOf(i.path)}: ${unknown ? unknown.slice(2) : i.message}`;
      }),
    );
  }
  const problems: string[] = [];
  if (parsed.data.anonymous !== undefined)
    problems.push("anonymous: not supported (kubegate never forwards anonymous requests)");
  const entries = parsed.data.jwt ?? [];
  if (entries.length === 0) problems.push("jwt: at least one issuer is required");
  const seen = new Set<string>();
  const out: OidcOptions[] = [];
  entries.forEach((e, i) => {
    const at = `jwt[${i}]`;
    const before = problems.length;
    const options = entryOptions(e, at, problems);
    if (seen.has(e.issuer.url)) problems.push(`${at}.issuer.url: duplicate issuer "${e.issuer.url}"`);
    seen.add(e.issuer.url);
    if (options && problems.length === before) out.push(options);
  });
  if (problems.length > 0) throw invalid(source, problems);
  return out;
}

function pathOf(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : `${out ? "." : ""}${String(p)}`;
  return out || "(top level)";
}

function entryOptions(e: JwtEntry, at: string, problems: string[]): OidcOptions | undefined {
  const { issuer, claimMappings: m } = e;
  let url: URL | undefined;
  try {
    url = new URL(issuer.url);
  } catch {
    problems.push(`${at}.issuer.url: "${issuer.url}" is not a URL`);
  }
  if (url && url.protocol !== "https:") problems.push(`${at}.issuer.url: must use https`);
  if (issuer.discoveryURL !== undefined) {
    let discovery: URL | undefined;
    try {
      discovery = new URL(issuer.discoveryURL);
    } catch {
      problems.push(`${at}.issuer.discoveryURL: "${issuer.discoveryURL}" is not a URL`);
    }
    if (discovery && discovery.protocol !== "https:")
      problems.push(`${at}.issuer.discoveryURL: must use https`);
    if (issuer.discoveryURL.replace(/\/+$/, "") === issuer.url.replace(/\/+$/, ""))
      problems.push(`${at}.issuer.discoveryURL: must differ from url`);
  }
  if (issuer.egressSelectorType !== undefined)
    problems.push(`${at}.issuer.egressSelectorType: not supported`);
  const audiences = issuer.audiences;
  if (audiences.length === 0 || audiences.some((a) => a === ""))
    problems.push(`${at}.issuer.audiences: at least one non-empty audience is required`);
  if (new Set(audiences).size !== audiences.length) problems.push(`${at}.issuer.audiences: duplicate values`);
  const policy = issuer.audienceMatchPolicy;
  if (policy !== undefined && policy !== "MatchAny")
    problems.push(`${at}.issuer.audienceMatchPolicy: must be MatchAny`);
  if (audiences.length > 1 && policy !== "MatchAny")
    problems.push(`${at}.issuer.audienceMatchPolicy: must be MatchAny when several audiences are given`);

  const x: ClaimExpressions = { extra: [], claimValidation: [], userValidation: [] };
  const compile = (source: string, role: ExpressionRole, field: string) => {
    try {
      return compileExpression(source, role);
    } catch (err) {
      problems.push(`${field}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const username = mappingOf(m.username, `${at}.claimMappings.username`, "username", problems, compile);
  if (username && !("claim" in username)) x.username = username.expression;
  const groups = m.groups && mappingOf(m.groups, `${at}.claimMappings.groups`, "groups", problems, compile);
  if (groups && !("claim" in groups)) x.groups = groups.expression;
  if (m.uid) {
    const uat = `${at}.claimMappings.uid`;
    if (m.uid.claim !== undefined && m.uid.expression !== undefined)
      problems.push(`${uat}: claim and expression exclude each other`);
    else if (m.uid.claim === "") problems.push(`${uat}.claim: must not be empty`);
    else if (m.uid.expression !== undefined) x.uid = compile(m.uid.expression, "uid", `${uat}.expression`);
  }
  const keys = new Set<string>();
  (m.extra ?? []).forEach((entry, j) => {
    const eat = `${at}.claimMappings.extra[${j}]`;
    const why = extraKeyProblem(entry.key);
    if (why) problems.push(`${eat}.key: ${why}`);
    else if (keys.has(entry.key)) problems.push(`${eat}.key: duplicate key "${entry.key}"`);
    keys.add(entry.key);
    const expression = compile(entry.valueExpression, "extra", `${eat}.valueExpression`);
    if (expression) x.extra.push({ key: entry.key, expression });
  });

  // A Map: a claim named "__proto__" is as much a claim as any other.
  const requiredClaims = new Map<string, string>();
  (e.claimValidationRules ?? []).forEach((r, j) => {
    const rat = `${at}.claimValidationRules[${j}]`;
    if (r.expression !== undefined) {
      if (r.claim !== undefined || r.requiredValue !== undefined)
        problems.push(`${rat}: expression excludes claim and requiredValue`);
      const expression = compile(r.expression, "claimValidation", `${rat}.expression`);
      if (expression) x.claimValidation.push({ expression, message: r.message ?? "" });
    } else if (!r.claim) problems.push(`${rat}: claim (with requiredValue) or expression is required`);
    else if (r.message !== undefined) problems.push(`${rat}.message: only with expression`);
    else if (requiredClaims.has(r.claim)) problems.push(`${rat}.claim: duplicate claim "${r.claim}"`);
    else requiredClaims.set(r.claim, r.requiredValue ?? "");
  });
  (e.userValidationRules ?? []).forEach((r, j) => {
    const rat = `${at}.userValidationRules[${j}]`;
    const expression = compile(r.expression, "userValidation", `${rat}.expression`);
    if (expression) x.userValidation.push({ expression, message: r.message ?? "" });
  });
  // The apiserver's guard for a username built from claims.email by an expression: the email must be
  // checked as verified somewhere, as it is implicitly for `claim: email`.
  if (x.username && readsClaim(x.username.ast, "email")) {
    const checked = [
      x.username,
      ...x.extra.map((e) => e.expression),
      ...x.claimValidation.map((r) => r.expression),
    ];
    if (!checked.some((c) => readsClaim(c.ast, "email_verified")))
      problems.push(
        `${at}.claimMappings.username.expression: uses claims.email, so claims.email_verified must be used in claimMappings.username.expression, claimMappings.extra[*].valueExpression or claimValidationRules[*].expression`,
      );
  }
  if (!username) return undefined;
  const hasCel =
    x.username || x.groups || x.uid || x.extra.length || x.claimValidation.length || x.userValidation.length;
  return {
    issuerUrl: issuer.url,
    ...(issuer.discoveryURL !== undefined ? { discoveryUrl: issuer.discoveryURL } : {}),
    clientId: audiences[0] ?? "",
    extraAudiences: audiences.slice(1),
    ...("claim" in username ? { usernameClaim: username.claim, usernamePrefix: username.prefix } : {}),
    ...(groups && "claim" in groups ? { groupsClaim: groups.claim, groupsPrefix: groups.prefix } : {}),
    ...(m.uid?.claim ? { uidClaim: m.uid.claim } : {}),
    ...(issuer.certificateAuthority !== undefined ? { caPem: issuer.certificateAuthority } : {}),
    requiredClaims: Object.fromEntries(requiredClaims),
    ...(hasCel ? { expressions: x } : {}),
  };
}

type Mapping = { claim: string; prefix: string } | { expression: CompiledExpression };

/** A claim mapping as the apiserver validates it: claim and prefix together, or an expression alone. */
function mappingOf(
  c: z.infer<typeof mapping>,
  at: string,
  role: "username" | "groups",
  problems: string[],
  compile: (source: string, role: ExpressionRole, field: string) => CompiledExpression | undefined,
): Mapping | undefined {
  if (c.expression !== undefined) {
    if (c.claim !== undefined) problems.push(`${at}: claim and expression exclude each other`);
    if (c.prefix !== undefined) problems.push(`${at}.prefix: not allowed with expression`);
    const expression = compile(c.expression, role, `${at}.expression`);
    return expression && { expression };
  }
  if (!c.claim) {
    if (role === "username" || c.prefix !== undefined)
      problems.push(`${at}.claim: claim or expression is required`);
    return undefined;
  }
  if (c.prefix === undefined) {
    problems.push(`${at}.prefix: required when claim is set (use "" for none)`);
    return undefined;
  }
  return { claim: c.claim, prefix: c.prefix };
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** The path part of a domain-prefixed path (kube's IsDomainPrefixedPath). */
const PATH = /^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/;

/** What the apiserver requires of an extra key: a lowercase domain-prefixed path outside Kubernetes' own domains. */
function extraKeyProblem(key: string): string | undefined {
  if (key === "") return "required";
  if (key !== key.toLowerCase()) return "must be lowercase";
  const slash = key.indexOf("/");
  const domain = key.slice(0, slash);
  if (
    slash <= 0 ||
    slash === key.length - 1 ||
    domain.length > 253 ||
    !DNS_SUBDOMAIN.test(domain) ||
    !PATH.test(key.slice(slash + 1))
  )
    return 'must be a domain-prefixed path (such as "acme.io/foo")';
  if (["k8s.io", "kubernetes.io"].some((d) => domain === d || domain.endsWith(`.${d}`)))
    return "k8s.io, kubernetes.io and their subdomains are reserved for Kubernetes use";
  return undefined;
}

/** One authenticator per issuer, by issuer URL. */
async function build(options: OidcOptions[]): Promise<Map<string, OidcAuthenticator>> {
  const made = new Map<string, OidcAuthenticator>();
  try {
    for (const o of options) made.set(o.issuerUrl, await OidcAuthenticator.create(o));
  } catch (err) {
    for (const a of made.values()) a.close();
    throw err;
  }
  return made;
}

/**
 * The issuers of an AuthenticationConfiguration file, kept current with the file: every few seconds
 * the file is read and, when its content changed and still validates, the new issuers replace the old
 * ones at once.
 */
export class ConfiguredIssuers implements TokenAuthenticator {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** How many configurations have been in force (1 after the first load). */
  generation = 1;

  private constructor(
    private readonly file: string,
    private issuers: Map<string, OidcAuthenticator>,
    private digest: string,
    private readonly log?: Logger,
  ) {}

  /** Loads the file (throwing when it is invalid) and, with `reloadMs`, follows its changes. */
  static async load(file: string, o: { reloadMs?: number; log?: Logger } = {}): Promise<ConfiguredIssuers> {
    const text = await readConfig(file);
    const issuers = await build(parseAuthenticationConfig(text, file));
    const c = new ConfiguredIssuers(file, issuers, digestOf(text), o.log);
    if (o.reloadMs) {
      c.timer = setInterval(() => void c.reload(), o.reloadMs);
      c.timer.unref();
    }
    return c;
  }

  /** Reads the file again; true when a new configuration took effect. Never throws. */
  async reload(): Promise<boolean> {
    try {
      const text = await readConfig(this.file);
      const digest = digestOf(text);
      if (digest === this.digest || this.closed) return false;
      const next = await build(parseAuthenticationConfig(text, this.file));
      if (this.closed) {
        for (const a of next.values()) a.close();
        return false;
      }
      const old = this.issuers;
      this.issuers = next;
      this.digest = digest;
      this.generation++;
      for (const a of old.values()) a.close();
      this.log?.info(
        { file: this.file, generation: this.generation, issuers: [...next.keys()] },
        "authentication config reloaded",
      );
      return true;
    } catch (err) {
      this.log?.warn(
        { file: this.file, err: (err as Error).message },
        "authentication config not reloaded; the last one stays in force",
      );
      return false;
    }
  }

  private issuerOf(token: string): OidcAuthenticator | undefined {
    const iss = unverifiedIssuer(token);
    return iss === undefined ? undefined : this.issuers.get(iss);
  }

  claims(token: string): boolean {
    return this.issuerOf(token) !== undefined;
  }

  authenticate(token: string): Promise<AuthnResult> {
    const issuer = this.issuerOf(token);
    if (!issuer)
      return Promise.resolve({ kind: "rejected", reason: "OIDC: the token's issuer is not configured" });
    return issuer.authenticate(token);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const a of this.issuers.values()) a.close();
  }
}

async function readConfig(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new KubegateError(`authentication config ${file}: ${(err as Error).message}`, {
      code: "KUBEGATE_AUTHN_CONFIG_INVALID",
    });
  }
}

const digestOf = (text: string) => createHash("sha256").update(text).digest("hex");
