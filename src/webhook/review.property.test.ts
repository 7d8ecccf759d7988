// Property-based tests of the pod webhook's AdmissionReview handling (issue #10, fuzzing): whatever the
// body, review() answers (never throws) with a well-formed AdmissionReview echoing the uid, or the
// documented plain 400 when no uid can be read; a patch is a JSON Patch that applies to the pod and
// touches nothing but the env of its containers.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { applyPatch } from "rfc6902";
import { ENV_NAME, OPT_OUT_LABEL } from "./mutate.ts";
import { type ReviewOutcome, review } from "./review.ts";

const RUNS = 1000;
const FIXTURE = readFileSync(new URL("../../test/fixtures/admission.json", import.meta.url), "utf8");
const VERSIONS = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"];
const LISTS = ["initContainers", "containers", "ephemeralContainers"] as const;
type ListName = (typeof LISTS)[number];

/**
 * Any UTF-16 code point, lone surrogates included (fast-check's "binary" unit costs a second to build).
 * Biased to ASCII, where the grammar's symbols are.
 */
const anyChar = fc
  .oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0x10ffff }))
  .map((cp) => String.fromCodePoint(cp));

// ---------------------------------------------------------------------------------------------------------
// Generators.

const fqdn = fc.oneof(fc.constantFrom("foo.bar.", "kubernetes.default.svc.cluster.local"), fc.string());
const goodContentType = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "Application/JSON",
  "application/json;charset=UTF-8",
);
const contentType = fc.oneof(
  { weight: 4, arbitrary: goodContentType },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      undefined,
      "",
      "text/plain",
      "application/jsonx",
      "application/yaml",
      " application/json",
    ),
  },
  { weight: 1, arbitrary: fc.string() },
);

const envVar = fc.record(
  {
    name: fc.oneof(fc.constantFrom(ENV_NAME, "OTHER", "kubernetes_service_host", ""), fc.string()),
    value: fc.string(),
  },
  { requiredKeys: ["name"] },
);
/** A container the API server could send: env absent, null, empty or a list of named variables. */
const container = fc.record(
  {
    name: fc.string({ maxLength: 8 }),
    image: fc.constant("nginx"),
    env: fc.oneof(fc.constant(null), fc.array(envVar, { maxLength: 3 })),
    ports: fc.array(fc.record({ containerPort: fc.nat(65535) }), { maxLength: 1 }),
  },
  { requiredKeys: ["name"] },
);
const containers = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 4, arbitrary: fc.array(container, { maxLength: 3 }) },
);
const labels = fc.oneof(
  fc.constant(null),
  fc.dictionary(
    fc.constantFrom("app", "tier", OPT_OUT_LABEL),
    fc.constantFrom("disable", "enable", "web", ""),
  ),
);
/** A decodable Pod. */
const pod = fc.record(
  {
    apiVersion: fc.constant("v1"),
    kind: fc.constant("Pod"),
    metadata: fc.oneof(
      fc.constant(null),
      fc.record({ name: fc.string({ maxLength: 8 }), labels }, { requiredKeys: [] }),
    ),
    spec: fc.oneof(
      { weight: 1, arbitrary: fc.constant(null) },
      {
        weight: 6,
        arbitrary: fc.record(
          { initContainers: containers, containers, ephemeralContainers: containers, nodeName: fc.string() },
          { requiredKeys: [] },
        ),
      },
    ),
  },
  { requiredKeys: ["spec"] },
);
/** Anything at all where a Pod should be, or a Pod with garbage in its container lists. */
const podOrGarbage = fc.oneof(
  { weight: 3, arbitrary: pod },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 1,
    arbitrary: fc.record({
      spec: fc.record({
        containers: fc.oneof(
          fc.jsonValue({ maxDepth: 2 }),
          fc.array(fc.oneof(container, fc.jsonValue({ maxDepth: 2 })), { maxLength: 3 }),
          fc.array(fc.record({ env: fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 }) }), {
            maxLength: 2,
          }),
        ),
      }),
    }),
  },
);

