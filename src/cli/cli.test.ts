import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { parse } from "yaml";
import { buildProgram, run } from "./main.ts";

/** Runs the CLI in-process, capturing what it prints. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = {
    log: console.log,
    error: console.error,
    stdout: process.stdout.write,
    stderr: process.stderr.write,
  };
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  process.stdout.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    const code = await run(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    Object.assign(console, { log: saved.log, error: saved.error });
    process.stdout.write = saved.stdout;
    process.stderr.write = saved.stderr;
  }
}

let dir: string;
const at = (name: string) => join(dir, name);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "kg-cli-"));
});

describe("kubegate --help", () => {
  it("every command and subcommand has help", async () => {
    const walk = (cmd: ReturnType<typeof buildProgram>, path: string[]): string[][] => [
      path,
      ...cmd.commands.flatMap((c) => walk(c as ReturnType<typeof buildProgram>, [...path, c.name()])),
    ];
    const paths = walk(buildProgram(), []);
    assert.ok(paths.length >= 5, `found ${paths.length} commands`);
    for (const path of paths) {
      const r = await cli(...path, "--help");
      assert.equal(r.code, 0, path.join(" "));
      assert.match(r.out, /Usage: kubegate/, path.join(" "));
    }
  });
});

describe("kubegate certs + kubeconfig", () => {
  it("makes a CA, a server and a client certificate that chain", async () => {
    assert.equal(
      (await cli("certs", "ca", "--out-cert", at("ca.crt"), "--out-key", at("ca.key"), "--cn", "my-ca")).code,
      0,
    );
    const server = await cli(
      "certs",
      "server",
      "--ca-cert",
      at("ca.crt"),
      "--ca-key",
      at("ca.key"),
      "--cn",
      "gw",
      "--dns",
      "a.example,b.example",
      "--dns",
      "c.example",
      "--ip",
      "127.0.0.1",
      "--service",
      "kubegate.kubegate",
      "--out-cert",
      at("s.crt"),
      "--out-key",
      at("s.key"),
    );
    assert.equal(server.code, 0, server.err);
    assert.match(server.out, /wrote server certificate/);
    const client = await cli(
      "certs",
      "client",
      "--ca-cert",
      at("ca.crt"),
      "--ca-key",
      at("ca.key"),
      "--cn",
      "alice",
      "--o",
      "team-a",
      "--o",
      "dev",
      "--key-type",
      "rsa",
      "--key-bits",
      "2048",
      "--days",
      "30",
      "--out-cert",
      at("c.crt"),
      "--out-key",
      at("c.key"),
    );
    assert.equal(client.code, 0, client.err);

    const ca = new X509Certificate(await readFile(at("ca.crt")));
    const s = new X509Certificate(await readFile(at("s.crt")));
    const c = new X509Certificate(await readFile(at("c.crt")));
    assert.equal(ca.subject, "CN=my-ca");
    assert.ok(s.verify(ca.publicKey) && c.verify(ca.publicKey));
    for (const host of ["a.example", "b.example", "c.example", "kubegate.kubegate.svc.cluster.local"]) {
      assert.equal(s.checkHost(host), host);
    }
    assert.equal(s.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(c.subject, "O=team-a\nO=dev\nCN=alice");
    assert.equal(c.publicKey.asymmetricKeyType, "rsa");
    const days = (new Date(c.validTo).getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 29 && days <= 30, String(days));
    for (const key of ["ca.key", "s.key", "c.key"]) assert.equal(statSync(at(key)).mode & 0o777, 0o600, key);
  });

  it("writes a kubeconfig with the client certificate embedded", async () => {
    const r = await cli(
      "kubeconfig",
      "--server",
      "https://127.0.0.1:9443",
      "--ca-cert",
      at("ca.crt"),
      "--client-cert",
      at("c.crt"),
      "--client-key",
      at("c.key"),
      "--user",
      "alice",
      "--out",
      at("alice.kubeconfig"),
    );
    assert.equal(r.code, 0, r.err);
    const config = parse(await readFile(at("alice.kubeconfig"), "utf8"));
    assert.equal(config["current-context"], "alice");
    assert.equal(
      Buffer.from(config.users[0].user["client-certificate-data"], "base64").toString(),
      await readFile(at("c.crt"), "utf8"),
    );
    assert.equal(statSync(at("alice.kubeconfig")).mode & 0o777, 0o600);
  });

  it("explains bad input and writes nothing", async () => {
    const cases: [string[], RegExp][] = [
      [
        [
          "certs",
          "client",
          "--ca-cert",
          at("ca.crt"),
          "--ca-key",
          at("s.key"),
          "--cn",
          "x",
          "--out-cert",
          at("x.crt"),
          "--out-key",
          at("x.key"),
        ],
        /CA key does not match the CA certificate/,
      ],
      [
        [
          "certs",
          "client",
          "--ca-cert",
          at("s.crt"),
          "--ca-key",
          at("s.key"),
          "--cn",
          "x",
          "--out-cert",
          at("x.crt"),
          "--out-key",
          at("x.key"),
        ],
        /is not a CA/,
      ],
      [
        [
          "certs",
          "client",
          "--ca-cert",
          at("missing.crt"),
          "--ca-key",
          at("ca.key"),
          "--cn",
          "x",
          "--out-cert",
          at("x.crt"),
          "--out-key",
          at("x.key"),
        ],
        /cannot read CA certificate .*missing\.crt: no such file/,
      ],
      [
        [
          "certs",
          "client",
          "--ca-cert",
          at("ca.crt"),
          "--ca-key",
          at("ca.key"),
          "--cn",
          "alice",
          "--out-cert",
          at("c.crt"),
          "--out-key",
          at("c.key"),
        ],
        /refusing to overwrite existing .*c\.key/,
      ],
      [
        [
          "certs",
          "server",
          "--ca-cert",
          at("ca.crt"),
          "--ca-key",
          at("ca.key"),
          "--cn",
          "x",
          "--dns",
          "bad_name",
          "--ip",
          "1.2.3",
          "--days",
          "0",
          "--out-cert",
          at("x.crt"),
          "--out-key",
          at("x.key"),
        ],
        /--dns: .*\n.*--ip: .*\n.*--days: must be at least 1/,
      ],
      [
        [
          "certs",
          "ca",
          "--key-bits",
          "1024",
          "--key-type",
          "rsa",
          "--out-cert",
          at("x.crt"),
          "--out-key",
          at("x.key"),
        ],
        /--key-bits: must be 2048, 3072 or 4096/,
      ],
      [["certs", "ca", "--out-cert", at("x.crt"), "--out-key", at("x.crt")], /must be different files/],
      [
        [
          "kubeconfig",
          "--server",
          "ftp://x",
          "--ca-cert",
          at("ca.crt"),
          "--token",
          "t",
          "--user",
          "u",
          "--out",
          at("x.kubeconfig"),
        ],
        /--server: must be an http\(s\) URL/,
      ],
      [
        [
          "kubeconfig",
          "--server",
          "https://x",
          "--ca-cert",
          at("ca.crt"),
          "--client-cert",
          at("c.crt"),
          "--user",
          "u",
          "--out",
          at("x.kubeconfig"),
        ],
        /--client-cert and --client-key go together/,
      ],
      [
        [
          "kubeconfig",
          "--server",
          "https://x",
          "--ca-cert",
          at("ca.crt"),
          "--client-cert",
          at("c.crt"),
          "--client-key",
          at("s.key"),
          "--user",
          "u",
          "--out",
          at("x.kubeconfig"),
        ],
        /--client-key does not belong to --client-cert/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.err, message, args.join(" "));
    }
    for (const file of ["x.crt", "x.key", "x.kubeconfig"])
      assert.ok(!existsSync(at(file)), `${file} was written`);
  });

  it("reports a missing required option with usage help", async () => {
    const r = await cli("certs", "client", "--cn", "x");
    assert.notEqual(r.code, 0);
    assert.match(r.err, /required option '--out-cert <file>' not specified|required option/);
  });
});
