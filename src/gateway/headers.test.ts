import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { impersonationHeaders, readClientHeaders, responseHeaders } from "./headers.ts";

const raw = (...pairs: [string, string][]) => pairs.flat();

describe("readClientHeaders", () => {
  it("keeps ordinary headers, repeated ones as lists", () => {
    const h = readClientHeaders(
      raw(["Accept", "application/json"], ["X-Custom", "a"], ["x-custom", "b"], ["User-Agent", "kubectl"]),
    );
    assert.deepEqual(h.forward, {
      accept: "application/json",
      "x-custom": ["a", "b"],
      "user-agent": "kubectl",
    });
    assert.equal(h.impersonation, undefined);
    assert.equal(h.authorization, undefined);
  });

  it("never forwards identity, forwarding or hop-by-hop headers, in any letter case", () => {
    const h = readClientHeaders(
      raw(
        ["Authorization", "Bearer x"],
        ["X-Remote-User", "admin"],
        ["x-REMOTE-group", "system:masters"],
        ["X-Remote-Extra-Scopes", "all"],
        ["X-Forwarded-For", "1.2.3.4"],
        ["Forwarded", "for=1.2.3.4"],
        ["X-Real-IP", "1.2.3.4"],
        ["Connection", "keep-alive, X-Secret-Thing"],
        ["X-Secret-Thing", "v"],
        ["Keep-Alive", "timeout=5"],
        ["Transfer-Encoding", "chunked"],
        ["TE", "trailers"],
        ["Proxy-Authorization", "Basic x"],
        ["Host", "evil"],
        [":authority", "evil"],
        ["Accept", "*/*"],
      ),
    );
    assert.deepEqual(h.forward, { accept: "*/*" });
    assert.equal(h.authorization, "Bearer x");
  });

  it("collects client impersonation (kubectl --as) for judgement instead of forwarding it", () => {
    const h = readClientHeaders(
      raw(
        ["Impersonate-User", "bob"],
        ["impersonate-group", "g1"],
        ["IMPERSONATE-GROUP", "g2"],
        ["Impersonate-Uid", "u-1"],
        ["Impersonate-Extra-Scopes", "view"],
        ["impersonate-extra-scopes", "edit"],
        ["Impersonate-Extra-Example.com%2Fkey", "v"],
      ),
    );
    assert.deepEqual(h.impersonation, {
      user: "bob",
      uid: "u-1",
      groups: ["g1", "g2"],
      extra: { scopes: ["view", "edit"], "example.com/key": ["v"] },
    });
    assert.deepEqual(h.forward, {});
  });

  it("treats impersonation named in Connection as impersonation, not as something to drop silently", () => {
    const h = readClientHeaders(raw(["Connection", "Impersonate-User"], ["Impersonate-User", "admin"]));
    assert.equal(h.impersonation?.user, "admin");
  });

  it("refuses ambiguity: two users, two uids, two Authorization headers, unknown Impersonate-*", () => {
    assert.throws(
      () => readClientHeaders(raw(["Impersonate-User", "a"], ["impersonate-user", "b"])),
      /more than one Impersonate-User/,
    );
    assert.throws(
      () => readClientHeaders(raw(["Impersonate-Uid", "a"], ["Impersonate-Uid", "b"])),
      /more than one Impersonate-Uid/,
    );
    assert.throws(
      () => readClientHeaders(raw(["Authorization", "Bearer a"], ["authorization", "Bearer b"])),
      /more than one Authorization/,
    );
    assert.throws(() => readClientHeaders(raw(["Impersonate-Admin", "yes"])), /unknown impersonation header/);
    assert.throws(() => readClientHeaders(raw(["Impersonate-Extra-%zz", "v"])), /invalid percent-encoding/);
  });

  it("captures the Upgrade protocol separately", () => {
    const h = readClientHeaders(
      raw(
        ["Connection", "Upgrade"],
        ["Upgrade", "SPDY/3.1"],
        ["X-Stream-Protocol-Version", "v4.channel.k8s.io"],
      ),
    );
    assert.equal(h.upgrade, "SPDY/3.1");
    assert.deepEqual(h.forward, { "x-stream-protocol-version": "v4.channel.k8s.io" });
  });
});

describe("a bearer token as a WebSocket subprotocol", () => {
  const offer = (token: string) =>
    `base64url.bearer.authorization.k8s.io.${Buffer.from(token).toString("base64url")}`;

  it("authenticates like an Authorization header and is never forwarded", () => {
    const h = readClientHeaders([
      "Sec-WebSocket-Protocol",
      `v5.channel.k8s.io, ${offer("tok-123.abc")}, v4.channel.k8s.io`,
    ]);
    assert.equal(h.authorization, "Bearer tok-123.abc");
    assert.equal(h.forward["sec-websocket-protocol"], "v5.channel.k8s.io, v4.channel.k8s.io");
    const only = readClientHeaders(["sec-websocket-protocol", offer("t")]);
    assert.equal(only.authorization, "Bearer t");
    assert.equal(only.forward["sec-websocket-protocol"], undefined);
  });

  it("leaves an Authorization header in charge, and still strips the offered token", () => {
    const h = readClientHeaders([
      "Authorization",
      "Bearer from-header",
      "Sec-WebSocket-Protocol",
      `${offer("other")}, v5.channel.k8s.io`,
    ]);
    assert.equal(h.authorization, "Bearer from-header");
    assert.equal(h.forward["sec-websocket-protocol"], "v5.channel.k8s.io");
  });

  it("refuses two tokens, padding or other base64, an empty or non-printable token", () => {
    for (const value of [
      `${offer("a")}, ${offer("b")}`,
      "base64url.bearer.authorization.k8s.io.dG9rZW4=",
      "base64url.bearer.authorization.k8s.io.a+b/",
      "base64url.bearer.authorization.k8s.io.",
      offer("two words"),
      offer("new\nline"),
    ])
      assert.throws(
        () => readClientHeaders(["Sec-WebSocket-Protocol", value]),
        (e: { status: { code: number } }) => e.status.code === 401,
        value,
      );
  });

  it("leaves other subprotocols alone", () => {
    const h = readClientHeaders(["Sec-WebSocket-Protocol", "v5.channel.k8s.io"]);
    assert.equal(h.authorization, undefined);
    assert.equal(h.forward["sec-websocket-protocol"], "v5.channel.k8s.io");
  });
});

describe("impersonationHeaders", () => {
  it("sends user, one group header per group, uid and escaped extras", () => {
    assert.deepEqual(
      impersonationHeaders({
        name: "alice",
        uid: "42",
        groups: ["team-a", "dev"],
        extra: { "example.com/scope with space": ["a", "b"], empty: [] },
      }),
      {
        "impersonate-user": "alice",
        "impersonate-group": ["team-a", "dev"],
        "impersonate-uid": "42",
        "impersonate-extra-example.com%2Fscope%20with%20space": ["a", "b"],
      },
    );
    assert.deepEqual(impersonationHeaders({ name: "x", groups: [], extra: {} }), { "impersonate-user": "x" });
  });
});

describe("responseHeaders", () => {
  it("drops hop-by-hop and Connection-named headers so HTTP/2 clients can receive them", () => {
    assert.deepEqual(
      responseHeaders({
        "content-type": "application/json",
        connection: "keep-alive, x-hop",
        "x-hop": "1",
        "transfer-encoding": "chunked",
        "keep-alive": "timeout=5",
        "audit-id": "abc",
        "set-cookie": ["a", "b"],
      }),
      { "content-type": "application/json", "audit-id": "abc", "set-cookie": ["a", "b"] },
    );
  });
});
