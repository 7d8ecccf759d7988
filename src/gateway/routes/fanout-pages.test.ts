import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StatusError } from "../../status/status.ts";
import { ContinueTokens } from "./continue-token.ts";
import { type FanOutList, fanOutList, lowerVersion, type NamespacePage } from "./fanout-pages.ts";

/** A fake apiserver's namespaced lists: names per namespace, its revision, its own paging. */
function cluster(
  data: Record<string, string[]>,
  o: { refused?: string[]; versions?: Record<string, string> } = {},
) {
  const reads: { ns: string; query: string }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const read = async (ns: string, q: URLSearchParams): Promise<NamespacePage> => {
    reads.push({ ns, query: q.toString() });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setImmediate(r));
    inFlight--;
    if (o.refused?.includes(ns)) return { code: 403, body: { kind: "Status", code: 403 } };
    if (q.get("labelSelector") === "bad") return { code: 400, body: { kind: "Status", code: 400 } };
    const names = data[ns] ?? [];
    const from = q.has("continue") ? Number((q.get("continue") as string).split(":")[1]) : 0;
    const limit = q.has("limit") ? Number(q.get("limit")) : names.length;
    const items = names.slice(from, from + limit).map((name) => ({ metadata: { name, namespace: ns } }));
    const more = from + limit < names.length ? `${ns}:${from + limit}` : "";
    return {
      code: 200,
      body: {
        kind: "PodList",
        apiVersion: "v1",
        metadata: { resourceVersion: o.versions?.[ns] ?? "100", ...(more ? { continue: more } : {}) },
        items,
      },
    };
  };
  return { read, reads, max: () => maxInFlight };
}

const tokens = new ContinueTokens("k");
const names = (page: NamespacePage | undefined) =>
  ((page?.body.items ?? []) as { metadata: { namespace: string; name: string } }[]).map(
    (i) => `${i.metadata.namespace}/${i.metadata.name}`,
  );
const meta = (page: NamespacePage | undefined) =>
  page?.body.metadata as { resourceVersion: string; continue?: string };

function list(
  c: ReturnType<typeof cluster>,
  namespaces: string[],
  query: string,
  more: Partial<FanOutList> = {},
) {
  return fanOutList({
    namespaces,
    query: new URLSearchParams(query),
    read: c.read,
    tokens,
    bind: "alice\nall-namespaces\n/pods",
    concurrency: 3,
    ...more,
  });
}

/** Every page of a list, followed by its tokens. */
async function allPages(c: ReturnType<typeof cluster>, namespaces: string[], limit: number) {
  const got: string[] = [];
  let token = "";
  let pages = 0;
  do {
    const page = await list(c, namespaces, `limit=${limit}${token ? `&continue=${token}` : ""}`);
    got.push(...names(page));
    assert.ok(names(page).length <= limit, "no page holds more than the limit");
    token = meta(page)?.continue ?? "";
    pages++;
    assert.ok(pages < 100);
  } while (token);
  return { got, pages };
}

const DATA = { a: ["p1", "p2", "p3"], "a-b": ["q1"], b: [], c: ["r1", "r2", "r3", "r4", "r5"], d: ["s1"] };
const ORDER = ["a-b", "a", "b", "c", "d"];
const ALL = ORDER.flatMap((ns) => (DATA as Record<string, string[]>)[ns]?.map((n) => `${ns}/${n}`) ?? []);

describe("all-namespaces list, merged from the user's namespaces", () => {
  it("whole: every namespace in the order given, the shape of the first answer, the lowest revision", async () => {
    const c = cluster(DATA, { versions: { a: "120", "a-b": "99", c: "130" } });
    const page = await list(c, ORDER, "labelSelector=app%3Dx");
    assert.equal(page?.code, 200);
    assert.equal(page?.body.kind, "PodList");
    assert.deepEqual(names(page), ALL);
    assert.equal(meta(page)?.resourceVersion, "99");
    assert.equal(meta(page)?.continue, undefined);
    // The client's selectors went to every read, unchanged; no limit was added.
    assert.ok(
      c.reads.every((r) => r.query === "labelSelector=app%3Dx"),
      JSON.stringify(c.reads),
    );
  });

  it("namespaces where the user may not list are skipped; none allowing it is undefined", async () => {
    const c = cluster(DATA, { refused: ["a", "c"] });
    assert.deepEqual(names(await list(c, ORDER, "")), ["a-b/q1", "d/s1"]);
    assert.equal(await list(cluster(DATA, { refused: ORDER }), ORDER, ""), undefined);
  });

  it("a refusal other than 403 is the answer, as it came", async () => {
    const page = await list(cluster(DATA), ORDER, "labelSelector=bad");
    assert.equal(page?.code, 400);
  });

  for (const limit of [1, 2, 3, 4, 7, 100]) {
    it(`pages of ${limit}: together exactly the whole list, in order`, async () => {
      const { got, pages } = await allPages(cluster(DATA), ORDER, limit);
      assert.deepEqual(got, ALL);
      assert.ok(pages <= Math.ceil(ALL.length / limit) + 1, `${pages} pages`);
    });
  }

  it("a page that ends inside a namespace goes on with that namespace's own token", async () => {
    const c = cluster({ c: DATA.c });
    const first = await list(c, ["c"], "limit=2");
    assert.deepEqual(names(first), ["c/r1", "c/r2"]);
    c.reads.length = 0;
    const second = await list(c, ["c"], `limit=2&continue=${meta(first)?.continue}`);
    assert.deepEqual(names(second), ["c/r3", "c/r4"]);
    assert.deepEqual(c.reads, [{ ns: "c", query: "limit=2&continue=c%3A2" }]);
  });

  it("tokens reveal no names and open only for the user and resource they were made for", async () => {
    const first = await list(cluster(DATA), ORDER, "limit=2");
    const token = meta(first)?.continue as string;
    const plain = Buffer.from(token, "base64url").toString("latin1");
    for (const secret of ["a-b", "p1", "q1", "c:"]) assert.ok(!plain.includes(secret));
    await assert.rejects(
      list(cluster(DATA), ORDER, `limit=2&continue=${token}`, { bind: "bob\nall-namespaces\n/pods" }),
      (err: unknown) => err instanceof StatusError && err.status.code === 400,
    );
    await assert.rejects(
      list(cluster(DATA), ORDER, "limit=2&continue=bm90LWEtdG9rZW4"),
      (err: unknown) => err instanceof StatusError && err.status.code === 400,
    );
  });

  it("a namespace that stopped being visible between pages is passed over", async () => {
    const first = await list(cluster(DATA), ORDER, "limit=2");
    assert.deepEqual(names(first), ["a-b/q1", "a/p1"]);
    const rest = await list(cluster(DATA), ["a-b", "c", "d"], `limit=10&continue=${meta(first)?.continue}`);
    assert.deepEqual(names(rest), ["c/r1", "c/r2", "c/r3", "c/r4", "c/r5", "d/s1"]);
  });

  it("reads at most `concurrency` namespaces at once", async () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`ns-${i}`, ["x"]]));
    const c = cluster(many);
    const page = await list(c, Object.keys(many).sort(), "", { concurrency: 5 });
    assert.equal(names(page).length, 40);
    assert.equal(c.max(), 5);
  });

  it("revisions compare as numbers", () => {
    assert.equal(lowerVersion("99", "100"), "99");
    assert.equal(lowerVersion("", "7"), "7");
    assert.equal(lowerVersion("12", ""), "12");
  });
});
