import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { thrownCode } from "../../../test/support/status-code.ts";
import { ContinueTokens } from "./continue-token.ts";
import { pagedList } from "./paged-list.ts";

const code = thrownCode;

describe("continue tokens of filtered pages", () => {
  const tokens = new ContinueTokens("serving key");
  const state = {
    upstream: "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJzdGFydCI6Ii9rdWJlLXN5c3RlbVx1MDAwMCJ9",
    resourceVersion: "42",
    skip: 3,
  };

  it("round-trips, and reveals nothing of what it carries", () => {
    const t = tokens.seal(state, "alice\n/namespaces");
    assert.deepEqual(tokens.open(t, "alice\n/namespaces"), state);
    const decoded = Buffer.from(t, "base64url").toString("latin1");
    assert.doesNotMatch(decoded, /kube-system|start|"42"/);
  });

  it("opens only for the user and resource it was sealed for, and only from this key", () => {
    const t = tokens.seal(state, "alice\n/namespaces");
    assert.equal(
      code(() => tokens.open(t, "bob\n/namespaces")),
      400,
    );
    assert.equal(
      code(() => tokens.open(t, "alice\n/nodes")),
      400,
    );
    assert.equal(
      code(() => new ContinueTokens("other key").open(t, "alice\n/namespaces")),
      400,
    );
    // Two gateways sharing the serving key accept each other's tokens (replicas).
    assert.deepEqual(new ContinueTokens("serving key").open(t, "alice\n/namespaces"), state);
  });

  it("refuses forged, flipped, truncated and apiserver tokens with a 400", () => {
    const t = tokens.seal(state, "u");
    const flipped = Buffer.from(t, "base64url");
    flipped[20] = (flipped[20] as number) ^ 1;
    for (const bad of [
      state.upstream,
      flipped.toString("base64url"),
      t.slice(0, 30),
      "",
      "!!",
      "a".repeat(20000),
    ])
      assert.equal(
        code(() => tokens.open(bad, "u")),
        400,
        bad.slice(0, 40),
      );
  });
});

describe("a filtered list read in pages", () => {
  // 30 objects, every 10th visible; the fake apiserver serves pages of the size asked for.
  const names = Array.from({ length: 30 }, (_, i) => `n${String(i).padStart(2, "0")}`);
  const visible = (o: { metadata: { name: string } }) => Number(o.metadata.name.slice(1)) % 10 === 9;
  const tokens = new ContinueTokens();
  const reads: string[] = [];
  const read = async (pathAndQuery: string) => {
    reads.push(pathAndQuery);
    const q = new URLSearchParams(pathAndQuery.split("?")[1]);
    const start = q.get("continue") ? Number(q.get("continue")) : 0;
    const limit = Number(q.get("limit"));
    const page = names.slice(start, start + limit);
    const next = start + limit < names.length ? String(start + limit) : undefined;
    return {
      code: 200,
      body: {
        kind: "NamespaceList",
        apiVersion: "v1",
        metadata: { resourceVersion: "7", remainingItemCount: 5, ...(next ? { continue: next } : {}) },
        items: page.map((name) => ({ metadata: { name } })),
      },
    };
  };
  const page = (query: string) =>
    pagedList({
      query: new URLSearchParams(query),
      path: "/api/v1/namespaces",
      visible,
      tokens,
      bind: "u",
      read,
    });

  it("fills each page to its limit across upstream pages, and hands out only sealed tokens", async () => {
    const seen: string[] = [];
    let q = "limit=1";
    for (let i = 0; i < 5; i++) {
      const { body } = await page(q);
      const meta = body.metadata as { continue?: string; remainingItemCount?: number };
      assert.equal(meta.remainingItemCount, undefined);
      seen.push(...(body.items as { metadata: { name: string } }[]).map((o) => o.metadata.name));
      if (!meta.continue) break;
      assert.doesNotMatch(meta.continue, /^\d+$/);
      q = `limit=1&continue=${encodeURIComponent(meta.continue)}`;
    }
    assert.deepEqual(seen, ["n09", "n19", "n29"]);
  });

  it("re-reads a partly consumed first page at exactly the list's resourceVersion", async () => {
    reads.length = 0;
    const first = await page("limit=1");
    const t = (first.body.metadata as { continue: string }).continue;
    await page(`limit=1&continue=${encodeURIComponent(t)}`);
    assert.match(reads.at(-1) ?? "", /resourceVersion=7&resourceVersionMatch=Exact/);
  });

  it("passes a refused page on unchanged (an expired token's 410)", async () => {
    const gone = { code: 410, body: { kind: "Status", code: 410 } };
    const r = await pagedList({
      query: new URLSearchParams("limit=2"),
      path: "/x",
      visible,
      tokens,
      bind: "u",
      read: async () => gone,
    });
    assert.deepEqual(r, gone);
  });
});
