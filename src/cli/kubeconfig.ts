import { X509Certificate } from "node:crypto";
import { Command } from "commander";
import { z } from "zod";
import { nonEmpty, parseOptions, path } from "../config/validate.ts";
import { readInput, writeOutputs } from "../pki/files.ts";
import { publicKeyDerOf } from "../pki/keys.ts";
import { renderKubeconfig } from "../pki/kubeconfig.ts";
import { KubegateError } from "../status/errors.ts";

const schema = z
  .object({
    server: z.url({ protocol: /^https?$/, message: "must be an http(s) URL, e.g. https://127.0.0.1:9443" }),
    caCert: path,
    clientCert: path.optional(),
    clientKey: path.optional(),
    token: z.string().min(1, "must not be empty").optional(),
    user: nonEmpty,
    cluster: nonEmpty.default("kubegate"),
    namespace: nonEmpty.optional(),
    out: path,
    force: z.boolean().default(false),
  })
  .refine((o) => (o.clientCert === undefined) === (o.clientKey === undefined), {
    path: ["clientCert"],
    message: "--client-cert and --client-key go together",
  })
  .refine((o) => o.clientCert !== undefined || o.token !== undefined, {
    path: ["clientCert"],
    message: "give a client certificate (--client-cert/--client-key) or a --token",
  });

function checkCertificate(pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new KubegateError(`${what} is not a PEM certificate: ${(err as Error).message}`);
  }
}

export function kubeconfigCommand(): Command {
  return new Command("kubeconfig")
    .description("write a self-contained kubeconfig (embedded data) with a context named after the user")
    .requiredOption("--server <url>", "API endpoint, e.g. https://127.0.0.1:9443 (the gateway)")
    .requiredOption("--ca-cert <file>", "CA that signed the server's serving certificate")
    .option("--client-cert <file>", "client certificate (CN = user, O = groups)")
    .option("--client-key <file>", "client private key")
    .option("--token <token>", "bearer token instead of a client certificate")
    .requiredOption("--user <name>", "user entry and context name")
    .option("--cluster <name>", "cluster entry name", "kubegate")
    .option("--namespace <ns>", "default namespace of the context")
    .requiredOption("--out <file>", "where to write the kubeconfig (mode 0600)")
    .option("--force", "overwrite an existing file", false)
    .action(async (raw) => {
      const o = parseOptions(schema, raw);
      const caCertPem = await readInput(o.caCert, "CA certificate");
      checkCertificate(caCertPem, `--ca-cert ${o.caCert}`);
      let clientCertPem: string | undefined;
      let clientKeyPem: string | undefined;
      if (o.clientCert && o.clientKey) {
        clientCertPem = await readInput(o.clientCert, "client certificate");
        clientKeyPem = await readInput(o.clientKey, "client key");
        const cert = checkCertificate(clientCertPem, `--client-cert ${o.clientCert}`);
        let keyDer: Buffer;
        try {
          keyDer = publicKeyDerOf(clientKeyPem);
        } catch (err) {
          throw new KubegateError(
            `--client-key ${o.clientKey} is not a PEM private key: ${(err as Error).message}`,
          );
        }
        if (!keyDer.equals(cert.publicKey.export({ type: "spki", format: "der" }))) {
          throw new KubegateError("--client-key does not belong to --client-cert (their public keys differ)");
        }
      }
      const text = renderKubeconfig({
        server: o.server,
        caCertPem,
        user: o.user,
        clientCertPem,
        clientKeyPem,
        token: o.token,
        clusterName: o.cluster,
        namespace: o.namespace,
      });
      // A kubeconfig holds a key or a token, so it is secret like one.
      await writeOutputs([{ path: o.out, content: text, secret: true }], { force: o.force });
      console.log(`wrote kubeconfig ${o.out} (context "${o.user}")`);
    });
}
