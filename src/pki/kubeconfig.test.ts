import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { renderKubeconfig } from "./kubeconfig.ts";

describe("renderKubeconfig", () => {
  it("embeds CA, certificate and key and names the context after the user", () => {
    const text = renderKubeconfig({
      server: "https://127.0.0.1:9443",
      caCertPem: "CA",
      user: "alice",
      clientCertPem: "CERT",
      clientKeyPem: "KEY",
      namespace: "team-a",
    });
    const config = parse(text);
    assert.equal(config.kind, "Config");
    assert.equal(config["current-context"], "alice");
    assert.deepEqual(config.contexts, [
      { name: "alice", context: { cluster: "kubegate", user: "alice", namespace: "team-a" } },
    ]);
    assert.equal(config.clusters[0].cluster.server, "https://127.0.0.1:9443");
    assert.equal(
      Buffer.from(config.clusters[0].cluster["certificate-authority-data"], "base64").toString(),
      "CA",
    );
    assert.equal(Buffer.from(config.users[0].user["client-certificate-data"], "base64").toString(), "CERT");
    assert.equal(Buffer.from(config.users[0].user["client-key-data"], "base64").toString(), "KEY");
  });

  it("writes a token user without certificate fields", () => {
    const config = parse(
      renderKubeconfig({ server: "https://h", caCertPem: "CA", user: "bot", token: "abc" }),
    );
    assert.deepEqual(config.users[0].user, { token: "abc" });
  });
});
