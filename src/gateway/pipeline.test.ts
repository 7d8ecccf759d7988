// The pipeline around the routes, over real HTTP: a gateway context with a fake kube-apiserver behind
// it. What is checked is what every route gets from the pipeline, whichever answers.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { fakeTenancy } from "../../test/support/gateway-fakes.ts";
import type { TokenAuthenticator } from "../authn/authenticate.ts";
import type { KubeObject } from "../kube/informer.ts";
import { Reviews } from "../kube/reviews.ts";
import { Upstream } from "../kube/upstream.ts";
import { createLogger } from "../observability/logger.ts";
import { GatewayMetrics } from "../observability/metrics.ts";
import type { NamespaceEvent } from "../tenancy/index.ts";
import { Inflight } from "./inflight.ts";
import { PerAddress } from "./per-address.ts";
import { handleRequest } from "./pipeline.ts";
import { routeTable } from "./routes.ts";
import type { GatewayContext } from "./types.ts";
import { impersonating } from "./upstream-identity.ts";

/** Every bearer token is alice, an owner of tenant oil. */
const oidc: TokenAuthenticator = {
  claims: () => true,
  authenticate: () =>
    Promise.resolve({ kind: "user", method: "oidc", user: { name: "alice", groups: [], extra: {} } }),
  close: () => undefined,
};

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const NODE = { apiVersion: "v1", kind: "Node", metadata: { name: "oil-1", resourceVersion: "7", uid: "u1" } };
const NAMESPACE: KubeObject = {
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name: "oil-a", resourceVersion: "1" },
};

const listen = async (s: Server) => {
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
};

describe("pipeline: in flight", () => {
  const seen: string[] = [];
  let dryRunArrived = deferred();
  let releaseDryRun = deferred();
  let apiserver: Server;
  let gateway: Server;
  let url: string;
  let ctx: GatewayContext;

  before(async () => {
    apiserver = createServer(async (req: IncomingMessage, res) => {
      for await (const _ of req);
      seen.push(`${req.method} ${req.url}`);
      if (req.url?.includes("dryRun=All")) {
        dryRunArrived.resolve();
        await releaseDryRun.promise;
      }
      if (req.url?.startsWith("/api/v1/nodes/")) {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(NODE));
        return;
      }
      res.writeHead(201, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "oil-new", labels: {} } }),
      );
    });
    const upstream = new Upstream({ server: new URL(await listen(apiserver)), source: "test" });
    const metrics = new GatewayMetrics();
    ctx = {
      upstream,
      identity: impersonating(upstream),
      reviews: new Reviews(upstream),
      authenticators: { certificates: false, oidc },
      metrics,
      log: createLogger("silent"),
      interactiveMode: "proxy",
      namespaces: "passthrough",
      tenancy: fakeTenancy({ owned: ["oil"] }),
      inflight: new Inflight((long, d) => metrics.inflight.inc({ long_running: String(long) }, d)),
      authenticating: new PerAddress(32),
      routes: routeTable({ interactiveMode: "proxy", namespaces: "passthrough", tenancy: true }),
    };
    gateway = createServer((req, res) => void handleRequest(ctx, req, res));
    url = await listen(gateway);
  });
  after(async () => {
    gateway.close();
    apiserver.close();
    await ctx.upstream.close();
  });

  /**
   * Sends a request whose dry run the apiserver holds, and drains meanwhile: the drain must wait for the
   * real write. `seen` then ends with "drained", after every call the apiserver received.
   */
  async function drainDuringDryRun(send: () => Promise<Response>): Promise<Response> {
    dryRunArrived = deferred();
    releaseDryRun = deferred();
    seen.length = 0;
    const answer = send();
    await dryRunArrived.promise;
    assert.equal(ctx.inflight.count.normal, 1, "between its dry run and its write");
    const gauge = await ctx.metrics.registry.getSingleMetricAsString("kubegate_inflight_requests");
    assert.match(gauge, /kubegate_inflight_requests\{long_running="false"\} 1/);

    let drained = false;
    const drain = ctx.inflight.drain(5_000).then((clean) => {
      drained = clean;
      seen.push("drained");
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(drained, false, "the drain must not end before the write");
    releaseDryRun.resolve();
    const res = await answer;
    await drain;
    assert.equal(drained, true);
    assert.equal(ctx.inflight.count.normal, 0);
    return res;
  }

  it("a request the gateway answers itself (namespace creation) is in flight, and shutdown's drain waits for its write", async () => {
    ctx.tenancy = fakeTenancy({ owned: ["oil"] });
    const res = await drainDuringDryRun(() =>
      fetch(`${url}/api/v1/namespaces`, {
        method: "POST",
        headers: { authorization: "Bearer t", "content-type": "application/json" },
        body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "oil-new" } }),
      }),
    );
    assert.equal(res.status, 201);
    assert.deepEqual(seen, ["POST /api/v1/namespaces?dryRun=All", "POST /api/v1/namespaces", "drained"]);
  });

  it("a granted filtered update is in flight, and shutdown's drain waits between its dry run and its write", async () => {
    ctx.tenancy = fakeTenancy({ grants: ["List", "Update"] });
    const res = await drainDuringDryRun(() =>
      fetch(`${url}/api/v1/nodes/oil-1`, {
        method: "PATCH",
        headers: { authorization: "Bearer t", "content-type": "application/merge-patch+json" },
        body: JSON.stringify({ spec: { unschedulable: true } }),
      }),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(seen, [
      "GET /api/v1/nodes/oil-1",
      "PATCH /api/v1/nodes/oil-1?dryRun=All",
      "PATCH /api/v1/nodes/oil-1",
      "drained",
    ]);
  });

  it("a watch the gateway serves from the tenancy index is in flight as long-running, and the drain cuts it", async () => {
    const watchers = new Set<NamespaceEvent>();
    ctx.tenancy = fakeTenancy({ namespaces: [NAMESPACE], namespaceWatchers: watchers });
    seen.length = 0;
    const res = await fetch(`${url}/api/v1/namespaces?watch=true`, {
      headers: { authorization: "Bearer t" },
    });
    assert.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    assert.match(Buffer.from(first.value ?? []).toString(), /"type":"ADDED".*"name":"oil-a"/);
    assert.equal(ctx.inflight.count.longRunning, 1);
    assert.equal(watchers.size, 1);
    const gauge = await ctx.metrics.registry.getSingleMetricAsString("kubegate_inflight_requests");
    assert.match(gauge, /kubegate_inflight_requests\{long_running="true"\} 1/);

    // Watches are cut, not waited for: clients resume them elsewhere.
    assert.equal(await ctx.inflight.drain(5_000), true);
    const ended = (async () => {
      try {
        while (!(await reader.read()).done);
      } catch {
        // Cut mid-stream: what a client of a draining gateway sees.
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("the drain did not cut the watch")), 2_000);
    });
    await Promise.race([ended, late]).finally(() => clearTimeout(timer));
    assert.equal(watchers.size, 0, "the watch left the informer");
    assert.equal(ctx.inflight.count.longRunning, 0);
    assert.deepEqual(seen, [], "served without the apiserver");
  });
});
