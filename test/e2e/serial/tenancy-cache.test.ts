// Issue #9: a tenant's namespace list is answered from the gateway's informer, not by listing every
// namespace upstream. The cached answer must be the apiserver's own answer for the same visible set
// (its labelSelector list), JSON and Table alike, apart from the resourceVersion and ticking ages.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { useCluster } from "../../cluster/harness.ts";
import { startGatewayProcess } from "../../support/gateway-process.ts";
import { rawRequest } from "../../support/https-client.ts";
import {
  applyYaml,
  gatewayArgs,
  gatewayUser,
  grantGatewayTenancy,
  installCrds,
  prepareGatewayEnv,
} from "../gateway-env.ts";
import { kubectl, ok } from "../run.ts";

const cluster = await useCluster();
const env = await prepareGatewayEnv(cluster);
const admin = (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args);
await installCrds(cluster);
await grantGatewayTenancy(cluster, env);

// Unique per run: the file may be re-run on the same cluster, and deleted namespaces stay Terminating.
const id = randomBytes(3).toString("hex");
const TENANT = `tc${id}`;
const LABEL = "kubegate.dev/tenant";
const OWNER = `tc-${id}-alice`;
const mine = [`tc-${id}-a`, `tc-${id}-b`, `tc-${id}-c`, `tc-${id}-gone`];
for (const name of mine) await ok(admin("create", "namespace", name));
for (const name of [`tc-${id}-other`]) await ok(admin("create", "namespace", name));
for (const name of mine) await ok(admin("label", "namespace", name, `${LABEL}=${TENANT}`));
await ok(admin("label", "namespace", `tc-${id}-b`, "env=dev"));
await ok(admin("label", "namespace", `tc-${id}-c`, "env=prod"));
// No controller-manager: a deleted namespace stays Terminating, which gives a second status.phase.
await ok(admin("delete", "namespace", `tc-${id}-gone`, "--wait=false"));
await applyYaml(
  cluster,
  env.dir,
  `tenant-${id}.yaml`,
  `{ apiVersion: tenancy.kubegate.dev/v1beta1, kind: Tenant, metadata: { name: ${TENANT} }, spec: { owners: [{ kind: User, name: ${OWNER} }] } }`,
);

const gw = await startGatewayProcess(gatewayArgs(env, ["--tenancy"]));
after(() => gw.stop());
await gatewayUser(env, gw.url, OWNER);

const TABLE =
  "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
const SELECTOR = `labelSelector=${encodeURIComponent(`${LABEL}=${TENANT}`)}`;
const userTls = {
  ca: await readFile(env.servingCa.cert, "utf8"),
  cert: await readFile(join(env.dir, `${OWNER}.crt`), "utf8"),
  key: await readFile(join(env.dir, `${OWNER}.key`), "utf8"),
};
const adminTls = {
  ca: await readFile(cluster.ca.cert, "utf8"),
  cert: await readFile(cluster.admin.cert, "utf8"),
  key: await readFile(cluster.admin.key, "utf8"),
};

type Json = Record<string, unknown> & { metadata?: Record<string, unknown> };

async function get(base: string, tls: typeof userTls, path: string, accept = "application/json") {
  const r = await rawRequest(base, { path, headers: [["Accept", accept]], ...tls });
  assert.equal(r.status, 200, `${path}: ${r.body}`);
  return { body: JSON.parse(r.body) as Json, contentType: String(r.headers["content-type"]) };
}
/** Through the gateway, as the tenant owner. */
const viaGateway = (query: string, accept?: string) =>
  get(gw.url, userTls, `/api/v1/namespaces${query ? `?${query}` : ""}`, accept);
/** The apiserver's own answer for the same visible set: a labelSelector list, as admin. */
const direct = (query: string, accept?: string) =>
  get(cluster.server, adminTls, `/api/v1/namespaces?${[SELECTOR, query].filter(Boolean).join("&")}`, accept);

const itemNames = (b: Json) => (b.items as Json[]).map((i) => (i.metadata as { name: string }).name);
const rowNames = (b: Json) => (b.rows as { cells: string[] }[]).map((r) => r.cells[0]);

/** Until the informer has seen every change above (it is a watch behind the apiserver). */
async function settled(expected: string[]) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { body } = await viaGateway("");
    if (JSON.stringify(itemNames(body)) === JSON.stringify(expected)) return;
    if (Date.now() > deadline) assert.deepEqual(itemNames(body), expected);
    await sleep(200);
  }
}
await settled([...mine].sort());

/** A Table without what may differ between two calls a moment apart: resourceVersion and ages. */
function comparableTable(b: Json) {
  const rows = (b.rows as { cells: string[]; object: unknown }[]).map((r) => ({
    cells: r.cells.slice(0, 2),
    object: r.object,
  }));
  return { ...b, metadata: { ...b.metadata, resourceVersion: "" }, rows };
}

