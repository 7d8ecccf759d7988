import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { headerValue, identityProblem } from "./identity-policy.ts";

const user = (name: string, groups: string[] = [], extra: Record<string, string[]> = {}) => ({
  name,
  groups,
  extra,
});

describe("identities the gateway refuses", () => {
  it("refuses system: names and groups from certificates and OIDC, unless allowed", () => {
    for (const u of [
      user("alice", ["system:masters"]),
      user("alice", ["team", "system:nodes"]),
      user("alice", ["system:serviceaccounts"]),
      user("alice", ["system:serviceaccounts:kube-system"]),
      user("system:admin"),
      user("system:serviceaccount:kube-system:default"),
      user("system:node:n1", ["team"]),
    ]) {
      for (const method of ["x509", "oidc"] as const) {
        assert.match(identityProblem(u, method) ?? "", /reserved/, `${u.name} ${u.groups} via ${method}`);
        assert.equal(identityProblem(u, method, true), undefined);
      }
    }
    // TokenReview is the apiserver's own word: a service account rightly carries its groups.
    assert.equal(
      identityProblem(user("system:serviceaccount:a:b", ["system:serviceaccounts"]), "token"),
      undefined,
    );
    assert.equal(identityProblem(user("alice", ["team-a"]), "x509"), undefined);
  });

  it("refuses what a header cannot carry as it is, for every method", () => {
    for (const u of [
      user("al\nice"),
      user("alice\r"),
      user("al\u0000ice"),
      user("alice", ["a\u007fb"]),
      user(" alice"),
      user("alice\t"),
      user("alice", [""]),
      user("alice", [], { "k\n": ["v"] }),
      user("alice", [], { k: ["v\r\nX-Injected: 1"] }),
    ]) {
      for (const method of ["x509", "oidc", "token"] as const)
        assert.match(identityProblem(u, method) ?? "", /cannot be carried/, JSON.stringify(u));
    }
  });

  it("carries non-ASCII names as their UTF-8 bytes", () => {
    assert.equal(identityProblem(user("José", ["名前"]), "x509"), undefined);
    assert.equal(headerValue("alice"), "alice");
    assert.equal(Buffer.from(headerValue("José"), "latin1").toString("utf8"), "José");
    assert.equal(Buffer.from(headerValue("名前"), "latin1").toString("utf8"), "名前");
  });
});
