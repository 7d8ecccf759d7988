import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { thrownCode } from "../../../test/support/status-code.ts";
import type { UserInfo } from "../../authn/user.ts";
import type { KubeObject } from "../../kube/informer.ts";
import { FILTERED_KINDS, type FilteredKind } from "../../resources/kinds.ts";
import type { TenancyIndex } from "../../tenancy/index.ts";
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
    const code = thrownCode;
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
  const kindOf = (resource: string) => FILTERED_KINDS.find((k) => k.resource === resource) as FilteredKind;
  const ns = (labels: Record<string, string>, extra: Record<string, unknown> = {}): KubeObject =>
    ({ metadata: { name: "n", labels, ...extra } }) as KubeObject;
  const base = {
    index,
    user,
    current: ns({ "kubegate.dev/tenant": "oil" }),
    visible: () => true,
    kind: kindOf("namespaces"),
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

  it("never adopts an object from a tenant the user does not own, nor one of no tenant", () => {
    const foreign = { ...base, current: ns({ "kubegate.dev/tenant": "gas" }) };
    assert.match(ruleBroken(foreign, ns({ "kubegate.dev/tenant": "oil" })) ?? "", /may not move it/);
    const unowned = { ...base, current: ns({}) };
    assert.equal(ruleBroken(unowned, ns({ "kubegate.dev/tenant": "oil" })), undefined);
  });

  it("refuses a change that makes the object invisible to its user", () => {
    assert.match(
      ruleBroken({ ...base, visible: () => false }, ns({ "kubegate.dev/tenant": "oil" })) ?? "",
      /take[s]? it out/,
    );
  });

  it("the tenant label is a prefixed key like any other on kinds whose ownership it does not decide", () => {
    // Else an owner could push a class into another tenant's label selection of classes.
    assert.match(
      ruleBroken({ ...base, kind: kindOf("storageclasses") }, ns({ "kubegate.dev/tenant": "gas" })) ?? "",
      /may not set the label "kubegate.dev\/tenant"/,
    );
  });

  it("refuses reserved labels and annotations, finalizers and ownerReferences", () => {
    const t = { "kubegate.dev/tenant": "oil" };
    for (const [after, why] of [
      [ns({ ...t, "pod-security.kubernetes.io/enforce": "privileged" }), /label "pod-security/],
      [ns(t, { annotations: { "scheduler.alpha.kubernetes.io/node-selector": "a=b" } }), /annotation/],
      [ns({ ...t, "node-role.kubernetes.io/control-plane": "" }), /prefixed/],
      [ns({ ...t, "x.k8s.io/y": "z" }), /prefixed/],
      [ns(t, { finalizers: ["example.com/hold"] }), /metadata.finalizers/],
      [
        ns(t, { ownerReferences: [{ kind: "Node", name: "n", uid: "u", apiVersion: "v1" }] }),
        /ownerReferences/,
      ],
      [{ ...ns(t), spec: { finalizers: [] } } as KubeObject, /may not change spec/],
    ] as const) {
      assert.match(ruleBroken(base, after) ?? "", why);
    }
    // Any prefixed key is the cluster's: policy engines' opt-outs too.
    assert.match(ruleBroken(base, ns({ ...t, "admission.gatekeeper.sh/ignore": "yes" })) ?? "", /prefixed/);
    assert.match(ruleBroken(base, ns({ ...t, "policies.kyverno.io/skip": "x" })) ?? "", /prefixed/);
    // The team label is kubegate's to give; unprefixed keys are the tenant's own.
    const team = {
      ...base,
      index: {
        ...index,
        options: { tenantLabel: "kubegate.dev/tenant", teamLabel: "example.com/team" },
        ownedTenants: index.ownedTenants,
      } as unknown as TenancyIndex,
    };
    assert.equal(ruleBroken(team, ns({ ...t, "example.com/team": "blue", purpose: "ci" })), undefined);
    // kubectl apply's own annotation and ordinary keys pass.
    const fine = ns(t, { annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}", a: "b" } });
    assert.equal(ruleBroken(base, fine), undefined);
  });

  it("lets a kind change only the fields the kinds table lists, and no reserved taint", () => {
    const nodes = {
      ...base,
      kind: kindOf("nodes"),
      current: { metadata: { name: "n" }, spec: {} } as KubeObject,
    };
    const node = (spec: unknown) => ({ metadata: { name: "n" }, spec }) as unknown as KubeObject;
    assert.equal(ruleBroken(nodes, node({ unschedulable: true })), undefined);
    // Node labels steer every tenant's pods: not writable through a grant, unprefixed or not.
    assert.match(
      ruleBroken(nodes, {
        metadata: { name: "n", labels: { pool: "other" } },
        spec: {},
      } as unknown as KubeObject) ?? "",
      /labels of nodes/,
    );
    assert.equal(ruleBroken(nodes, node({ taints: [{ key: "team", effect: "NoSchedule" }] })), undefined);
    assert.match(
      ruleBroken(nodes, node({ taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoExecute" }] })) ??
        "",
      /taint/,
    );
    assert.match(ruleBroken(nodes, node({ podCIDR: "10.0.0.0/24" })) ?? "", /may not change spec/);
    const sc = {
      ...base,
      kind: kindOf("storageclasses"),
      current: { metadata: { name: "s" } } as KubeObject,
    };
    const cls = (o: Record<string, unknown>) => ({ metadata: { name: "s" }, ...o }) as unknown as KubeObject;
    assert.equal(ruleBroken(sc, cls({ allowVolumeExpansion: true })), undefined);
    assert.match(
      ruleBroken(
        sc,
        cls({
          metadata: { name: "s", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
        }),
      ) ?? "",
      /is-default-class/,
    );
    const pc = {
      ...base,
      kind: kindOf("priorityclasses"),
      current: { metadata: { name: "p" } } as KubeObject,
    };
    assert.match(
      ruleBroken(pc, cls({ metadata: { name: "p" }, globalDefault: true })) ?? "",
      /globalDefault/,
    );
  });
});
