// The list, get, watch and write routes of the filtered kinds, each decision on its own, over fakes
// (test/support/gateway-fakes.ts). The e2e suites prove the same against the real apiserver.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  fakeRequest,
  fakeTenancy,
  json,
  PASSED_THROUGH,
  type RecordedCall,
  run,
} from "../../../test/support/gateway-fakes.ts";
import type { KubeObject } from "../../kube/informer.ts";
import { parseRequestInfo } from "../../kube/request-info.ts";
import { FILTERED_KINDS, type FilteredKind } from "../../resources/kinds.ts";
import { StatusError } from "../../status/status.ts";
import type { NamespaceEvent } from "../../tenancy/index.ts";
import { filteredGet } from "./filtered-get.ts";
import { filteredList } from "./filtered-list.ts";
import { filteredWatch } from "./filtered-watch.ts";
import { filteredDelete, filteredUpdate } from "./filtered-write.ts";

const node = (name: string, extra: Record<string, unknown> = {}): KubeObject =>
  ({
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, resourceVersion: "7", uid: `uid-${name}` },
    ...extra,
  }) as KubeObject;
const mine = (o: KubeObject) => o.metadata.name.startsWith("oil-");

const parseInfo = (url: string) => parseRequestInfo("GET", url);

/** The StatusError a handler threw (the pipeline turns it into the response). */
async function refused(p: Promise<unknown>): Promise<StatusError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StatusError) return err;
    throw err;
  }
  assert.fail("the route answered instead of refusing");
}

