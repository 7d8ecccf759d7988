import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { describe, it } from "node:test";
import { fetchServedCertificates } from "./tls-probe.ts";

describe("fetching served certificates", () => {
  it("a server that accepts but never answers the handshake fails with a stable code, in time", async () => {
    const held: Socket[] = [];
    const silent = createServer((s) => held.push(s));
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    const { port } = silent.address() as AddressInfo;
    try {
      const started = Date.now();
      await assert.rejects(fetchServedCertificates({ host: "127.0.0.1", port }, "x.svc", 200), {
        code: "KUBEGATE_TLS_HANDSHAKE_TIMEOUT",
      });
      assert.ok(Date.now() - started < 2_000);
    } finally {
      for (const s of held) s.destroy();
      silent.close();
    }
  });
});