const podKind = fc.constantFrom(
  { group: "", version: "v1", kind: "Pod" },
  { group: "", version: "v1", kind: "ConfigMap" },
  { group: "apps", version: "v1", kind: "Deployment" },
  { group: "example.com", version: "v1", kind: "Pod" },
);
const uid = fc.oneof(fc.uuid(), fc.string({ minLength: 1 }));

/** A review kube-apiserver could send (every field decodable). */
const goodReview = fc.record(
  {
    apiVersion: fc.constantFrom(...VERSIONS),
    kind: fc.constant("AdmissionReview"),
    request: fc.record(
      {
        uid,
        kind: fc.oneof(
          { weight: 3, arbitrary: fc.constant({ group: "", version: "v1", kind: "Pod" }) },
          podKind,
        ),
        resource: fc.constant({ group: "", version: "v1", resource: "pods" }),
        subResource: fc.oneof(
          { weight: 2, arbitrary: fc.constantFrom("", "ephemeralcontainers") },
          fc.constantFrom("status", "binding"),
        ),
        operation: fc.oneof(
          { weight: 3, arbitrary: fc.constant("CREATE") },
          fc.constantFrom("UPDATE", "DELETE", "CONNECT"),
        ),
        namespace: fc.constant("default"),
        object: pod,
        oldObject: fc.constant(null),
      },
      { requiredKeys: ["uid", "operation", "object"] },
    ),
  },
  { requiredKeys: ["apiVersion", "kind", "request"] },
);