describe("filtered list", () => {
  const list = {
    kind: "NodeList",
    apiVersion: "v1",
    metadata: { resourceVersion: "9", continue: "next", remainingItemCount: 40 },
    items: [node("oil-1"), node("gas-1"), node("oil-2")],
  };

  it("a tenant sees only its objects, read as the gateway, without the apiserver's paging hints", async () => {
    const r = await run(filteredList, {
      url: "/api/v1/nodes",
      tenancy: fakeTenancy({ visible: mine }),
      script: () => json(200, list),
    });
    assert.equal(r.code, 200);
    const body = r.res.json() as { items: KubeObject[]; metadata: Record<string, unknown> };
    assert.deepEqual(
      body.items.map((i) => i.metadata.name),
      ["oil-1", "oil-2"],
    );
    assert.deepEqual(body.metadata, { resourceVersion: "9" });
    const [call] = r.upstream.calls as [RecordedCall];
    assert.equal(call.as, "gateway");
    assert.equal(call.path, "/api/v1/nodes");
  });

  it("a Table keeps only visible rows, and the gateway asks for a Table only in JSON", async () => {
    const table = {
      kind: "Table",
      metadata: {},
      rows: [
        { cells: ["oil-1"], object: node("oil-1") },
        { cells: ["gas-1"], object: node("gas-1") },
      ],
    };
    const r = await run(filteredList, {
      url: "/api/v1/nodes",
      headers: { Accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/vnd.kubernetes.protobuf" },
      tenancy: fakeTenancy({ visible: mine }),
      script: () => json(200, table),
    });
    assert.equal((r.res.json().rows as unknown[]).length, 1);
    assert.equal(
      r.upstream.calls[0]?.accept,
      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    );
  });

  it("whoever may list the kind cluster-wide is forwarded as themselves, unfiltered", async () => {
    const r = await run(filteredList, {
      url: "/api/v1/nodes",
      tenancy: fakeTenancy({ rbac: (verb, name) => verb === "list" && name === undefined }),
      script: () => assert.fail("no gateway read"),
    });
    assert.equal(r.code, PASSED_THROUGH);
  });

  it("no tenant grant: forwarded as the user (their RBAC answers)", async () => {
    const r = await run(filteredList, { url: "/api/v1/nodes", tenancy: fakeTenancy({ grants: [] }) });
    assert.equal(r.code, PASSED_THROUGH);
    assert.equal(r.upstream.asGateway.length, 0);
  });

  it("an error about the request itself is answered; one about the gateway's rights is the user's to hear", async () => {
    const bad = await run(filteredList, {
      url: "/api/v1/nodes?labelSelector=%3D%3D",
      tenancy: fakeTenancy(),
      script: () => json(400, { kind: "Status", code: 400, message: "bad selector" }),
    });
    assert.equal(bad.code, 400);
    assert.equal(bad.res.json().message, "bad selector");
    const forbidden = await run(filteredList, {
      url: "/api/v1/nodes",
      tenancy: fakeTenancy(),
      script: () => json(403, { kind: "Status", code: 403 }),
    });
    assert.equal(forbidden.code, PASSED_THROUGH);
  });

  it("an ignored identity is not the route's business", async () => {
    const r = await run(filteredList, {
      url: "/api/v1/nodes",
      tenancy: fakeTenancy({ ignoredUsers: ["alice"] }),
    });
    assert.equal(r.code, undefined);
    assert.equal(r.upstream.calls.length, 0);
  });

  it("matches lists of filtered kinds only: not subresources, not other kinds, not a named get", () => {
    for (const [url, matched] of [
      ["/api/v1/nodes", true],
      // The apiserver's request info names the object of a list selected by name; still a list.
      ["/api/v1/nodes?fieldSelector=metadata.name%3Dn1", true],
      ["/apis/storage.k8s.io/v1/storageclasses", true],
      ["/api/v1/pods", false],
      ["/api/v1/nodes/n1", false],
      ["/api/v1/nodes/n1/status", false],
    ] as const)
      assert.equal(filteredList.match(parseInfo(url)) !== undefined, matched, url);
  });
});

describe("filtered get", () => {
  const script = (objects: KubeObject[]) => (c: RecordedCall) => {
    const name = (c.path ?? "").split("?")[0]?.split("/").pop() ?? "";
    const o = objects.find((x) => x.metadata.name === name);
    return o ? json(200, o) : json(404, { kind: "Status", code: 404 });
  };

  it("an invisible object answers exactly like a nonexistent one", async () => {
    const tenancy = fakeTenancy({ visible: mine });
    const invisible = await refused(
      run(filteredGet, { url: "/api/v1/nodes/gas-1", tenancy, script: script([node("gas-1")]) }),
    );
    const missing = await refused(
      run(filteredGet, { url: "/api/v1/nodes/gas-1", tenancy, script: script([]) }),
    );
    assert.equal(invisible.status.code, 404);
    assert.deepEqual(invisible.status, missing.status);
    assert.equal(invisible.status.message, 'nodes "gas-1" not found');
  });

  it("a visible object is read as the gateway and answered", async () => {
    const r = await run(filteredGet, {
      url: "/api/v1/nodes/oil-1",
      tenancy: fakeTenancy({ visible: mine }),
      script: script([node("oil-1")]),
    });
    assert.equal(r.code, 200);
    assert.equal((r.res.json().metadata as { name: string }).name, "oil-1");
    // Visibility is judged on the stored object (plain JSON, no client options), then the client's own read.
    assert.deepEqual(
      r.upstream.calls.map((c) => [c.as, c.path, c.accept]),
      [
        ["gateway", "/api/v1/nodes/oil-1", undefined],
        ["gateway", undefined, "application/json"],
      ],
    );
  });

  it("an object the user's own RBAC may read is the apiserver's to answer", async () => {
    const r = await run(filteredGet, {
      url: "/api/v1/nodes/gas-1",
      tenancy: fakeTenancy({ visible: mine, rbac: (verb, name) => verb === "get" && name === "gas-1" }),
      script: script([node("gas-1")]),
    });
    assert.equal(r.code, PASSED_THROUGH);
  });
});

describe("filtered watch", () => {
  const event = (type: string, o: KubeObject) => `${JSON.stringify({ type, object: o })}\n`;

  it("streams only the events of visible objects, lines split across chunks included", async () => {
    const whole =
      event("ADDED", node("oil-1")) + event("ADDED", node("gas-1")) + event("MODIFIED", node("oil-2"));
    const r = await run(filteredWatch, {
      url: "/api/v1/nodes?watch=true",
      tenancy: fakeTenancy({ visible: mine }),
      script: () => ({
        ...json(200, {}),
        chunks: [whole.slice(0, 30), whole.slice(30, 100), whole.slice(100)],
      }),
    });
    assert.equal(r.code, 200);
    const names = r.res.text
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { object: KubeObject }).object.metadata.name);
    assert.deepEqual(names, ["oil-1", "oil-2"]);
    const [call] = r.upstream.calls as [RecordedCall];
    assert.equal(call.mode, "stream");
    assert.equal(call.longRunning, true);
  });

  it("a refused upstream watch goes to the user's own request; a bad request is answered", async () => {
    const refusedWatch = await run(filteredWatch, {
      url: "/api/v1/nodes?watch=true",
      tenancy: fakeTenancy(),
      script: () => json(403, {}),
    });
    assert.equal(refusedWatch.code, PASSED_THROUGH);
    const gone = await run(filteredWatch, {
      url: "/api/v1/nodes?watch=true&resourceVersion=1",
      tenancy: fakeTenancy(),
      script: () => json(410, { kind: "Status", code: 410, reason: "Expired" }),
    });
    assert.equal(gone.code, 410);
  });
});

