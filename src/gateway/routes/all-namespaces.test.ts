// The all-namespaces routes' decisions over fakes: who gets the merged view, with whose identity the
// namespaces are read, and what is left to the apiserver. The e2e suite proves it on the real cluster.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  fakeTenancy,
  json,
  PASSED_THROUGH,
  type RecordedCall,
  run,
} from "../../../test/support/gateway-fakes.ts";
import { allNamespacesList } from "./all-namespaces-list.ts";
import { allNamespacesWatch } from "./all-namespaces-watch.ts";

const podList = (ns: string, names: string[], rv = "50") => ({
  kind: "PodList",
  apiVersion: "v1",
  metadata: { resourceVersion: rv },
  items: names.map((name) => ({ metadata: { name, namespace: ns } })),
});

/** Answers a namespaced list from `data`; a namespace missing from it refuses the user. */
function script(data: Record<string, string[]>) {
  return (c: RecordedCall) => {
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods/.exec(c.path ?? "");
    const names = m ? data[m[1] as string] : undefined;
    if (!names) return json(403, { kind: "Status", code: 403, reason: "Forbidden" });
    if (c.mode === "stream") {
      const lines = names.map(
        (n) => `${JSON.stringify({ type: "ADDED", object: podList(m?.[1] as string, [n]).items[0] })}\n`,
      );
      return { ...json(200, {}), chunks: lines };
    }
    return json(200, podList(m?.[1] as string, names));
  };
}

const tenant = (o: Parameters<typeof fakeTenancy>[0] = {}) =>
  fakeTenancy({ visibleNamespaces: () => ["oil-a", "oil-dev", "oil"], ...o });

describe("all-namespaces list route", () => {
  it("a tenant's `get pods -A`: each visible namespace read as the user, merged in order", async () => {
    const r = await run(allNamespacesList, {
      url: "/api/v1/pods?labelSelector=app%3Dweb",
      tenancy: tenant(),
      script: script({ "oil-a": ["a1"], oil: ["o1", "o2"], "oil-dev": ["d1"] }),
    });
    assert.equal(r.code, 200);
    const body = r.res.json() as ReturnType<typeof podList>;
    assert.equal(body.kind, "PodList");
    assert.deepEqual(
      body.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`),
      ["oil-a/a1", "oil-dev/d1", "oil/o1", "oil/o2"],
    );
    assert.deepEqual(
      r.upstream.calls.map((c) => `${c.as} ${c.path}`),
      [
        "user /api/v1/namespaces/oil-a/pods?labelSelector=app%3Dweb",
        "user /api/v1/namespaces/oil-dev/pods?labelSelector=app%3Dweb",
        "user /api/v1/namespaces/oil/pods?labelSelector=app%3Dweb",
      ],
    );
    assert.deepEqual(r.upstream.asGateway, [], "nothing is read with the gateway's identity");
  });

  it("namespaces that refuse the user are skipped; all refusing is the apiserver's own answer", async () => {
    const some = await run(allNamespacesList, {
      url: "/api/v1/pods",
      tenancy: tenant(),
      script: script({ oil: ["o1"] }),
    });
    assert.deepEqual(
      (some.res.json() as ReturnType<typeof podList>).items.map((i) => i.metadata.name),
      ["o1"],
    );
    const none = await run(allNamespacesList, { url: "/api/v1/pods", tenancy: tenant(), script: script({}) });
    assert.equal(none.code, PASSED_THROUGH);
  });

  it("left to the apiserver: cluster-wide RBAC, cluster-scoped or unknown kinds, no visible namespace", async () => {
    const cases: [string, Parameters<typeof fakeTenancy>[0]][] = [
      ["/api/v1/pods", { rbac: (verb) => verb === "list" }],
      ["/apis/rbac.authorization.k8s.io/v1/clusterroles", {}],
      ["/apis/example.com/v1/widgets", {}],
      ["/api/v1/pods", { visibleNamespaces: () => [] }],
    ];
    for (const [url, o] of cases) {
      const r = await run(allNamespacesList, { url, tenancy: tenant(o), script: script({ oil: ["o1"] }) });
      assert.equal(r.code, undefined, url);
      assert.deepEqual(r.upstream.calls, [], url);
    }
    // Not matched at all: a namespaced request, a named one, a subresource.
    for (const url of [
      "/api/v1/namespaces/oil/pods",
      "/api/v1/pods/x",
      "/api/v1/namespaces/oil/pods/x/log",
    ]) {
      const r = await run(allNamespacesList, { url, tenancy: tenant(), script: script({}) });
      assert.equal(r.code, "no match", url);
    }
  });

  it("ignored identities are left alone", async () => {
    const r = await run(allNamespacesList, {
      url: "/api/v1/pods",
      tenancy: tenant({ ignoredUsers: ["alice"] }),
      script: script({ oil: ["o1"] }),
    });
    assert.equal(r.code, undefined);
  });

  it("a read the apiserver answers without a Status is a Status of the gateway's", async () => {
    await assert.rejects(
      run(allNamespacesList, {
        url: "/api/v1/pods",
        tenancy: tenant(),
        script: () => ({ code: 502, contentType: "text/html", text: "<html>bad gateway</html>" }),
      }),
      (err: unknown) => (err as { code?: string }).code === "KUBEGATE_UPSTREAM_BAD_ANSWER",
    );
  });
});

describe("all-namespaces watch route", () => {
  it("streams every visible namespace's events as the user, and ends when they end", async () => {
    const r = await run(allNamespacesWatch, {
      url: "/api/v1/pods?watch=true&resourceVersion=40",
      tenancy: tenant(),
      script: script({ "oil-a": ["a1"], oil: ["o1"] }),
    });
    assert.equal(r.code, 200);
    assert.equal(r.res.code, 200);
    const events = r.res.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; object: { metadata: { name: string } } });
    assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`).sort(), [
      "ADDED a1",
      "ADDED o1",
    ]);
    assert.ok(r.upstream.calls.every((c) => c.as === "user" && c.longRunning === true));
    assert.ok(
      r.upstream.calls.every(
        (c) => /[?&]watch=true/.test(c.path ?? "") && /resourceVersion=40/.test(c.path ?? ""),
      ),
    );
  });

  it("more visible namespaces than the user's stream budget is a 429 that says why", async () => {
    await assert.rejects(
      run(allNamespacesWatch, {
        url: "/api/v1/pods?watch=true",
        tenancy: tenant({ maxStreams: 2 }),
        script: script({ "oil-a": ["a1"], oil: ["o1"], "oil-dev": [] }),
      }),
      (err: unknown) =>
        (err as { code?: string }).code === "KUBEGATE_TOO_MANY_WATCH_STREAMS" &&
        /--max-fan-out-streams-per-user/.test((err as Error).message),
    );
  });

  it("no namespace accepting the user is the apiserver's own answer", async () => {
    const r = await run(allNamespacesWatch, {
      url: "/api/v1/pods?watch=true",
      tenancy: tenant(),
      script: script({}),
    });
    assert.equal(r.code, PASSED_THROUGH);
  });
});
