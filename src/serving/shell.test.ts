import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:https";
import { describe, it } from "node:test";
import { connect } from "node:tls";
import { createLogger } from "../observability/logger.ts";
import { createCA, createServerCert } from "../pki/certificates.ts";
import { listen, ServerShell, type TlsMaterial, TlsReloader, urlOf } from "./shell.ts";

/** The serial of the certificate a TLS client is shown. */
async function servedSerial(port: number, ca: string): Promise<string> {
  const socket = connect({ port, host: "127.0.0.1", ca, servername: "localhost" });
  await once(socket, "secureConnect");
  const serial = socket.getPeerCertificate().serialNumber;
  socket.destroy();
  return serial;
}

describe("serving shell", () => {
  it("swaps in a rotated certificate, and keeps the old one when the new pair is broken", async () => {
    const ca = await createCA("shell-test-ca");
    const first = await createServerCert(ca, { cn: "localhost", ipAddresses: ["127.0.0.1"] });
    const second = await createServerCert(ca, { cn: "localhost", ipAddresses: ["127.0.0.1"] });
    let onDisk: TlsMaterial = { cert: first.certPem, key: first.keyPem };
    const server = createServer({ cert: onDisk.cert, key: onDisk.key }, (_req, res) => res.end("ok"));
    const warnings: string[] = [];
    const log = createLogger("silent");
    log.warn = ((_o: unknown, m: string) => {
      warnings.push(m);
    }) as unknown as typeof log.warn;
    const reloader = new TlsReloader({
      name: "test",
      read: () => onDisk,
      server,
      log,
      intervalMs: 3_600_000,
    });
    const shell = new ServerShell(server, reloader);
    await listen(server, "127.0.0.1", 0);
    const port = Number(new URL(urlOf(server, "https")).port);
    const serialOf = (pem: string) => new X509Certificate(pem).serialNumber;
    try {
      assert.equal(reloader.reload(), false, "nothing changed");
      // Half-rotated: the new certificate with the old key.
      onDisk = { cert: second.certPem, key: first.keyPem };
      assert.equal(reloader.reload(), false);
      assert.match(warnings.join(), /reload skipped/);
      assert.equal(await servedSerial(port, ca.certPem), serialOf(first.certPem));
      onDisk = { cert: second.certPem, key: second.keyPem };
      assert.equal(reloader.reload(), true);
      assert.equal(await servedSerial(port, ca.certPem), serialOf(second.certPem));
    } finally {
      await shell.shutdown();
    }
    assert.equal(server.listening, false);
  });

  it("shuts down once, in order: stop accepting, drain, cut what is left, release", async () => {
    const server = createHttpServer();
    const shell = new ServerShell(server);
    await listen(server, "127.0.0.1", 0);
    const steps: string[] = [];
    const run = () =>
      shell.shutdown({
        stopAccepting: async () => {
          steps.push("stop");
          await new Promise<void>((r) => server.close(() => r()));
        },
        drain: async () => {
          steps.push("drain");
        },
        release: async () => {
          steps.push("release");
        },
      });
    await Promise.all([run(), run()]);
    assert.deepEqual(steps, ["stop", "drain", "release"]);
    assert.equal(shell.closing, true);
  });
});
