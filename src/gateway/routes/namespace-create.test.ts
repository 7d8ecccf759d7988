// A tenant owner's namespace creation is answered once the gateway's informer holds the namespace, so
// the owner's next list (served from the informer) shows it (issue #20, part 3).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  fakeTenancy,
  json,
  type RecordedCall,
  run,
  TENANT_LABEL,
} from "../../../test/support/gateway-fakes.ts";
import { namespaceCreation } from "./namespace-create.ts";

const made = (c: RecordedCall, rv: string) => {
  const body = JSON.parse(String(c.body)) as { metadata: Record<string, unknown> };
  return json(201, { ...body, metadata: { ...body.metadata, resourceVersion: rv, uid: "u1" } });
};

describe("namespace creation by a tenant owner", () => {
  it("waits for the informer to reach the created namespace's resourceVersion; a dry run waits for nothing", async () => {
    const seen: string[] = [];
    const r = await run(namespaceCreation, {
      method: "POST",
      url: "/api/v1/namespaces",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "oil-new" } }),
      tenancy: fakeTenancy({ owned: ["oil"], seen }),
      script: (c) => made(c, /dryRun/.test(c.path ?? "") ? "" : "777"),
    });
    assert.equal(r.code, 201);
    const body = r.res.json() as { metadata: { labels: Record<string, string> } };
    assert.equal(body.metadata.labels[TENANT_LABEL], "oil");
    assert.deepEqual(seen, ["777"]);

    const dry: string[] = [];
    const d = await run(namespaceCreation, {
      method: "POST",
      url: "/api/v1/namespaces?dryRun=All",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "oil-dry" } }),
      tenancy: fakeTenancy({ owned: ["oil"], seen: dry }),
      script: (c) => made(c, "778"),
    });
    assert.equal(d.code, 201);
    assert.deepEqual(dry, []);
  });
});
