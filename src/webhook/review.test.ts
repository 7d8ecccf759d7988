import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { applyPatch } from "rfc6902";
import { review } from "./review.ts";

const FIXTURE = readFileSync(new URL("../../test/fixtures/admission.json", import.meta.url), "utf8");
const JSON_TYPE = "application/json";

function decode(text: string, contentType = JSON_TYPE, fqdn = "foo.bar.") {
  const out = review(text, contentType, fqdn);
  assert.equal(out.kind, "review");
  if (out.kind !== "review") throw new Error("unreachable");
  const r = out.body.response;
  return {
    body: out.body,
    response: r,
    patch: r.patch ? JSON.parse(Buffer.from(r.patch, "base64").toString()) : undefined,
  };
}

function withPod(pod: unknown, extra: Record<string, unknown> = {}) {
  const r = JSON.parse(FIXTURE);
  r.request.object = pod;
  Object.assign(r.request, extra);
  return JSON.stringify(r);
}

describe("pod webhook review", () => {
  it("reproduces the seed's example: env arrays created in the init container and the container", () => {
    const { body, response, patch } = decode(FIXTURE);
    assert.equal(body.apiVersion, "admission.k8s.io/v1");
    assert.equal(response.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
    assert.equal(response.allowed, true);
    assert.equal(response.patchType, "JSONPatch");
    assert.deepEqual(patch, [
      {
        op: "add",
        path: "/spec/initContainers/0/env",
        value: [{ name: "KUBERNETES_SERVICE_HOST", value: "foo.bar." }],
      },
      {
        op: "add",
        path: "/spec/containers/0/env",
        value: [{ name: "KUBERNETES_SERVICE_HOST", value: "foo.bar." }],
      },
    ]);
  });

  it("appends to existing env, leaves a container that sets the variable alone, patches ephemeral containers", () => {
    const pod = {
      spec: {
        containers: [
          { name: "a", env: [{ name: "OTHER", value: "1" }] },
          { name: "b", env: [{ name: "KUBERNETES_SERVICE_HOST", value: "custom" }] },
          { name: "c", env: [] },
        ],
        ephemeralContainers: [{ name: "debug" }],
      },
    };
    const { patch } = decode(withPod(pod));
    const patched = structuredClone(pod);
    const results = applyPatch(patched, patch);
    assert.ok(
      results.every((r) => r === null),
      "patch applies cleanly",
    );
    assert.deepEqual(patched.spec.containers[0]?.env, [
      { name: "OTHER", value: "1" },
      { name: "KUBERNETES_SERVICE_HOST", value: "foo.bar." },
    ]);
    assert.deepEqual(patched.spec.containers[1]?.env, [{ name: "KUBERNETES_SERVICE_HOST", value: "custom" }]);
    assert.deepEqual(patched.spec.containers[2]?.env, [
      { name: "KUBERNETES_SERVICE_HOST", value: "foo.bar." },
    ]);
    assert.deepEqual((patched.spec.ephemeralContainers[0] as { env?: unknown }).env, [
      { name: "KUBERNETES_SERVICE_HOST", value: "foo.bar." },
    ]);
  });

  it("answers without a patch when nothing changes, for opted-out pods and for other kinds", () => {
    const set = decode(
      withPod({
        spec: { containers: [{ name: "a", env: [{ name: "KUBERNETES_SERVICE_HOST", value: "x" }] }] },
      }),
    );
    assert.equal(set.response.allowed, true);
    assert.equal(set.response.patch, undefined);
    assert.equal(set.response.patchType, undefined);
    const optOut = decode(
      withPod({
        metadata: { labels: { "kubegate.dev/inject-apiserver-env": "disable" } },
        spec: { containers: [{ name: "a" }] },
      }),
    );
    assert.equal(optOut.response.patch, undefined);
    const cm = decode(withPod({ data: {} }, { kind: { group: "", version: "v1", kind: "ConfigMap" } }));
    assert.equal(cm.response.allowed, true);
    assert.equal(cm.response.patch, undefined);
  });

  it("patches only ephemeral containers on the ephemeralcontainers subresource, nothing on other updates", () => {
    const pod = { spec: { containers: [{ name: "a" }], ephemeralContainers: [{ name: "dbg" }] } };
    const eph = decode(withPod(pod, { operation: "UPDATE", subResource: "ephemeralcontainers" }));
    assert.deepEqual(eph.patch, [
      {
        op: "add",
        path: "/spec/ephemeralContainers/0/env",
        value: [{ name: "KUBERNETES_SERVICE_HOST", value: "foo.bar." }],
      },
    ]);
    const update = decode(withPod(pod, { operation: "UPDATE" }));
    assert.equal(update.response.patch, undefined);
  });

  it("answers v1beta1 in v1beta1", () => {
    const r = JSON.parse(FIXTURE);
    r.apiVersion = "admission.k8s.io/v1beta1";
    assert.equal(decode(JSON.stringify(r)).body.apiVersion, "admission.k8s.io/v1beta1");
  });

  it("refuses undecodable input: allowed=false with a 400 result when the uid is known, plain 400 otherwise", () => {
    const plain: [string, string | undefined, RegExp][] = [
      ["", JSON_TYPE, /empty request body/],
      ["not json", JSON_TYPE, /not JSON/],
      ["{}", JSON_TYPE, /invalid AdmissionReview/],
      ['{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}', JSON_TYPE, /request is required/],
      ["{}", "text/plain", /Content-Type must be application\/json/],
    ];
    for (const [text, type, message] of plain) {
      const out = review(text, type, "foo.bar.");
      assert.equal(out.kind, "bad-request", text);
      if (out.kind === "bad-request") assert.match(out.message, message);
    }
    const withUid: [string, string | undefined, RegExp][] = [
      [FIXTURE, "text/plain", /Content-Type/],
      [FIXTURE, "", /Content-Type/],
      [withPod("a string"), JSON_TYPE, /not a decodable Pod/],
      [withPod({ spec: { containers: "nope" } }), JSON_TYPE, /not a decodable Pod/],
      [
        withPod({ spec: { containers: [{ env: [{ value: "no name" }] }] } }),
        JSON_TYPE,
        /not a decodable Pod/,
      ],
      [FIXTURE.replace('"kind": "AdmissionReview"', '"kind": "Other"'), JSON_TYPE, /kind must be/],
      [FIXTURE.replace('"admission.k8s.io/v1"', '"admission.k8s.io/v2"'), JSON_TYPE, /apiVersion must be/],
    ];
    for (const [text, type, message] of withUid) {
      const { response } = decode(text, type);
      assert.equal(response.allowed, false);
      assert.equal(response.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
      assert.equal(response.status?.code, 400);
      assert.match(response.status?.message ?? "", message);
    }
  });
});