/** Reviews with any part broken or missing. */
const anyReview = fc.record(
  {
    apiVersion: fc.oneof(
      fc.constantFrom(...VERSIONS, "admission.k8s.io/v2", "v1"),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    kind: fc.oneof(fc.constantFrom("AdmissionReview", "Other"), fc.jsonValue({ maxDepth: 1 })),
    request: fc.oneof(
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
      {
        weight: 5,
        arbitrary: fc.record(
          {
            uid: fc.oneof(uid, fc.constant(""), fc.jsonValue({ maxDepth: 1 })),
            kind: fc.oneof(podKind, fc.jsonValue({ maxDepth: 2 })),
            resource: fc.oneof(
              fc.constant({ group: "", version: "v1", resource: "pods" }),
              fc.jsonValue({ maxDepth: 1 }),
            ),
            subResource: fc.oneof(
              fc.constantFrom("ephemeralcontainers", "status", ""),
              fc.jsonValue({ maxDepth: 1 }),
            ),
            operation: fc.oneof(fc.constantFrom("CREATE", "UPDATE"), fc.jsonValue({ maxDepth: 1 })),
            object: podOrGarbage,
          },
          { requiredKeys: [] },
        ),
      },
    ),
  },
  { requiredKeys: [] },
);

// ---------------------------------------------------------------------------------------------------------
// Checks.

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function tryParse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** The uid a review carries, when it carries one. */
function uidOf(body: unknown): string | undefined {
  const request = isObject(body) ? body.request : undefined;
  const u = isObject(request) ? request.uid : undefined;
  return typeof u === "string" && u !== "" ? u : undefined;
}

function containersOf(o: unknown, list: ListName): unknown[] {
  const spec = isObject(o) ? o.spec : undefined;
  const cs = isObject(spec) ? spec[list] : undefined;
  return Array.isArray(cs) ? cs : [];
}

/** The object with the env of every container removed, to see that nothing else changed. */
function withoutEnv(o: unknown): unknown {
  const copy = structuredClone(o);
  for (const list of LISTS) for (const c of containersOf(copy, list)) if (isObject(c)) delete c.env;
  return copy;
}

/** Decodes and checks a patch; returns the patched pod. */
function checkPatch(
  patch: string,
  object: unknown,
  allowedLists: readonly ListName[],
  host: string,
): unknown {
  assert.match(patch, /^[A-Za-z0-9+/]*={0,2}$/, "base64");
  const ops = JSON.parse(Buffer.from(patch, "base64").toString("utf8")) as unknown;
  assert.ok(Array.isArray(ops) && ops.length > 0, "a non-empty list of operations");
  const variable = { name: ENV_NAME, value: host };
  for (const op of ops) {
    assert.ok(isObject(op));
    assert.equal(op.op, "add");
    const m = /^\/spec\/(initContainers|containers|ephemeralContainers)\/(\d+)\/env(\/-)?$/.exec(
      String(op.path),
    );
    assert.ok(m, `path ${String(op.path)} is the env of a container`);
    assert.ok(allowedLists.includes(m[1] as ListName), `${String(op.path)} may not be patched here`);
    assert.deepEqual(op.value, m[3] ? variable : [variable]);
  }
  const patched = structuredClone(object);
  const results = applyPatch(patched, ops as Parameters<typeof applyPatch>[1]);
  assert.ok(
    results.every((r) => r === null),
    `patch applies: ${results.map(String).join("; ")}`,
  );
  assert.deepEqual(withoutEnv(patched), withoutEnv(object), "only env changes");
  for (const list of LISTS) {
    const before = containersOf(object, list);
    const after = containersOf(patched, list);
    after.forEach((c, i) => {
      const was = isObject(before[i]) ? before[i].env : undefined;
      const env = isObject(c) ? c.env : undefined;
      assert.ok(Array.isArray(env) || env === was, "env stays or becomes a list");
      if (Array.isArray(env) && Array.isArray(was)) {
        assert.deepEqual(env.slice(0, was.length), was, "existing variables are kept, in order");
        assert.ok(env.length - was.length <= 1, "at most one variable is added");
      }
    });
  }
  return patched;
}

/** Checks one outcome against the contract; returns it narrowed when it is a review. */
function checkOutcome(text: string, type: string | undefined, host: string, out: ReviewOutcome) {
  const parsed = tryParse(text);
  const body = parsed.ok ? parsed.value : undefined;
  const u = uidOf(body);
  if (u === undefined) {
    assert.equal(out.kind, "bad-request", "without a uid the answer is the plain 400");
    if (out.kind === "bad-request") assert.ok(typeof out.message === "string" && out.message !== "");
    return undefined;
  }
  assert.equal(out.kind, "review", "with a uid the answer is an AdmissionReview");
  if (out.kind !== "review") return undefined;
  const version =
    isObject(body) && VERSIONS.includes(body.apiVersion as string) ? body.apiVersion : VERSIONS[0];
  assert.equal(out.body.apiVersion, version, "answers in the review's version");
  assert.equal(out.body.kind, "AdmissionReview");
  const r = out.body.response;
  assert.equal(r.uid, u, "echoes the uid");
  assert.equal(typeof r.allowed, "boolean");
  for (const k of Object.keys(r))
    assert.ok(["uid", "allowed", "patchType", "patch", "status"].includes(k), k);
  assert.equal(r.patch !== undefined, r.patchType === "JSONPatch");
  assert.equal(out.patched, r.patch !== undefined);
  if (!r.allowed) {
    assert.equal(r.status?.code, 400);
    assert.equal(typeof r.status?.message, "string");
    assert.equal(r.patch, undefined, "a refusal has no patch");
  } else {
    assert.equal(r.status, undefined);
  }
  assert.deepEqual(JSON.parse(JSON.stringify(out.body)), out.body, "serializable as it is");
  const typeOk = type !== undefined && /^application\/json\b/i.test(type);
  if (!typeOk) assert.equal(r.allowed, false, "a wrong Content-Type is refused");
  if (r.patch !== undefined) {
    const request = (body as Json).request as Json;
    const kind = request.kind;
    assert.ok(
      kind === undefined || (isObject(kind) && kind.group === "" && kind.kind === "Pod"),
      "only Pods",
    );
    const lists: ListName[] =
      request.operation === "CREATE" && !request.subResource
        ? [...LISTS]
        : request.subResource === "ephemeralcontainers"
          ? ["ephemeralContainers"]
          : [];
    checkPatch(r.patch, request.object, lists, host);
  }
  return out;
}

/** Whether kube's answer for a decodable Pod review must carry a patch. */
function wantsPatch(request: Json): boolean {
  const kind = request.kind as Json | undefined;
  if (kind !== undefined && !(kind.group === "" && kind.kind === "Pod")) return false;
  const lists: readonly ListName[] =
    request.operation === "CREATE" && !request.subResource
      ? LISTS
      : request.subResource === "ephemeralcontainers"
        ? ["ephemeralContainers"]
        : [];
  const object = request.object as Json | undefined;
  const meta = object?.metadata as Json | null | undefined;
  if ((meta?.labels as Json | null | undefined)?.[OPT_OUT_LABEL] === "disable") return false;
  return lists.some((list) =>
    containersOf(object, list).some((c) => {
      const env = (c as Json).env;
      return !Array.isArray(env) || !env.some((e) => (e as Json).name === ENV_NAME);
    }),
  );
}

function run(text: string, type: string | undefined, host: string): ReviewOutcome {
  let out: ReviewOutcome;
  try {
    out = review(text, type, host);
  } catch (e) {
    assert.fail(`review threw ${String(e)} for ${JSON.stringify(text).slice(0, 300)}`);
  }
  checkOutcome(text, type, host, out);
  return out;
}

// ---------------------------------------------------------------------------------------------------------

describe("pod webhook review (property-based)", () => {
  it("arbitrary bytes and text never throw; the answer is a well-formed review or the plain 400", () => {
    const text = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString("utf8")),
      fc.string({ unit: anyChar, maxLength: 64 }),
      fc.json({ maxDepth: 3 }),
      // the fixture with a byte inserted, replaced or deleted
      fc
        .tuple(fc.nat(FIXTURE.length), fc.string({ unit: "binary-ascii", maxLength: 1 }), fc.nat(2))
        .map(([at, ch, del]) => FIXTURE.slice(0, at) + ch + FIXTURE.slice(at + del)),
    );
    fc.assert(
      fc.property(text, contentType, fqdn, (t, type, host) => {
        run(t, type, host);
      }),
      { numRuns: 1200 },
    );
  });

  it("arbitrary JSON values never throw; the answer is well-formed, the uid echoed when present", () => {
    const body = fc.oneof(
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
      { weight: 4, arbitrary: anyReview },
      { weight: 3, arbitrary: goodReview },
    );
    const seen = { review: 0, badRequest: 0, refused: 0, patched: 0 };
    fc.assert(
      fc.property(body, contentType, fqdn, (b, type, host) => {
        const out = run(JSON.stringify(b), type, host);
        if (out.kind === "bad-request") seen.badRequest++;
        else {
          seen.review++;
          if (!out.body.response.allowed) seen.refused++;
          if (out.patched) seen.patched++;
        }
      }),
      { numRuns: RUNS },
    );
    assert.ok(
      seen.badRequest > 50 && seen.refused > 50 && seen.patched > 50 && seen.review - seen.refused > 50,
      JSON.stringify(seen),
    );
  });

  it("decodable Pod reviews are allowed, patched exactly when a container lacks the variable", () => {
    let patched = 0;
    fc.assert(
      fc.property(goodReview, goodContentType, fqdn, (generated, type, host) => {
        const text = JSON.stringify(generated);
        const b = JSON.parse(text) as typeof generated;
        const out = run(text, type, host);
        assert.equal(out.kind, "review");
        if (out.kind !== "review") return;
        assert.equal(out.body.response.allowed, true, JSON.stringify(out.body.response.status));
        assert.equal(out.patched, wantsPatch(b.request as Json));
        if (out.patched) patched++;
        if (out.body.response.patch !== undefined) {
          // after the patch, every container the operation may patch has the variable
          const result = checkPatch(out.body.response.patch, b.request.object, [...LISTS], host);
          const lists =
            b.request.operation === "CREATE" && !b.request.subResource
              ? LISTS
              : (["ephemeralContainers"] as const);
          for (const list of lists) {
            for (const c of containersOf(result, list)) {
              const env = (c as Json).env as Json[];
              assert.ok(env.some((e) => e.name === ENV_NAME));
            }
          }
        }
      }),
      { numRuns: RUNS },
    );
    assert.ok(patched > 100, `only ${patched} patched`);
  });
});
