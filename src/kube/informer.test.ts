import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Logger } from "../observability/logger.ts";
import { Informer } from "./informer.ts";
import type { Upstream } from "./upstream.ts";

/** An upstream that answers the informer's list and watch with these HTTP codes. */
function refusing(listCode: number, watchCode: number): Upstream {
  return {
    json: () =>
      Promise.resolve({
        code: listCode,
        body: { metadata: { resourceVersion: "5" }, items: [], message: "no" },
      }),
    ownHeaders: () => ({}),
    streams: {
      request: () => Promise.resolve({ statusCode: watchCode, body: { text: () => Promise.resolve("") } }),
    },
  } as unknown as Upstream;
}

/** The first warning the informer logs, with what it logged it with; the informer stops there. */
function firstWarning(upstream: Upstream): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const log = {
      warn: (fields: Record<string, unknown>) => {
        informer.stop();
        resolve(fields);
      },
    } as unknown as Logger;
    const informer = new Informer(upstream, "/api/v1/namespaces", log).start();
  });
}

describe("informer failures", () => {
  it("a list or a watch the apiserver refuses is logged with a stable code", async () => {
    const list = await firstWarning(refusing(403, 200));
    assert.equal(list.code, "KUBEGATE_UPSTREAM_REFUSED");
    assert.equal(list.path, "/api/v1/namespaces");
    const watch = await firstWarning(refusing(200, 403));
    assert.equal(watch.code, "KUBEGATE_UPSTREAM_REFUSED");
  });
});
