import { readFile } from "node:fs/promises";
import { fromKubeconfig } from "../kube/connection.ts";
import { checkClientCertificate, parseBundle } from "./cert-checks.ts";
import { describeError } from "./kube-api.ts";
import { type Check, type Finding, problem, skipped } from "./types.ts";

/** The client certificate PEM and a name for it in messages, or why there is none. */
async function load(o: {
  clientKubeconfig?: string;
  clientCert?: string;
}): Promise<{ pem: string; source: string } | Finding> {
  if (o.clientCert) {
    try {
      return { pem: await readFile(o.clientCert, "utf8"), source: o.clientCert };
    } catch (err) {
      return problem(`cannot read --client-cert ${o.clientCert}: ${describeError(err)}`);
    }
  }
  if (o.clientKubeconfig) {
    try {
      const conn = fromKubeconfig(o.clientKubeconfig);
      if (!conn.cert) {
        return skipped(
          `kubeconfig ${o.clientKubeconfig} authenticates with a token, not a client certificate`,
        );
      }
      return { pem: conn.cert, source: `in ${o.clientKubeconfig}` };
    } catch (err) {
      return problem(describeError(err));
    }
  }
  return skipped("no client certificate given (--client-kubeconfig FILE or --client-cert FILE)");
}

export const clientCertCheck: Check = {
  id: "client-cert",
  title: "client certificate",
  async run(ctx): Promise<Finding[]> {
    const loaded = await load(ctx);
    if ("outcome" in loaded) return [loaded];
    const { certs, errors } = parseBundle(loaded.pem);
    const leaf = certs[0];
    if (!leaf) {
      return [
        problem(`client certificate ${loaded.source} is not a readable PEM certificate ${errors.join("; ")}`),
      ];
    }
    return checkClientCertificate(leaf, ctx.now, loaded.source);
  },
};
