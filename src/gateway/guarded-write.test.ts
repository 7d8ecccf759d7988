import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { UserInfo } from "../authn/user.ts";
import type { KubeObject } from "../kube/informer.ts";
import type { TenancyIndex } from "../tenancy/index.ts";
import { ruleBroken, withPrecondition } from "./guarded-write.ts";

const rv = "4711";

describe("guarded write: the precondition bound to the checked version", () => {
  it("prepends a test operation to a JSON patch", () => {
    const out = JSON.parse(
      withPrecondition(
        "application/json-patch+json",
        Buffer.from('[{"op":"add","path":"/x","value":1}]'),
        rv,
      ),
    );
    assert.deepEqual(out, [
      { op: "test", path: "/metadata/resourceVersion", value: rv },
      { op: "add", path: "/x", value: 1 },
    ]);
  });

  it("sets metadata.resourceVersion in merge, strategic merge, update and apply bodies", () => {
    for (const type of [
      "application/merge-patch+json",
      "application/strategic-merge-patch+json",
      "application/json",
    ]) {
      const out = JSON.parse(withPrecondition(type, Buffer.from('{"metadata":{"labels":{"a":"b"}}}'), rv));
      assert.deepEqual(out.metadata, { labels: { a: "b" }, resourceVersion: rv });
    }
    const applied = JSON.parse(
      withPrecondition(
        "application/apply-patch+yaml",
        Buffer.from("kind: Namespace\nmetadata:\n  name: n\n"),
        rv,
      ),
    );
    assert.deepEqual(applied, { kind: "Namespace", metadata: { name: "n", resourceVersion: rv } });
    // A client's own resourceVersion is replaced by the checked one, never kept.
    const put = JSON.parse(
      withPrecondition("application/json", Buffer.from('{"metadata":{"resourceVersion":"1"}}'), rv),
    );
    assert.equal(put.metadata.resourceVersion, rv);
  });

  it("refuses what it cannot bind: protobuf, non-objects, unparsable bodies", () => {
    const code = (f: () => unknown) => {
      try {
        f();
        return 0;
      } catch (err) {
        return (err as { status: { code: number } }).status.code;
      }
    };
    assert.equal(
      code(() => withPrecondition("application/vnd.kubernetes.protobuf", Buffer.from("x"), rv)),
      415,
    );
    assert.equal(
      code(() => withPrecondition("application/merge-patch+json", Buffer.from("[1]"), rv)),
      400,
    );
    assert.equal(
      code(() => withPrecondition("application/merge-patch+json", Buffer.from("{"), rv)),
      400,
    );
    assert.equal(
      code(() => withPrecondition("application/json-patch+json", Buffer.from("{}"), rv)),
      400,
    );
    assert.equal(
      code(() => withPrecondition("application/merge-patch+json", Buffer.from('{"metadata":[]}'), rv)),
      400,
    );
  });
});

describe("guarded write: the tenancy rules", () => {
  const index = {
    options: { tenantLabel: "kubegate.dev/tenant" },
    ownedTenants: () => ["oil", "oil-2"],
  } as unknown as TenancyIndex;
  const user: UserInfo = { name: "alice", groups: [], extra: {} };
  const ns = (labels: Record<string, string>): KubeObject => ({ metadata: { name: "n", labels } });
  const base = {
    index,
    user,
    current: ns({ "kubegate.dev/tenant": "oil" }),
    visible: () => true,
    tenantLabelled: true,
  };

  it("keeps the tenant label, or moves it only between tenants the user owns", () => {
    assert.equal(ruleBroken(base, ns({ "kubegate.dev/tenant": "oil", x: "y" })), undefined);
    assert.equal(ruleBroken(base, ns({ "kubegate.dev/tenant": "oil-2" })), undefined);
    assert.match(
      ruleBroken(base, ns({ "kubegate.dev/tenant": "gas" })) ?? "",
      /may not move it to tenant "gas"/,
    );
    assert.match(ruleBroken(base, ns({})) ?? "", /out of its tenant/);
  });

  it("refuses a change that makes the object invisible to its user", () => {
    assert.match(
      ruleBroken({ ...base, visible: () => false }, ns({ "kubegate.dev/tenant": "oil" })) ?? "",
      /take it out/,
    );
  });

  it("does not look at the label of kinds that do not carry it", () => {
    assert.equal(
      ruleBroken({ ...base, tenantLabelled: false }, ns({ "kubegate.dev/tenant": "gas" })),
      undefined,
    );
  });
});
