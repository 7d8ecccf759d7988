import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRequestInfo } from "../../kube/request-info.ts";
import { StatusError } from "../../status/status.ts";
import { operationOf } from "./access-review.ts";
import { chooseTenant, labelled } from "./namespace-create.ts";
import { namespacesIn, podListNode } from "./node-routes.ts";

const LABEL = "kubegate.dev/tenant";
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof StatusError) return err.status.code;
    throw err;
  }
  return 0;
};

describe("namespace creation: which tenant", () => {
  it("the only tenant owned, when the body names none", () => {
    assert.equal(chooseTenant(["oil"], undefined, LABEL, "alice"), "oil");
  });
  it("the tenant the label names, if owned; 403 if not", () => {
    assert.equal(chooseTenant(["gas", "oil"], "gas", LABEL, "max"), "gas");
    assert.equal(
      code(() => chooseTenant(["oil"], "gas", LABEL, "alice")),
      403,
    );
  });
  it("several tenants and no label: 400 that names them", () => {
    assert.equal(
      code(() => chooseTenant(["gas", "oil"], undefined, LABEL, "max")),
      400,
    );
    assert.throws(() => chooseTenant(["gas", "oil"], undefined, LABEL, "max"), /gas, oil/);
  });
  it("the body sent keeps the client's labels, sets the tenant's, drops server-set fields", () => {
    const out = labelled(
      { metadata: { name: "x", uid: "u", resourceVersion: "1", labels: { a: "b", [LABEL]: "old" } } },
      LABEL,
      "oil",
    );
    assert.deepEqual(out, {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "x", labels: { a: "b", [LABEL]: "oil" } },
    });
  });
});

describe("describe-node routes", () => {
  it("a cluster-wide pod list restricted to one node, as kubectl describe sends it", () => {
    const info = parseRequestInfo(
      "GET",
      "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1%2Cstatus.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed&limit=500",
    );
    assert.equal(podListNode(info), "n1");
  });
  it("not a node's pod list: namespaced, no selector, another field, a get", () => {
    for (const url of [
      "/api/v1/namespaces/a/pods?fieldSelector=spec.nodeName%3Dn1",
      "/api/v1/pods",
      "/api/v1/pods?fieldSelector=spec.nodeName%21%3Dn1",
      "/api/v1/pods?fieldSelector=status.phase%3DRunning",
      "/api/v1/nodes?fieldSelector=spec.nodeName%3Dn1",
    ])
      assert.equal(podListNode(parseRequestInfo("GET", url)), undefined, url);
  });
  it("the namespaces of a list and of a Table", () => {
    const items = [{ metadata: { name: "p", namespace: "a" } }, { metadata: { name: "q", namespace: "b" } }];
    assert.deepEqual(namespacesIn({ kind: "PodList", items }), ["a", "b"]);
    assert.deepEqual(namespacesIn({ kind: "Table", rows: items.map((object) => ({ object })) }), ["a", "b"]);
  });
});

describe("access reviews: verbs to operations", () => {
  it("reads for List, writes for Update, delete for Delete, nothing else", () => {
    assert.deepEqual(["get", "list", "watch"].map(operationOf), ["List", "List", "List"]);
    assert.deepEqual(["update", "patch", "delete"].map(operationOf), ["Update", "Update", "Delete"]);
    assert.equal(operationOf("deletecollection"), undefined);
    assert.equal(operationOf("create"), undefined);
  });
});
