import { Command, Option } from "commander";
import { z } from "zod";
import {
  days,
  dnsList,
  ipList,
  keyBits,
  keyType,
  list,
  nonEmpty,
  parseOptions,
  path,
  repeated,
} from "../config/validate.ts";
import {
  type CertifiedKey,
  createCA,
  createClientCert,
  createServerCert,
  loadCA,
  serviceDnsNames,
} from "../pki/certificates.ts";
import { readInput, writeOutputs } from "../pki/files.ts";
import type { KeySpec } from "../pki/keys.ts";
import { KubegateError } from "../status/errors.ts";

const keyOptions = {
  keyType: keyType.default("ecdsa"),
  keyBits: keyBits.default(2048),
  force: z.boolean().default(false),
};
const outputs = { outCert: path, outKey: path };
const signer = { caCert: path, caKey: path };

function keySpec(o: { keyType: "ecdsa" | "rsa"; keyBits: 2048 | 3072 | 4096 }): KeySpec {
  return o.keyType === "rsa" ? { type: "rsa", bits: o.keyBits } : { type: "ecdsa" };
}

function addKeyOptions(cmd: Command): Command {
  return cmd
    .requiredOption("--out-cert <file>", "where to write the certificate (PEM)")
    .requiredOption("--out-key <file>", "where to write the private key (PEM, mode 0600)")
    .option("--days <n>", "validity in days")
    .addOption(new Option("--key-type <type>", "key algorithm").choices(["ecdsa", "rsa"]).default("ecdsa"))
    .option("--key-bits <n>", "RSA modulus length (2048, 3072, 4096)", "2048")
    .option("--force", "overwrite an existing key file", false);
}

async function loadSigner(o: { caCert: string; caKey: string }) {
  return loadCA(await readInput(o.caCert, "CA certificate"), await readInput(o.caKey, "CA key"));
}

async function save(
  o: { outCert: string; outKey: string; force: boolean },
  pair: CertifiedKey,
  what: string,
) {
  if (o.outCert === o.outKey) throw new KubegateError("--out-cert and --out-key must be different files");
  await writeOutputs(
    [
      { path: o.outCert, content: pair.certPem, secret: false },
      { path: o.outKey, content: pair.keyPem, secret: true },
    ],
    { force: o.force },
  );
  console.log(`wrote ${what} certificate ${o.outCert} and key ${o.outKey}`);
}

const caSchema = z.object({
  cn: nonEmpty.default("kubegate-ca"),
  days: days.optional(),
  ...keyOptions,
  ...outputs,
});
const serverSchema = z.object({
  cn: nonEmpty,
  dns: dnsList,
  ip: ipList,
  service: list.refine((v) => v.every((s) => /^[a-z0-9-]+\.[a-z0-9-]+$/.test(s)), {
    message: "must be SERVICE.NAMESPACE",
  }),
  o: repeated,
  days: days.optional(),
  ...keyOptions,
  ...outputs,
  ...signer,
});
const clientSchema = z.object({
  cn: nonEmpty,
  o: repeated,
  days: days.optional(),
  ...keyOptions,
  ...outputs,
  ...signer,
});

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function certsCommand(): Command {
  const certs = new Command("certs").description(
    "create a CA, serving and client certificates (ECDSA P-256 by default, RSA on request)",
  );

  addKeyOptions(
    certs
      .command("ca")
      .description("create a self-signed certificate authority")
      .option("--cn <name>", "common name of the CA", "kubegate-ca"),
  ).action(async (raw) => {
    const o = parseOptions(caSchema, raw);
    const ca = await createCA(o.cn, { days: o.days ?? 3650, key: keySpec(o) });
    await save(o, ca, "CA");
  });

  addKeyOptions(
    certs
      .command("server")
      .description("create a TLS serving certificate signed by a CA")
      .requiredOption("--ca-cert <file>", "CA certificate (PEM)")
      .requiredOption("--ca-key <file>", "CA private key (PEM)")
      .requiredOption("--cn <name>", "common name, e.g. kubegate.kubegate.svc")
      .option("--dns <names>", "DNS subject alternative names, comma separated or repeated", collect)
      .option("--ip <addresses>", "IP subject alternative names, comma separated or repeated", collect)
      .option(
        "--service <svc.ns>",
        "add every in-cluster name of a Service: svc, svc.ns, svc.ns.svc, svc.ns.svc.cluster.local",
        collect,
      )
      .option("--o <org>", "organization (repeatable)", collect),
  ).action(async (raw) => {
    const o = parseOptions(serverSchema, raw);
    const ca = await loadSigner(o);
    const serviceNames = o.service.flatMap((s) => {
      const [svc = "", ns = ""] = s.split(".");
      return serviceDnsNames(svc, ns);
    });
    const pair = await createServerCert(ca, {
      cn: o.cn,
      dnsNames: [...o.dns, ...serviceNames],
      ipAddresses: o.ip,
      organizations: o.o,
      days: o.days,
      key: keySpec(o),
    });
    await save(o, pair, "server");
  });

  addKeyOptions(
    certs
      .command("client")
      .description("create a client certificate: CN is the user name, each O a group")
      .requiredOption("--ca-cert <file>", "CA certificate (PEM)")
      .requiredOption("--ca-key <file>", "CA private key (PEM)")
      .requiredOption("--cn <user>", "user name")
      .option("--o <group>", "group (repeatable)", collect),
  ).action(async (raw) => {
    const o = parseOptions(clientSchema, raw);
    const ca = await loadSigner(o);
    const pair = await createClientCert(ca, { cn: o.cn, organizations: o.o, days: o.days, key: keySpec(o) });
    await save(o, pair, "client");
  });

  return certs;
}