describe("kinds the tenancy index holds", () => {
  const pathOf = (k: FilteredKind) =>
    k.group ? `/apis/${k.group}/v1/${k.resource}` : `/api/v1/${k.resource}`;
  const ns = (name: string): KubeObject => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } });

  it("a list is answered from the index's informer exactly for the kinds the table says it holds", async () => {
    // The index offers a snapshot and events of namespaces only: another kind needs its own first.
    assert.deepEqual(
      FILTERED_KINDS.filter((k) => k.heldByIndex).map((k) => k.kind),
      ["Namespaces"],
    );
    for (const kind of FILTERED_KINDS) {
      const r = await run(filteredList, {
        url: pathOf(kind),
        tenancy: fakeTenancy({ namespaces: [ns("oil-b"), ns("gas"), ns("oil-a")], visible: mine }),
        script: () => json(200, { kind: "List", apiVersion: "v1", metadata: {}, items: [] }),
      });
      assert.equal(r.code, 200, kind.kind);
      assert.equal(r.upstream.calls.length, kind.heldByIndex ? 0 : 1, kind.kind);
      if (kind.heldByIndex) {
        const names = (r.res.json() as { items: KubeObject[] }).items.map((i) => i.metadata.name);
        assert.deepEqual(names, ["oil-a", "oil-b"]);
      }
    }
  });

  it("with consistent namespace lists, only a list without a resourceVersion goes upstream", async () => {
    const tenancy = {
      ...fakeTenancy({ namespaces: [ns("oil-a"), ns("gas")], visible: mine }),
      consistentNamespaceLists: true,
    };
    const upstreamList = {
      kind: "NamespaceList",
      apiVersion: "v1",
      metadata: { resourceVersion: "12" },
      items: [ns("oil-a"), ns("oil-new"), ns("gas")],
    };
    for (const [url, upstream] of [
      ["/api/v1/namespaces", true],
      ["/api/v1/namespaces?resourceVersion=", true],
      ["/api/v1/namespaces?resourceVersion=0", false],
    ] as const) {
      const r = await run(filteredList, { url, tenancy, script: () => json(200, upstreamList) });
      assert.equal(r.code, 200, url);
      assert.equal(r.upstream.calls.length, upstream ? 1 : 0, url);
      const names = (r.res.json() as { items: KubeObject[] }).items.map((i) => i.metadata.name);
      assert.deepEqual(names, upstream ? ["oil-a", "oil-new"] : ["oil-a"], url);
    }
  });

  it("a consistent namespace list reads only what the user's grants select, each read consistent", async () => {
    const tenancy = {
      ...fakeTenancy({
        visible: mine,
        readPlan: { labelSelectors: ["kubegate.dev/tenant in (oil)"], names: ["oil-bound"] },
      }),
      consistentNamespaceLists: true,
    };
    const r = await run(filteredList, {
      url: "/api/v1/namespaces?labelSelector=env%3Dprod",
      tenancy,
      script: (call) => {
        const q = new URL(call.path ?? "", "https://x").searchParams;
        const items = q.get("fieldSelector")
          ? [ns("oil-bound")]
          : [ns("oil-b"), ns("gas-stray"), ns("oil-a")];
        return json(200, {
          kind: "NamespaceList",
          apiVersion: "v1",
          metadata: { resourceVersion: q.get("fieldSelector") ? "30" : "31" },
          items,
        });
      },
    });
    assert.equal(r.code, 200);
    const queries = r.upstream.calls.map((c) => new URL(c.path ?? "", "https://x").searchParams);
    assert.deepEqual(
      queries.map((q) => [q.get("labelSelector"), q.get("fieldSelector"), q.get("resourceVersion")]),
      [
        ["env=prod,kubegate.dev/tenant in (oil)", null, null],
        ["env=prod", "metadata.name=oil-bound", null],
      ],
    );
    const body = r.res.json() as { items: KubeObject[]; metadata: { resourceVersion: string } };
    assert.deepEqual(
      body.items.map((i) => i.metadata.name),
      ["oil-a", "oil-b", "oil-bound"],
    );
    assert.equal(body.metadata.resourceVersion, "30");
  });

  it("a watch follows the index's informer for those kinds, and leaves it when the client goes", async () => {
    for (const kind of FILTERED_KINDS) {
      const watchers = new Set<NamespaceEvent>();
      const f = fakeRequest({
        url: `${pathOf(kind)}?watch=true`,
        tenancy: fakeTenancy({ namespaces: [ns("oil-a")], namespaceWatchers: watchers }),
        script: () => ({ ...json(200, {}), chunks: [] }),
      });
      const params = filteredWatch.match(f.ctx.info);
      assert.ok(params, kind.kind);
      const served = filteredWatch.handle(f.ctx, params);
      await new Promise((r) => setImmediate(r));
      assert.equal(watchers.size, kind.heldByIndex ? 1 : 0, kind.kind);
      f.res.destroy();
      assert.equal(await served, 200, kind.kind);
      assert.equal(watchers.size, 0, kind.kind);
      assert.equal(f.upstream.calls.length, kind.heldByIndex ? 0 : 1, kind.kind);
    }
  });
});

