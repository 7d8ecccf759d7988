import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { UserInfo } from "../authn/user.ts";
import type { ResourceAttributes, Reviews } from "../kube/reviews.ts";
import { StatusError } from "../status/status.ts";
import { authorizeImpersonation } from "./impersonation.ts";

const alice: UserInfo = { name: "alice", groups: ["team-a"], extra: {} };

/** Reviews double: allows exactly the listed checks and records every question asked. */
function reviews(allowed: (a: ResourceAttributes) => boolean) {
  const asked: ResourceAttributes[] = [];
  const r = {
    subjectAccessReview: async (user: UserInfo, attrs: { resource: ResourceAttributes }) => {
      assert.equal(user, alice, "the requester is the subject of every review");
      asked.push(attrs.resource);
      return { allowed: allowed(attrs.resource), reason: "" };
    },
  } as unknown as Reviews;
  return { r, asked };
}

describe("authorizeImpersonation", () => {
  it("asks one review per part of the target identity, as kube-apiserver does", async () => {
    const { r, asked } = reviews(() => true);
    const target = await authorizeImpersonation(r, alice, {
      user: "bob",
      uid: "7",
      groups: ["g1", "g2"],
      extra: { scopes: ["view"] },
    });
    assert.deepEqual(target, { name: "bob", uid: "7", groups: ["g1", "g2"], extra: { scopes: ["view"] } });
    assert.deepEqual(asked, [
      { verb: "impersonate", group: "", resource: "users", name: "bob" },
      { verb: "impersonate", group: "", resource: "groups", name: "g1" },
      { verb: "impersonate", group: "", resource: "groups", name: "g2" },
      { verb: "impersonate", group: "authentication.k8s.io", resource: "uids", name: "7" },
      {
        verb: "impersonate",
        group: "authentication.k8s.io",
        resource: "userextras",
        subresource: "scopes",
        name: "view",
      },
    ]);
  });

  it("checks service accounts as serviceaccounts in their namespace", async () => {
    const { r, asked } = reviews(() => true);
    await authorizeImpersonation(r, alice, {
      user: "system:serviceaccount:ns1:robot",
      groups: [],
      extra: {},
    });
    assert.deepEqual(asked, [
      { verb: "impersonate", group: "", resource: "serviceaccounts", namespace: "ns1", name: "robot" },
    ]);
  });

  it("refuses when any single part is denied, naming it", async () => {
    const { r } = reviews((a) => a.resource !== "groups" || a.name !== "system:masters");
    await assert.rejects(
      authorizeImpersonation(r, alice, { user: "bob", groups: ["ok", "system:masters"], extra: {} }),
      (err: unknown) =>
        err instanceof StatusError &&
        err.status.code === 403 &&
        /User "alice" cannot impersonate resource "groups"/.test(err.status.message),
    );
  });

  it("refuses groups, uid or extras without a user (400)", async () => {
    const { r, asked } = reviews(() => true);
    await assert.rejects(
      authorizeImpersonation(r, alice, { groups: ["g"], extra: {} }),
      (err: unknown) => err instanceof StatusError && err.status.code === 400,
    );
    assert.equal(asked.length, 0);
  });
});

describe("service-account names as kube splits them", () => {
  it("only system:serviceaccount:NS:NAME with valid parts is a service account", async () => {
    const { serviceAccountOf } = await import("./impersonation.ts");
    assert.deepEqual(serviceAccountOf("system:serviceaccount:ns:sa"), { namespace: "ns", name: "sa" });
    for (const u of [
      "system:serviceaccount:ns:sa:extra",
      "system:serviceaccount:ns",
      "system:serviceaccount::sa",
      "system:serviceaccount:NS:sa",
      "system:serviceaccount:ns:Sa",
      "alice",
    ])
      assert.equal(serviceAccountOf(u), undefined, u);
  });
});
