// --authentication-config (kube-apiserver's AuthenticationConfiguration) on the real apiserver: three
// issuers in one file, each with its own mapping (one of them all CEL), kubectl's identity as the
// apiserver sees it, tokens that fail a claim or a CEL rule, a reload while the gateway runs, and a
// refused file.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { useCluster } from "../cluster/harness.ts";
import { startGatewayProcess } from "../support/gateway-process.ts";
import { startIssuer, type TestIssuer } from "../support/oidc-issuer.ts";
import { gatewayArgs, prepareGatewayEnv, tokenKubeconfig } from "./gateway-env.ts";
import { kubectl, kubegate } from "./run.ts";

const cluster = await useCluster();
const env = await prepareGatewayEnv(cluster);
const corp = await startIssuer({ audience: "kubegate" });
const dex = await startIssuer({ audience: "dashboards", path: "/dex" });
const cel = await startIssuer({ audience: "kubegate", path: "/cel" });
const dir = await mkdtemp(join(tmpdir(), "kubegate-authn-config-e2e-"));
const file = join(dir, "authentication.yaml");

const indent = (pem: string) => pem.trim().replace(/^/gm, "      ");
function config(corpPrefix: string, issuers: TestIssuer[] = [corp, dex, cel]): string {
  const entries = {
    [corp.url]: `
- issuer:
    url: ${corp.url}
    audiences: [kubegate]
    certificateAuthority: |
${indent(corp.caPem)}
  claimMappings:
    username: { claim: email, prefix: "${corpPrefix}" }
    groups: { claim: groups, prefix: "corp:" }
  claimValidationRules:
  - { claim: hd, requiredValue: corp.example }`,
    [dex.url]: `
- issuer:
    url: ${dex.url}
    audiences: [kubegate, dashboards]
    audienceMatchPolicy: MatchAny
    certificateAuthority: |
${indent(dex.caPem)}
  claimMappings:
    username: { claim: sub, prefix: "dex:" }
    uid: { claim: sub }`,
    [cel.url]: `
- issuer:
    url: ${cel.url}
    audiences: [kubegate]
    certificateAuthority: |
${indent(cel.caPem)}
  claimMappings:
    username: { expression: "'cel:' + claims.preferred_username.lowerAscii()" }
    groups: { expression: "claims.teams.split(',').map(t, 'team:' + t)" }
    uid: { expression: "'id-' + claims.sub" }
    extra:
    - { key: corp.example/cost-centre, valueExpression: "claims.?cc.orValue('')" }
  claimValidationRules:
  - { expression: "claims.exp - claims.iat <= 3600", message: "tokens may live an hour at most" }
  userValidationRules:
  - { expression: "!('team:root' in user.groups)", message: "the root team may not use the gateway" }`,
  };
  return `apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthenticationConfiguration
jwt:${issuers.map((i) => entries[i.url]).join("")}
`;
}

await writeFile(file, config(""));
const gw = await startGatewayProcess(
  gatewayArgs(env, ["--authentication-config", file, "--reload-interval", "200ms"]),
);
after(async () => {
  await gw.stop();
  await corp.close();
  await dex.close();
  await cel.close();
  await rm(dir, { recursive: true, force: true });
});

async function whoami(name: string, token: string) {
  const kubeconfig = await tokenKubeconfig(env, gw.url, name, token);
  return kubectl(kubeconfig, "auth", "whoami", "-o", "json");
}
const userInfo = (stdout: string) =>
  (JSON.parse(stdout) as { status: { userInfo: Record<string, unknown> } }).status.userInfo;