describe("tenancy: namespace lists from the gateway's cache", () => {
  it("the JSON list is the apiserver's, item for item", async () => {
    const [gwList, apiList] = await Promise.all([viaGateway(""), direct("")]);
    assert.equal(gwList.body.kind, "NamespaceList");
    assert.equal(gwList.body.apiVersion, "v1");
    assert.match(String(gwList.body.metadata?.resourceVersion), /^\d+$/);
    assert.deepEqual(gwList.body.items, apiList.body.items);
    assert.deepEqual(itemNames(gwList.body), [...mine].sort());
  });

  it("the Table is the apiserver's: columns, rows, cells and PartialObjectMetadata", async () => {
    const [gwTable, apiTable] = await Promise.all([viaGateway("", TABLE), direct("", TABLE)]);
    assert.equal(gwTable.body.kind, "Table");
    assert.equal(gwTable.contentType, apiTable.contentType);
    assert.deepEqual(gwTable.body.columnDefinitions, apiTable.body.columnDefinitions);
    assert.deepEqual(comparableTable(gwTable.body), comparableTable(apiTable.body));
    const ages = (b: Json) => (b.rows as { cells: string[] }[]).map((r) => r.cells[2]);
    for (const a of ages(gwTable.body)) assert.match(String(a), /^\d+[smhdy]/);
    // Ages tick: equal unless a second boundary fell between the two calls.
    const same = ages(gwTable.body).filter((a, i) => a === ages(apiTable.body)[i]).length;
    assert.ok(same >= mine.length - 1, `${ages(gwTable.body)} vs ${ages(apiTable.body)}`);
    assert.deepEqual(
      (gwTable.body.rows as { cells: string[] }[]).map((r) => r.cells[1]),
      ["Active", "Active", "Active", "Terminating"],
    );
  });

  it("includeObject=None and includeObject=Object are the apiserver's", async () => {
    for (const q of ["includeObject=None", "includeObject=Object", "includeObject=Metadata"]) {
      const [g, a] = await Promise.all([viaGateway(q, TABLE), direct(q, TABLE)]);
      assert.deepEqual(comparableTable(g.body), comparableTable(a.body), q);
    }
  });

  it("labelSelector and fieldSelector select as the apiserver does", async () => {
    for (const q of [
      "labelSelector=env%3Ddev",
      "labelSelector=env",
      "labelSelector=env+notin+(dev)",
      `fieldSelector=metadata.name%3Dtc-${id}-c`,
      "fieldSelector=status.phase%3DTerminating",
      "fieldSelector=status.phase!%3DTerminating&labelSelector=!env",
    ]) {
      const g = await viaGateway(q);
      // The direct list ANDs the tenant selector with the query's own labelSelector.
      const labels = new URLSearchParams(q).get("labelSelector");
      const field = new URLSearchParams(q).get("fieldSelector");
      const dq = new URLSearchParams();
      dq.set("labelSelector", [`${LABEL}=${TENANT}`, labels].filter(Boolean).join(","));
      if (field) dq.set("fieldSelector", field);
      const a = await get(cluster.server, adminTls, `/api/v1/namespaces?${dq}`);
      assert.deepEqual(g.body.items, a.body.items, q);
      const t = await viaGateway(q, TABLE);
      assert.deepEqual(rowNames(t.body), itemNames(a.body), `${q} (Table)`);
    }
  });

  it("what the cache cannot answer exactly goes upstream and still answers", async () => {
    const { body } = await viaGateway("");
    const rv = String(body.metadata?.resourceVersion);
    // Exact: the upstream answer is at that very resourceVersion.
    const exact = await viaGateway(`resourceVersion=${rv}&resourceVersionMatch=Exact`);
    assert.equal(exact.body.metadata?.resourceVersion, rv);
    // A page: the upstream path pages through every namespace, so a continue token comes back.
    const page = await viaGateway("limit=1");
    assert.equal(typeof page.body.metadata?.continue, "string");
    // A limit the visible set fits in is answered whole, without a token.
    const whole = await viaGateway("limit=500");
    assert.deepEqual(itemNames(whole.body), [...mine].sort());
    assert.equal(whole.body.metadata?.continue, undefined);
    // An unsupported field: the upstream answer (the apiserver's 400, or the user's own 403 for the list).
    const bad = await rawRequest(gw.url, {
      path: "/api/v1/namespaces?fieldSelector=spec.finalizers%3Dx",
      headers: [["Accept", "application/json"]],
      ...userTls,
    });
    assert.ok(bad.status === 400 || bad.status === 403, `${bad.status} ${bad.body}`);
  });

  it("a namespace created later shows up, as the informer hears of it", async () => {
    const later = `tc-${id}-later`;
    await ok(admin("create", "namespace", later));
    await ok(admin("label", "namespace", later, `${LABEL}=${TENANT}`));
    await settled([...mine, later].sort());
    const [g, a] = await Promise.all([viaGateway(""), direct("")]);
    assert.deepEqual(g.body.items, a.body.items);
  });
});

interface Event {
  type: string;
  object: Json & { rows?: { cells: string[]; object?: unknown }[]; columnDefinitions?: unknown };
}