describe("filtered writes", () => {
  const stored = node("oil-1", { spec: { unschedulable: false } });
  const writes = (after: KubeObject) => (c: RecordedCall) => {
    if (c.method === "GET") return json(200, stored);
    return json(200, after);
  };
  const patch = {
    method: "PATCH",
    url: "/api/v1/nodes/oil-1",
    headers: { "Content-Type": "application/merge-patch+json" },
    body: JSON.stringify({ spec: { unschedulable: true } }),
  };

  it("a granted change is dry-run, checked, then written with the same bytes, bound to the stored version", async () => {
    const r = await run(filteredUpdate, {
      ...patch,
      tenancy: fakeTenancy({ grants: ["List", "Update"], visible: mine }),
      script: writes(node("oil-1", { spec: { unschedulable: true } })),
    });
    assert.equal(r.code, 200);
    const [read, dry, write] = r.upstream.asGateway;
    assert.equal(read?.method, "GET");
    assert.equal(dry?.path, "/api/v1/nodes/oil-1?dryRun=All");
    assert.equal(write?.path, "/api/v1/nodes/oil-1");
    assert.equal(dry?.body, write?.body);
    assert.equal(
      (JSON.parse(String(write?.body)) as { metadata: { resourceVersion: string } }).metadata.resourceVersion,
      "7",
    );
    assert.equal(write?.clientHeaders, true);
  });

  it("a change that breaks a tenancy rule in the dry run is refused and never written", async () => {
    const sent: RecordedCall[] = [];
    const after = node("oil-1", {
      metadata: { name: "oil-1", labels: { "node-role.kubernetes.io/control-plane": "" } },
    });
    const err = await refused(
      run(filteredUpdate, {
        ...patch,
        tenancy: fakeTenancy({ grants: ["List", "Update"], visible: mine }),
        script: (c) => {
          sent.push(c);
          return writes(after)(c);
        },
      }),
    );
    assert.equal(err.status.code, 403);
    assert.equal(err.code, "KUBEGATE_TENANCY_RULE");
    assert.deepEqual(
      sent.map((c) => c.path),
      ["/api/v1/nodes/oil-1", "/api/v1/nodes/oil-1?dryRun=All"],
    );
  });

  it("an invisible object is not written, and answers as if it did not exist", async () => {
    const calls: RecordedCall[] = [];
    const err = await refused(
      run(filteredUpdate, {
        ...patch,
        url: "/api/v1/nodes/gas-1",
        tenancy: fakeTenancy({ grants: ["List", "Update"], visible: mine }),
        script: (c) => {
          calls.push(c);
          return json(200, node("gas-1"));
        },
      }),
    );
    assert.equal(err.status.code, 404);
    assert.deepEqual(
      calls.map((c) => c.method),
      ["GET"],
    );
  });

  it("without an Update grant the gateway writes nothing: the user's request decides", async () => {
    const r = await run(filteredUpdate, {
      ...patch,
      tenancy: fakeTenancy({ grants: ["List"], visible: mine }),
    });
    assert.equal(r.code, PASSED_THROUGH);
    assert.equal(r.upstream.asGateway.length, 0);
  });

  it("the user's own RBAC first: a user allowed to patch is forwarded as themselves", async () => {
    const r = await run(filteredUpdate, {
      ...patch,
      tenancy: fakeTenancy({ grants: ["List", "Update"], rbac: (verb) => verb === "patch" }),
    });
    assert.equal(r.code, PASSED_THROUGH);
  });

  it("a granted delete carries the uid and resourceVersion that were checked", async () => {
    const r = await run(filteredDelete, {
      method: "DELETE",
      url: "/api/v1/nodes/oil-1",
      tenancy: fakeTenancy({ grants: ["List", "Delete"], visible: mine }),
      script: (c) =>
        c.method === "GET" ? json(200, stored) : json(200, { kind: "Status", status: "Success" }),
    });
    assert.equal(r.code, 200);
    const del = r.upstream.asGateway.find((c) => c.method === "DELETE");
    assert.deepEqual((JSON.parse(String(del?.body)) as { preconditions: unknown }).preconditions, {
      uid: "uid-oil-1",
      resourceVersion: "7",
    });
  });
});