describe("gateway: --authentication-config (AuthenticationConfiguration, several issuers)", () => {
  it("each issuer's tokens carry that issuer's mapping to the apiserver", async () => {
    const a = await whoami(
      "corp-ann",
      await corp.sign({
        email: "ann@corp.example",
        email_verified: true,
        groups: ["sre"],
        hd: "corp.example",
      }),
    );
    assert.equal(a.code, 0, a.stderr);
    assert.equal(userInfo(a.stdout).username, "ann@corp.example");
    assert.deepEqual(userInfo(a.stdout).groups, ["corp:sre", "system:authenticated"]);
    // Issued for the dashboards client: the entry's MatchAny audiences accept it.
    const b = await whoami("dex-bo", await dex.sign({ sub: "bo" }));
    assert.equal(b.code, 0, b.stderr);
    assert.equal(userInfo(b.stdout).username, "dex:bo");
    assert.equal(userInfo(b.stdout).uid, "bo");
  });

  it("a token failing a claim rule, or of an issuer the file does not name, is 401", async () => {
    const stranger = await startIssuer({ audience: "kubegate" });
    try {
      for (const token of [
        await corp.sign({ email: "mal@corp.example", groups: [], hd: "evil.example" }),
        await dex.sign({ sub: "bo", aud: "someone-else" }),
        await stranger.sign({ email: "ann@corp.example", hd: "corp.example" }),
      ]) {
        const r = await whoami("bad", token);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /Unauthorized/);
      }
    } finally {
      await stranger.close();
    }
  });

  it("CEL mappings make the identity the apiserver sees; a token failing a CEL rule is 401", async () => {
    const ok = await whoami(
      "cel-ann",
      await cel.sign({ sub: "7", preferred_username: "Ann", teams: "web,db", cc: "cc-42" }),
    );
    assert.equal(ok.code, 0, ok.stderr);
    const u = userInfo(ok.stdout);
    assert.equal(u.username, "cel:ann");
    assert.equal(u.uid, "id-7");
    assert.deepEqual(u.groups, ["team:web", "team:db", "system:authenticated"]);
    assert.deepEqual(u.extra, { "corp.example/cost-centre": ["cc-42"] });
    const now = Math.floor(Date.now() / 1000);
    for (const claims of [
      { sub: "8", preferred_username: "Bo", teams: "web,root" },
      { sub: "9", preferred_username: "Cy", teams: "web", iat: now, exp: now + 7200 },
      { sub: "10", preferred_username: "Di" },
    ]) {
      const r = await whoami("cel-bad", await cel.sign(claims));
      assert.notEqual(r.code, 0, JSON.stringify(claims));
      assert.match(r.stderr, /Unauthorized/);
    }
  });

  it("a changed file takes effect without a restart; a refused one leaves the last in force", async () => {
    const token = await corp.sign({ email: "ann@corp.example", groups: [], hd: "corp.example" });
    await writeFile(file, config("corp:"));
    let name = "";
    for (let i = 0; i < 50 && name !== "corp:ann@corp.example"; i++) {
      await sleep(100);
      const r = await whoami("corp-ann", token);
      if (r.code === 0) name = String(userInfo(r.stdout).username);
    }
    assert.equal(name, "corp:ann@corp.example");
    // A CEL rule that does not type-check (user rules see no claims): refused, so the previous file
    // (all issuers) stays.
    await writeFile(
      file,
      `${config("x:", [corp])}  userValidationRules: [{ expression: "claims.sub == 'x'" }]\n`,
    );
    await sleep(1000);
    const r = await whoami("dex-bo", await dex.sign({ sub: "bo" }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(userInfo(r.stdout).username, "dex:bo");
  });

  it("refuses to start on a file it cannot honour, naming the field, and next to the --oidc flags", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(
      bad,
      config("").replace('{ claim: sub, prefix: "dex:" }', "{ expression: 'claims.sub.size()' }"),
    );
    const r = await kubegate("gateway", ...gatewayArgs(env, ["--authentication-config", bad]));
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /jwt\[1\]\.claimMappings\.username\.expression: must evaluate to a string, not int/,
    );
    const both = await kubegate(
      "gateway",
      ...gatewayArgs(env, [
        "--authentication-config",
        file,
        "--oidc-issuer-url",
        corp.url,
        "--oidc-client-id",
        "x",
      ]),
    );
    assert.equal(both.code, 1);
    assert.match(both.stderr, /--authentication-config and the --oidc-\* flags exclude each other/);
  });
});