/** A watch read as it streams; stop() ends it. */
function openWatch(base: string, tls: typeof userTls, path: string, accept = "application/json") {
  const events: Event[] = [];
  const url = new URL(path, base);
  let buffered = "";
  const req = request(
    { host: url.hostname, port: url.port, path, headers: { accept }, ...tls, agent: false },
    (res) => {
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        buffered += d;
        for (let nl = buffered.indexOf("\n"); nl !== -1; nl = buffered.indexOf("\n")) {
          if (nl > 0) events.push(JSON.parse(buffered.slice(0, nl)) as Event);
          buffered = buffered.slice(nl + 1);
        }
      });
      res.on("error", () => undefined);
    },
  );
  req.on("error", () => undefined);
  req.end();
  return { events, stop: () => req.destroy() };
}

async function until(what: string, cond: () => boolean) {
  const deadline = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The apiserver's count of open namespace watches (the gateway's informer holds one). */
async function namespaceWatches(): Promise<number> {
  const r = await rawRequest(cluster.server, { path: "/metrics", ...adminTls });
  const line = r.body
    .split("\n")
    .find(
      (l) =>
        l.startsWith("apiserver_longrunning_requests{") &&
        l.includes('resource="namespaces",scope="cluster"') &&
        l.includes('verb="WATCH"'),
    );
  return Number(line?.split(" ").pop() ?? "0");
}

const summary = (e: Event) =>
  e.object.kind === "Table"
    ? [e.type, ...(e.object.rows?.[0]?.cells.slice(0, 2) ?? []), e.object.columnDefinitions ? "columns" : "-"]
    : [e.type, (e.object.metadata as { name: string }).name];

describe("tenancy: namespace watches fanned out from the gateway's informer", () => {
  it("JSON and Table watches see what the apiserver's own selector watch sees, without watches of their own upstream", async () => {
    const { body } = await viaGateway("");
    const visibleNow = itemNames(body);
    const before = await namespaceWatches();
    const gwJson = openWatch(gw.url, userTls, "/api/v1/namespaces?watch=1");
    const gwTable = openWatch(gw.url, userTls, "/api/v1/namespaces?watch=1", TABLE);
    const gwFrom = openWatch(
      gw.url,
      userTls,
      `/api/v1/namespaces?watch=1&resourceVersion=${body.metadata?.resourceVersion}`,
    );
    const apiJson = openWatch(cluster.server, adminTls, `/api/v1/namespaces?watch=1&${SELECTOR}`);
    const apiTable = openWatch(cluster.server, adminTls, `/api/v1/namespaces?watch=1&${SELECTOR}`, TABLE);
    try {
      const initial = visibleNow.length;
      await until("the initial events", () =>
        [gwJson, gwTable, apiJson, apiTable].every((w) => w.events.length >= initial),
      );
      // The gateway's three watches are served from its one informer watch.
      assert.equal(await namespaceWatches(), before + 2);
      const w = `tc-${id}-w`;
      await ok(admin("create", "namespace", w));
      await ok(admin("label", "namespace", w, `${LABEL}=${TENANT}`)); // enters: ADDED
      await ok(admin("label", "namespace", w, "env=w")); // MODIFIED
      await ok(admin("label", "namespace", w, `${LABEL}=other`, "--overwrite")); // leaves: DELETED
      await until("the changes", () =>
        [gwJson, gwTable, apiJson, apiTable].every((x) => x.events.length >= initial + 3),
      );
      // Nothing more is due for w. A marker namespace entering the tenant comes after any stray event of
      // w on every stream (events are in resourceVersion order): once all show it, none is still coming.
      const marker = `tc-${id}-m`;
      await ok(admin("create", "namespace", marker));
      await ok(admin("label", "namespace", marker, `${LABEL}=${TENANT}`));
      const all = [gwJson, gwTable, gwFrom, apiJson, apiTable];
      await until("the marker", () => all.every((x) => x.events.some((e) => summary(e)[1] === marker)));
      for (const x of all) {
        const kept = x.events.filter((e) => summary(e)[1] !== marker);
        x.events.length = 0;
        x.events.push(...kept);
      }
      assert.deepEqual(gwJson.events.map(summary), apiJson.events.map(summary));
      assert.deepEqual(
        gwJson.events.map((e) => e.object),
        apiJson.events.map((e) => e.object),
      );
      assert.deepEqual(gwTable.events.map(summary), apiTable.events.map(summary));
      assert.deepEqual(
        gwTable.events[0]?.object.columnDefinitions,
        apiTable.events[0]?.object.columnDefinitions,
      );
      assert.deepEqual(
        gwTable.events.map((e) => e.object.rows?.[0]?.object),
        apiTable.events.map((e) => e.object.rows?.[0]?.object),
      );
      // From the list's resourceVersion: the changes only.
      assert.deepEqual(gwFrom.events.map(summary), apiJson.events.slice(initial).map(summary));
    } finally {
      for (const x of [gwJson, gwTable, gwFrom, apiJson, apiTable]) x.stop();
    }
  });
});