describe("kinds a Tenant configures (clusterResources)", () => {
  const WIDGETS: FilteredKind = {
    kind: "widgets.example.com",
    group: "example.com",
    resource: "widgets",
    selection: "configured",
    writable: ["spec.size"],
    writableMetadata: [],
  };
  const widget = (name: string, spec: Record<string, unknown> = { size: 1 }): KubeObject =>
    ({
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name, resourceVersion: "3", uid: `uid-${name}` },
      spec,
    }) as KubeObject;
  const tenancy = (
    o: { namespaced?: boolean; verbs?: string[]; grants?: ("List" | "Update" | "Delete")[] } = {},
  ) =>
    fakeTenancy({
      visible: mine,
      grants: o.grants ?? ["List"],
      configured: { "example.com/widgets": WIDGETS },
      resources: { "example.com/v1/widgets": o.namespaced ?? false },
      verbs: o.verbs ?? ["get", "list", "watch", "update", "patch", "delete"],
    });
  const list = {
    kind: "WidgetList",
    apiVersion: "example.com/v1",
    metadata: {},
    items: [widget("oil-1"), widget("gas-1")],
  };

  it("a list is filtered by the Tenant's selection, read as the gateway", async () => {
    const r = await run(filteredList, {
      url: "/apis/example.com/v1/widgets",
      tenancy: tenancy(),
      script: () => json(200, list),
    });
    assert.equal(r.code, 200);
    assert.deepEqual(
      (r.res.json().items as KubeObject[]).map((i) => i.metadata.name),
      ["oil-1"],
    );
    assert.equal(r.upstream.calls[0]?.as, "gateway");
  });

  it("an invisible object is the apiserver's own 404 for the kind", async () => {
    const err = await refused(
      run(filteredGet, {
        url: "/apis/example.com/v1/widgets/gas-1",
        tenancy: tenancy(),
        script: () => json(200, widget("gas-1")),
      }),
    );
    assert.equal(err.status.code, 404);
    assert.equal(err.status.message, 'widgets.example.com "gas-1" not found');
    assert.deepEqual(err.status.details, { name: "gas-1", group: "example.com", kind: "widgets" });
  });

  it("not the route's when no Tenant names the kind, discovery says it is namespaced, or lacks the verb", async () => {
    for (const t of [
      fakeTenancy({ visible: mine, resources: { "example.com/v1/widgets": false } }),
      tenancy({ namespaced: true }),
      tenancy({ verbs: ["get"] }),
    ]) {
      const r = await run(filteredList, {
        url: "/apis/example.com/v1/widgets",
        tenancy: t,
        script: () => assert.fail("no gateway read"),
      });
      assert.equal(r.code, undefined, "declined: the next route takes it");
    }
    // Groups that rule the cluster are never matched at all: not even discovery is asked.
    for (const url of [
      "/apis/rbac.authorization.k8s.io/v1/clusterroles",
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
      "/api/v1/componentstatuses",
    ])
      assert.equal(filteredList.match(parseInfo(url)), undefined, url);
  });

  it("a granted update may change only the kind's writable fields", async () => {
    const patch = (spec: Record<string, unknown>) => ({
      method: "PATCH",
      url: "/apis/example.com/v1/widgets/oil-1",
      headers: { "Content-Type": "application/merge-patch+json" },
      body: JSON.stringify({ spec }),
    });
    const answer = (after: KubeObject) => (c: RecordedCall) =>
      json(200, c.method === "GET" ? widget("oil-1") : after);
    const ok = await run(filteredUpdate, {
      ...patch({ size: 2 }),
      tenancy: tenancy({ grants: ["List", "Update"] }),
      script: answer(widget("oil-1", { size: 2 })),
    });
    assert.equal(ok.code, 200);
    assert.equal(ok.upstream.asGateway.at(-1)?.path, "/apis/example.com/v1/widgets/oil-1");
    const err = await refused(
      run(filteredUpdate, {
        ...patch({ owner: "gas" }),
        tenancy: tenancy({ grants: ["List", "Update"] }),
        script: answer(widget("oil-1", { size: 1, owner: "gas" })),
      }),
    );
    assert.equal(err.status.code, 403);
    assert.match(err.status.message, /may not change spec/);
    // Status is a field like any other where a kind stores it through the main endpoint.
    const status = await refused(
      run(filteredUpdate, {
        ...patch({ size: 1 }),
        tenancy: tenancy({ grants: ["List", "Update"] }),
        script: answer({ ...widget("oil-1"), status: { phase: "Ready" } } as KubeObject),
      }),
    );
    assert.match(status.status.message, /may not change status/);
  });

  it("the tenant label is no tenant's to set on a kind whose ownership it does not decide", async () => {
    const labels = { ...WIDGETS, writableMetadata: ["labels" as const] };
    const err = await refused(
      run(filteredUpdate, {
        method: "PATCH",
        url: "/apis/example.com/v1/widgets/oil-1",
        headers: { "Content-Type": "application/merge-patch+json" },
        body: JSON.stringify({ metadata: { labels: { "kubegate.dev/tenant": "gas" } } }),
        tenancy: fakeTenancy({
          visible: mine,
          grants: ["List", "Update"],
          configured: { "example.com/widgets": labels },
          resources: { "example.com/v1/widgets": false },
          verbs: ["get", "list", "patch"],
        }),
        script: (c) =>
          json(
            200,
            c.method === "GET"
              ? widget("oil-1")
              : {
                  ...widget("oil-1"),
                  metadata: { ...widget("oil-1").metadata, labels: { "kubegate.dev/tenant": "gas" } },
                },
          ),
      }),
    );
    assert.equal(err.status.code, 403);
    assert.match(err.status.message, /may not set the label "kubegate.dev\/tenant"/);
  });
});
