// OIDC against a real identity provider (issue #21): Dex, built from its Go module, signs users of its
// password database in through the password grant; kubectl presents the ID token to the gateway with
// --token and through an exec credential plugin, and the groups Dex put in the token reach RBAC.
import assert from "node:assert/strict";
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ensureClientBinaries } from "../../src/devcluster/build.ts";
import { useCluster } from "../cluster/harness.ts";
import { type Dex, startDex } from "../support/dex.ts";
import { startGatewayProcess } from "../support/gateway-process.ts";
import { rawRequest } from "../support/https-client.ts";
import { applyYaml, gatewayArgs, prepareGatewayEnv, readText } from "./gateway-env.ts";
import { gatedPod, kubectl, ok } from "./run.ts";

// bcrypt (cost 10) of each user's password, made once with golang.org/x/crypto/bcrypt: Dex stores
// only hashes, and nothing here can make bcrypt.
const ADA = {
  email: "ada@dex.example",
  username: "dex-ada",
  password: "dex-ada-pw-7f3k",
  bcrypt: "$2a$10$cTfsyIOy3o7ECbkVxVG8..daaXWrBPRGPGqw6R7FOUW0Nlp4CeJQS",
  groups: ["dex-readers", "dex-everyone"],
};
const BOB = {
  email: "bob@dex.example",
  username: "dex-bob",
  password: "dex-bob-pw-2q9z",
  bcrypt: "$2a$10$U7OujrGnUPu5j5Vd3/2GzewKEazCNmtZsUQ7FggTGp0ejzsGjwyrm",
  groups: ["dex-everyone"],
};
const NS = "dex-oidc";

const cluster = await useCluster();
const env = await prepareGatewayEnv(cluster);
await applyYaml(
  cluster,
  env.dir,
  "dex-rbac.yaml",
  `
apiVersion: v1
kind: Namespace
metadata: { name: ${NS} }
---
# A Role of its own: the aggregated "view" has no rules in a cluster without a controller manager.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: pod-reader, namespace: ${NS} }
rules: [{ apiGroups: [""], resources: [pods], verbs: [get, list, watch] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: dex-readers, namespace: ${NS} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: Group, name: "dex:dex-readers" }]
`,
);
await gatedPod(cluster.adminKubeconfig, NS, "dex-pod");

/** A kubeconfig with the gateway and its CA and no credentials: kubectl is given them otherwise. */
async function gatewayKubeconfig(url: string, name: string, user: Record<string, unknown>): Promise<string> {
  const file = join(env.dir, `${name}.kubeconfig`);
  await writeFile(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "gw", cluster: { server: url, "certificate-authority": env.servingCa.cert } }],
      users: [{ name, user }],
      contexts: [{ name, context: { cluster: "gw", user: name } }],
      "current-context": name,
    }),
  );
  return file;
}

/** An exec credential plugin that hands kubectl this token, as a login helper for Dex would. */
async function execPlugin(name: string, token: string): Promise<Record<string, unknown>> {
  const script = join(env.dir, `${name}-credential.sh`);
  const credential = {
    apiVersion: "client.authentication.k8s.io/v1",
    kind: "ExecCredential",
    status: { token },
  };
  await writeFile(script, `#!/bin/sh\ncat <<'EOF'\n${JSON.stringify(credential)}\nEOF\n`);
  await chmod(script, 0o755);
  return {
    exec: { apiVersion: "client.authentication.k8s.io/v1", command: script, interactiveMode: "Never" },
  };
}

