import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { useCluster } from "../cluster/harness.ts";
import { startGatewayProcess } from "../support/gateway-process.ts";
import { startIssuer } from "../support/oidc-issuer.ts";
import { gatewayArgs, prepareGatewayEnv, tokenKubeconfig } from "./gateway-env.ts";
import { kubectl, kubegate } from "./run.ts";

const cluster = await useCluster();
const env = await prepareGatewayEnv(cluster);
const issuer = await startIssuer({ audience: "kubegate" });
const gw = await startGatewayProcess(
  gatewayArgs(env, [
    ...["--oidc-issuer-url", issuer.url, "--oidc-client-id", "kubegate", "--oidc-ca-file", issuer.caFile],
    ...["--oidc-groups-claim", "groups", "--oidc-groups-prefix", "oidc:"],
  ]),
);
after(async () => {
  await gw.stop();
  await issuer.close();
});

describe("gateway: OIDC ID tokens (issuer served on loopback)", () => {
  it("kubectl with an ID token is the token's preferred_username with prefixed groups", async () => {
    const token = await issuer.sign({
      preferred_username: "oidc-olga",
      groups: ["team-o", "system:masters"],
    });
    const kubeconfig = await tokenKubeconfig(env, gw.url, "oidc-olga", token);
    const r = await kubectl(kubeconfig, "auth", "whoami", "-o", "json");
    assert.equal(r.code, 0, r.stderr);
    const user = JSON.parse(r.stdout).status.userInfo;
    assert.equal(user.username, "oidc-olga");
    assert.deepEqual(user.groups, ["oidc:team-o", "oidc:system:masters", "system:authenticated"]);
  });

  it("expired, foreign-audience or tampered ID tokens are 401", async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    const tokens = [
      await issuer.sign({ preferred_username: "x", exp: past, iat: past - 60 }),
      await issuer.sign({ preferred_username: "x", aud: "someone-else" }),
      `${(await issuer.sign({ preferred_username: "x" })).slice(0, -6)}AAAAAA`,
    ];
    for (const token of tokens) {
      const kubeconfig = await tokenKubeconfig(env, gw.url, "oidc-bad", token);
      const r = await kubectl(kubeconfig, "get", "--raw", "/version");
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Unauthorized/);
    }
  });

  it("refuses half an OIDC configuration", async () => {
    const r = await kubegate("gateway", ...gatewayArgs(env, ["--oidc-issuer-url", issuer.url]));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--oidc-issuer-url and --oidc-client-id go together/);
  });
});
