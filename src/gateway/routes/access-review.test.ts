// Self access reviews over fakes: when the gateway turns the apiserver's "no" into a "yes" for a list
// or watch in all namespaces (k9s's question before its -A views), and when it leaves the answer alone.
// The e2e suite asks the real apiserver through k9s (test/e2e/clients.test.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fakeTenancy, json, type RecordedCall, run } from "../../../test/support/gateway-fakes.ts";
import { accessReviews } from "./access-review.ts";

const URL = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

/** The apiserver's answer: the review it was sent, with the user's own RBAC's verdict. */
const apiserver = (allowed: boolean) => (c: RecordedCall) => {
  const sent = JSON.parse(String(c.body ?? "{}")) as Record<string, unknown>;
  return json(201, { ...sent, status: { allowed } });
};

async function review(
  attributes: Record<string, string>,
  o: {
    rbac?: (verb: string, name?: string, ns?: string) => boolean;
    namespaces?: string[];
    allowed?: boolean;
  } = {},
) {
  const rbac = o.rbac ?? (() => false);
  const asked: string[] = [];
  const r = await run(accessReviews, {
    method: "POST",
    url: URL,
    body: JSON.stringify({
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: { resourceAttributes: attributes },
    }),
    tenancy: fakeTenancy({
      visibleNamespaces: () => o.namespaces ?? ["oil-a", "oil-b", "oil-c"],
      rbac: (verb, name, ns) => {
        asked.push(`${verb} ${ns ?? "(all)"}`);
        return rbac(verb, name, ns);
      },
    }),
    script: apiserver(o.allowed ?? false),
  });
  const body = r.res.json() as { status: { allowed: boolean; reason?: string } };
  return { code: r.code, status: body.status, asked };
}

describe("self access reviews: lists and watches in all namespaces", () => {
  it("yes when RBAC allows the verb in one of the user's namespaces, saying which", async () => {
    for (const verb of ["list", "watch"]) {
      const r = await review(
        { verb, group: "", version: "v1", resource: "pods" },
        {
          rbac: (v, _n, ns) => v === verb && ns === "oil-b",
        },
      );
      assert.equal(r.status.allowed, true, verb);
      assert.match(r.status.reason ?? "", /oil-b allows it/);
    }
  });

  it("the version may be left out (kubectl auth can-i): discovery's namespaced version", async () => {
    const r = await review({ verb: "list", group: "apps", resource: "deployments" }, { rbac: () => true });
    assert.equal(r.status.allowed, true);
  });

  it("no when no namespace of the user's allows it, or the user sees none", async () => {
    const none = await review({ verb: "list", group: "", version: "v1", resource: "pods" });
    assert.equal(none.status.allowed, false);
    assert.deepEqual(none.asked, ["list oil-a", "list oil-b", "list oil-c"]);
    const empty = await review(
      { verb: "list", group: "", version: "v1", resource: "pods" },
      { rbac: () => true, namespaces: [] },
    );
    assert.equal(empty.status.allowed, false);
  });

  it("left alone: other verbs, one namespace, a name, a subresource, cluster-scoped or unknown kinds", async () => {
    const everywhere = { rbac: () => true };
    for (const attributes of [
      { verb: "get", group: "", version: "v1", resource: "pods" },
      { verb: "delete", group: "", version: "v1", resource: "pods" },
      { verb: "list", group: "", version: "v1", resource: "pods", namespace: "oil-a" },
      { verb: "list", group: "", version: "v1", resource: "pods", name: "p" },
      { verb: "list", group: "", version: "v1", resource: "pods", subresource: "log" },
      { verb: "list", group: "", version: "v1", resource: "*" },
      { verb: "list", group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles" },
      { verb: "list", group: "example.com", version: "v1", resource: "widgets" },
    ] as Record<string, string>[]) {
      const r = await review(attributes, everywhere);
      assert.equal(r.status.allowed, false, JSON.stringify(attributes));
      assert.deepEqual(r.asked, [], JSON.stringify(attributes));
    }
  });

  it("an apiserver yes is passed on without asking more", async () => {
    const r = await review({ verb: "list", group: "", version: "v1", resource: "pods" }, { allowed: true });
    assert.equal(r.status.allowed, true);
    assert.deepEqual(r.asked, []);
  });
});