describe("OIDC with Dex (a real identity provider) through the gateway", () => {
  let dex: Dex;
  let gatewayUrl = "";
  let stopGateway = async () => {};
  before(async () => {
    const { dex: binary } = await ensureClientBinaries({
      log: (l) => process.stderr.write(`# dex: ${l}\n`),
    });
    dex = await startDex({ binary, users: [ADA, BOB], clientIds: ["kubegate", "another-app"] });
    const gw = await startGatewayProcess(
      gatewayArgs(env, [
        ...["--oidc-issuer-url", dex.issuer, "--oidc-client-id", "kubegate", "--oidc-ca-file", dex.caFile],
        ...["--oidc-groups-claim", "groups", "--oidc-groups-prefix", "dex:"],
      ]),
    );
    gatewayUrl = gw.url;
    stopGateway = async () => {
      await gw.stop();
    };
  });
  after(async () => {
    await stopGateway();
    await dex?.stop();
  });

  it("Dex's ID token carries the user's groups and is for the client that asked", async () => {
    const token = await dex.idToken(ADA.email, ADA.password);
    const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as Record<
      string,
      unknown
    >;
    assert.equal(claims.iss, dex.issuer);
    assert.equal(claims.aud, "kubegate");
    assert.equal(claims.preferred_username, ADA.username);
    assert.deepEqual(claims.groups, ADA.groups);
    const wrong = await dex.passwordGrant(ADA.email, "not-the-password");
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, "access_denied");
  });

  it("kubectl --token: whoami is the Dex user with its groups; the group's RoleBinding decides", async () => {
    const kubeconfig = await gatewayKubeconfig(gatewayUrl, "dex-token", {});
    const ada = await dex.idToken(ADA.email, ADA.password);
    const bob = await dex.idToken(BOB.email, BOB.password);
    const who = await kubectl(kubeconfig, `--token=${ada}`, "auth", "whoami", "-o", "json");
    assert.equal(who.code, 0, who.stderr);
    const user = JSON.parse(who.stdout).status.userInfo;
    assert.equal(user.username, ADA.username);
    assert.deepEqual(user.groups, ["dex:dex-readers", "dex:dex-everyone", "system:authenticated"]);

    const pods = await kubectl(kubeconfig, `--token=${ada}`, "get", "pods", "-n", NS, "-o", "name");
    assert.equal(pods.code, 0, pods.stderr);
    assert.equal(pods.stdout.trim(), "pod/dex-pod");

    const denied = await kubectl(kubeconfig, `--token=${bob}`, "get", "pods", "-n", NS);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /Forbidden.*"dex-bob" cannot list resource "pods"/);
  });

  it("an exec credential plugin (client.authentication.k8s.io/v1) works the same", async () => {
    const ada = await gatewayKubeconfig(
      gatewayUrl,
      "dex-exec-ada",
      await execPlugin("ada", await dex.idToken(ADA.email, ADA.password)),
    );
    const who = await kubectl(ada, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}");
    assert.equal(who.code, 0, who.stderr);
    assert.equal(who.stdout, ADA.username);
    assert.equal((await ok(kubectl(ada, "get", "pods", "-n", NS, "-o", "name"))).trim(), "pod/dex-pod");
    assert.equal((await ok(kubectl(ada, "auth", "can-i", "list", "pods", "-n", NS))).trim(), "yes");

    const bob = await gatewayKubeconfig(
      gatewayUrl,
      "dex-exec-bob",
      await execPlugin("bob", await dex.idToken(BOB.email, BOB.password)),
    );
    const denied = await kubectl(bob, "get", "pods", "-n", NS);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /Forbidden/);
  });

  it("a Dex token with a tampered signature, or issued to another client, is a 401 Status", async () => {
    const good = await dex.idToken(ADA.email, ADA.password);
    const [header, payload, signature = ""] = good.split(".");
    // Flips bits in the middle of the signature, where base64url has no padding slack.
    const middle = Math.floor(signature.length / 2);
    const flipped = signature[middle] === "A" ? "B" : "A";
    const tampered = `${header}.${payload}.${signature.slice(0, middle)}${flipped}${signature.slice(middle + 1)}`;
    const foreign = await dex.idToken(ADA.email, ADA.password, "another-app");
    assert.equal(
      JSON.parse(Buffer.from(foreign.split(".")[1] ?? "", "base64url").toString()).aud,
      "another-app",
    );
    const ca = await readText(env.servingCa.cert);
    for (const [what, token] of [
      ["tampered signature", tampered],
      ["another client's token", foreign],
    ] as const) {
      const r = await rawRequest(gatewayUrl, {
        path: `/api/v1/namespaces/${NS}/pods`,
        headers: [["Authorization", `Bearer ${token}`]],
        ca,
      });
      assert.equal(r.status, 401, `${what}: ${r.body}`);
      const status = JSON.parse(r.body) as { kind: string; reason: string; code: number };
      assert.deepEqual([status.kind, status.reason, status.code], ["Status", "Unauthorized", 401], what);
      const kubeconfig = await gatewayKubeconfig(gatewayUrl, "dex-bad", {});
      const k = await kubectl(kubeconfig, `--token=${token}`, "get", "pods", "-n", NS);
      assert.notEqual(k.code, 0, what);
      assert.match(k.stderr, /Unauthorized/, what);
    }
    // The untampered token still works: the 401s above are about the tokens, not the gateway.
    const control = await rawRequest(gatewayUrl, {
      path: `/api/v1/namespaces/${NS}/pods`,
      headers: [["Authorization", `Bearer ${good}`]],
      ca,
    });
    assert.equal(control.status, 200, control.body);
  });
});
