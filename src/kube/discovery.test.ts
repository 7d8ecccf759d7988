import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { AGGREGATED_DISCOVERY, Discovery, discoveryFetch, parseDiscovery } from "./discovery.ts";
import { Upstream } from "./upstream.ts";

const doc = (items: unknown[]) =>
  JSON.stringify({ kind: "APIGroupDiscoveryList", apiVersion: "apidiscovery.k8s.io/v2", items });
const CORE = doc([
  {
    metadata: { name: "" },
    versions: [
      {
        version: "v1",
        resources: [
          {
            resource: "pods",
            scope: "Namespaced",
            verbs: ["get", "list", "watch"],
            responseKind: { kind: "Pod" },
          },
          { resource: "nodes", scope: "Cluster", verbs: ["get", "list"], responseKind: { kind: "Node" } },
        ],
      },
    ],
  },
]);
const GROUPS = (extra: unknown[] = []) =>
  doc([
    {
      metadata: { name: "apps" },
      versions: [
        { version: "v1", resources: [{ resource: "deployments", scope: "Namespaced", verbs: ["list"] }] },
      ],
    },
    ...extra,
  ]);

describe("discovery", () => {
  it("reads scope, verbs and kind of every group's resources", () => {
    const t = parseDiscovery([CORE, GROUPS()]);
    assert.deepEqual(t.get("/v1/pods"), { namespaced: true, verbs: ["get", "list", "watch"], kind: "Pod" });
    assert.equal(t.get("/v1/nodes")?.namespaced, false);
    assert.equal(t.get("apps/v1/deployments")?.namespaced, true);
    assert.throws(() => parseDiscovery(['{"kind":"APIGroupList","groups":[]}']), {
      code: "KUBEGATE_UPSTREAM_BAD_ANSWER",
    });
  });

  it("asks for the aggregated documents once, refreshes when old, and at most once per interval for a miss", async () => {
    let now = 0;
    const calls: string[] = [];
    let groups = GROUPS();
    const d = new Discovery(
      (path, accept) => {
        calls.push(`${path} ${accept === AGGREGATED_DISCOVERY}`);
        return Promise.resolve({ code: 200, text: path === "/api" ? CORE : groups });
      },
      { maxAgeMs: 60_000, missRefreshMs: 5_000, now: () => now },
    );
    const [a, b] = await Promise.all([d.resource("", "v1", "pods"), d.resource("apps", "v1", "deployments")]);
    assert.equal(a?.namespaced, true);
    assert.equal(b?.namespaced, true);
    assert.deepEqual(calls, ["/api true", "/apis true"]);
    // Made-up resources within the interval cost nothing.
    for (let i = 0; i < 50; i++) assert.equal(await d.resource("x.example", "v1", `r${i}`), undefined);
    assert.equal(calls.length, 2);
    // A CRD that appears is found on the first miss after the interval.
    groups = GROUPS([
      {
        metadata: { name: "x.example" },
        versions: [{ version: "v1", resources: [{ resource: "widgets", scope: "Namespaced" }] }],
      },
    ]);
    now = 6_000;
    assert.equal((await d.resource("x.example", "v1", "widgets"))?.namespaced, true);
    assert.equal(calls.length, 4);
    now = 70_000;
    await d.resource("", "v1", "pods");
    assert.equal(calls.length, 6);
  });

  it("the version a resource is served at, namespaced or cluster-scoped, preferred version first", async () => {
    const d = new Discovery((path) =>
      Promise.resolve({
        code: 200,
        text:
          path === "/api"
            ? CORE
            : GROUPS([
                {
                  metadata: { name: "x.example" },
                  versions: [
                    { version: "v2", resources: [{ resource: "widgets", scope: "Namespaced" }] },
                    { version: "v1", resources: [{ resource: "widgets", scope: "Namespaced" }] },
                  ],
                },
              ]),
      }),
    );
    assert.equal(await d.namespacedVersion("", "pods"), "v1");
    assert.equal(await d.namespacedVersion("x.example", "widgets"), "v2");
    assert.equal(await d.namespacedVersion("", "nodes"), undefined);
    assert.equal(await d.clusterScopedVersion("", "nodes"), "v1");
    assert.equal(await d.clusterScopedVersion("", "pods"), undefined);
    assert.equal(await d.namespacedVersion("x.example", "gadgets"), undefined);
  });

  it("a failed refresh keeps what it had", async () => {
    let fail = false;
    let now = 0;
    const d = new Discovery(
      (path) =>
        fail
          ? Promise.reject(new Error("down"))
          : Promise.resolve({ code: 200, text: path === "/api" ? CORE : GROUPS() }),
      { now: () => now },
    );
    assert.equal((await d.resource("", "v1", "pods"))?.namespaced, true);
    fail = true;
    now = 120_000;
    assert.equal((await d.resource("", "v1", "pods"))?.namespaced, true);
  });

  it("the gateway's fetch asks kube-apiserver as the gateway itself, for the aggregated documents", async () => {
    const asked: { url: string | undefined; headers: IncomingHttpHeaders }[] = [];
    const apiserver = createServer((req, res) => {
      asked.push({ url: req.url, headers: req.headers });
      res.writeHead(200, { "content-type": "application/json" }).end(req.url === "/api" ? CORE : GROUPS());
    });
    apiserver.listen(0, "127.0.0.1");
    await once(apiserver, "listening");
    const { port } = apiserver.address() as AddressInfo;
    const upstream = new Upstream({
      server: new URL(`http://127.0.0.1:${port}`),
      token: () => "gateway-token",
      source: "test",
    });
    try {
      const d = new Discovery(discoveryFetch(upstream));
      assert.equal((await d.resource("apps", "v1", "deployments"))?.namespaced, true);
      assert.deepEqual(asked.map((a) => a.url).sort(), ["/api", "/apis"]);
      for (const { headers } of asked) {
        assert.equal(headers.accept, AGGREGATED_DISCOVERY);
        assert.equal(headers.authorization, "Bearer gateway-token");
        assert.ok(!Object.keys(headers).some((h) => h.startsWith("impersonate-")));
      }
    } finally {
      await upstream.close();
      apiserver.close();
    }
  });
});
