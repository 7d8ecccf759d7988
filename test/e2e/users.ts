import assert from "node:assert/strict";
import { join } from "node:path";
import { kubegate } from "./run.ts";

export interface UserSpec {
  /** Directory for the files. */
  dir: string;
  name: string;
  groups?: readonly string[];
  /** CA that signs the client certificate. */
  signer: { cert: string; key: string };
  /** Endpoint and the CA of its serving certificate. */
  server: string;
  serverCa: string;
}

/**
 * Makes a user the way an operator would: `kubegate certs client` then `kubegate kubeconfig`, both run
 * as the real CLI. Returns the kubeconfig path.
 */
export async function makeUserKubeconfig(u: UserSpec): Promise<string> {
  const cert = join(u.dir, `${u.name}.crt`);
  const key = join(u.dir, `${u.name}.key`);
  const kubeconfig = join(u.dir, `${u.name}.kubeconfig`);
  const groups = (u.groups ?? []).flatMap((g) => ["--o", g]);
  const signed = await kubegate(
    ...["certs", "client", "--ca-cert", u.signer.cert, "--ca-key", u.signer.key, "--cn", u.name],
    ...[...groups, "--out-cert", cert, "--out-key", key, "--force"],
  );
  assert.equal(signed.code, 0, signed.stderr);
  const written = await kubegate(
    ...["kubeconfig", "--server", u.server, "--ca-cert", u.serverCa, "--client-cert", cert],
    ...["--client-key", key, "--user", u.name, "--out", kubeconfig, "--force"],
  );
  assert.equal(written.code, 0, written.stderr);
  return kubeconfig;
}
