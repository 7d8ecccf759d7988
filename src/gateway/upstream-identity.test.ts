import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Upstream } from "../kube/upstream.ts";
import { frontProxy, frontProxyHeaders, impersonating } from "./upstream-identity.ts";

const user = {
  name: "alice",
  uid: "u-1",
  groups: ["team-a", "dev"],
  extra: { "authentication.kubernetes.io/credential-id": ["JTI=1"], scopes: ["a", "b"], empty: [] },
};

describe("upstream identity", () => {
  it("front-proxy: the user in X-Remote-* headers, extra keys percent-encoded, no Authorization", () => {
    assert.deepEqual(frontProxyHeaders(user), {
      "x-remote-user": "alice",
      "x-remote-group": ["team-a", "dev"],
      "x-remote-uid": "u-1",
      "x-remote-extra-authentication.kubernetes.io%2Fcredential-id": ["JTI=1"],
      "x-remote-extra-scopes": ["a", "b"],
    });
    assert.deepEqual(frontProxyHeaders({ name: "bob", groups: [], extra: {} }), { "x-remote-user": "bob" });
  });

  it("impersonate: Impersonate-* headers with the gateway's own token; front-proxy: never the token", async () => {
    const upstream = new Upstream({
      server: new URL("https://127.0.0.1:1"),
      token: () => "gateway-token",
      source: "test",
    });
    try {
      const imp = impersonating(upstream).headers(user);
      assert.equal(imp.authorization, "Bearer gateway-token");
      assert.equal(imp["impersonate-user"], "alice");
      assert.deepEqual(imp["impersonate-group"], ["team-a", "dev"]);
      assert.equal(imp["x-remote-user"], undefined);

      const fp = frontProxy(upstream, { cert: "unused", key: "unused" });
      try {
        const h = fp.headers(user);
        assert.equal(h.authorization, undefined);
        assert.ok(!Object.keys(h).some((k) => k.startsWith("impersonate-")));
        assert.notEqual(fp.pool(false), upstream.pool, "user requests use the front-proxy connections");
        assert.notEqual(fp.pool(true), fp.pool(false), "streams have a pool of their own");
      } finally {
        await fp.close();
      }
    } finally {
      await upstream.close();
    }
  });
});
