// Issue #20 on the real apiserver with the real kubectl: tenants' all-namespaces views (`get pods -A`,
// `-A -w`, `-o wide`, `get events -A`, chunked lists) answered from the namespaces each may see, read as
// the tenant; and watches that follow access changes (a RoleBinding added, then removed).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { startGatewayProcess } from "../support/gateway-process.ts";
import { rawRequest } from "../support/https-client.ts";
import { applyYaml, gatewayArgs, gatewayUser, prepareTenancyEnv } from "./gateway-env.ts";
import { defaultServiceAccount, kubectl, kubegate, ok } from "./run.ts";

const { cluster, env, admin } = await prepareTenancyEnv();
const apply = (name: string, yaml: string) => applyYaml(cluster, env.dir, name, yaml);

const OIL = ["an-oil-a", "an-oil-b"];
// Visible to an-alice through the tenant label, but her RBAC does not reach it: skipped silently.
const OIL_NO_RBAC = "an-oil-c";
const GAS = "an-gas-a";
const LATER = "an-team-b-dev";
for (const ns of [...OIL, OIL_NO_RBAC, GAS, LATER]) {
  await ok(admin("create", "namespace", ns));
  await defaultServiceAccount(cluster.adminKubeconfig, ns);
}
for (const ns of [...OIL, OIL_NO_RBAC])
  await ok(admin("label", "namespace", ns, "kubegate.dev/tenant=an-oil"));
await ok(admin("label", "namespace", GAS, "kubegate.dev/tenant=an-gas"));
// The bootstrap "view" role is aggregated by the controller manager, which a cluster without a node lacks.
await ok(
  admin(
    "create",
    "clusterrole",
    "an-view",
    "--verb=get,list,watch",
    "--resource=pods,events,deployments.apps",
  ),
);
for (const ns of OIL)
  await ok(admin("create", "rolebinding", "an-view", "-n", ns, "--clusterrole=an-view", "--user=an-alice"));
await ok(admin("create", "rolebinding", "an-view", "-n", GAS, "--clusterrole=an-view", "--user=an-bob"));
await apply(
  "an-tenants.yaml",
  `
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: an-oil }
spec: { owners: [{ kind: User, name: an-alice }] }
---
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: an-gas }
spec: { owners: [{ kind: User, name: an-bob }] }
`,
);

/** A pod that stays Pending where it is: a scheduling gate keeps the scheduler (and any node) off it. */
const pod = (ns: string, name: string) =>
  `{ apiVersion: v1, kind: Pod, metadata: { name: ${name}, namespace: ${ns}, labels: { app: an } }, spec: { schedulingGates: [{ name: kubegate.dev/hold }], containers: [{ name: c, image: busybox, imagePullPolicy: Never }] } }`;
const deployment = (ns: string, name: string) =>
  `{ apiVersion: apps/v1, kind: Deployment, metadata: { name: ${name}, namespace: ${ns} }, spec: { replicas: 0, selector: { matchLabels: { app: ${name} } }, template: { metadata: { labels: { app: ${name} } }, spec: { containers: [{ name: c, image: busybox }] } } } }`;
const event = (ns: string, name: string) =>
  `{ apiVersion: v1, kind: Event, metadata: { name: ${name}, namespace: ${ns} }, involvedObject: { kind: Pod, name: p, namespace: ${ns} }, reason: AnTest, message: hello, type: Normal }`;
await apply(
  "an-objects.yaml",
  [
    pod("an-oil-a", "p-a1"),
    pod("an-oil-a", "p-a2"),
    pod("an-oil-b", "p-b1"),
    pod(OIL_NO_RBAC, "p-c1"),
    pod(GAS, "p-g1"),
    pod(LATER, "p-l1"),
    ...["d1", "d2", "d3"].map((d) => deployment("an-oil-a", d)),
    ...["d4", "d5", "d6", "d7"].map((d) => deployment("an-oil-b", d)),
    deployment(GAS, "d-gas"),
    event("an-oil-a", "an-event-oil"),
    event(GAS, "an-event-gas"),
  ].join("\n---\n"),
);

const gw = await startGatewayProcess(gatewayArgs(env, ["--tenancy"]));
after(() => gw.stop());
const alice = await gatewayUser(env, gw.url, "an-alice");
const bob = await gatewayUser(env, gw.url, "an-bob");

const keys = (json: string) =>
  (JSON.parse(json) as { items: { metadata: { namespace: string; name: string } }[] }).items.map(
    (i) => `${i.metadata.namespace}/${i.metadata.name}`,
  );

/** What the admin sees directly, namespace by namespace, in the order the apiserver lists them. */
async function direct(resource: string, namespaces: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const ns of [...namespaces].sort((a, b) => (`${a}/` < `${b}/` ? -1 : 1)))
    out.push(...keys(await ok(admin("get", resource, "-n", ns, "-o", "json"))));
  return out;
}

/** A running `kubectl ... -w`: its output so far, and a wait for a line that matches. */
function watch(kubeconfig: string, ...args: string[]) {
  const child = spawn("kubectl", ["--kubeconfig", kubeconfig, ...args]);
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  return {
    get out() {
      return out;
    },
    async until(re: RegExp, ms = 10_000): Promise<number> {
      const t0 = Date.now();
      while (!re.test(out)) {
        if (Date.now() - t0 > ms) assert.fail(`no ${re} within ${ms} ms; saw:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return Date.now() - t0;
    },
    stop: () => child.kill(),
  };
}

describe("all-namespaces views for tenants (issue #20)", () => {
  it("kubectl get pods -A: the pods of the tenant's namespaces its RBAC reaches, as the apiserver lists them", async () => {
    const json = await ok(kubectl(alice, "get", "pods", "-A", "-o", "json"));
    assert.deepEqual(keys(json), await direct("pods", OIL));
    assert.equal((JSON.parse(json) as { kind: string }).kind, "List");
    const table = await ok(kubectl(alice, "get", "pods", "-A"));
    assert.match(table, /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
    assert.deepEqual(
      table
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => l.split(/\s+/).slice(0, 2).join("/")),
      ["an-oil-a/p-a1", "an-oil-a/p-a2", "an-oil-b/p-b1"],
    );
    const wide = await ok(kubectl(alice, "get", "pods", "-A", "-o", "wide"));
    assert.match(
      wide,
      /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES\n/,
    );
    assert.equal(wide.trim().split("\n").length, 4);
    // Selectors go to every namespace.
    const selected = await ok(
      kubectl(
        alice,
        "get",
        "pods",
        "-A",
        "-l",
        "app=an",
        "--field-selector",
        "metadata.name=p-a2",
        "-o",
        "json",
      ),
    );
    assert.deepEqual(keys(selected), ["an-oil-a/p-a2"]);
    // The other tenant sees its own only.
    assert.deepEqual(keys(await ok(kubectl(bob, "get", "pods", "-A", "-o", "json"))), [`${GAS}/p-g1`]);
  });

  it("a user who sees no namespace gets the apiserver's own 403; a cluster-wide reader gets everything", async () => {
    const nobody = await gatewayUser(env, gw.url, "an-nobody");
    const r = await kubectl(nobody, "get", "pods", "-A");
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /User "an-nobody" cannot list resource "pods" in API group "" at the cluster scope/,
    );
    await ok(admin("create", "clusterrolebinding", "an-reader", "--clusterrole=an-view", "--user=an-reader"));
    const reader = await gatewayUser(env, gw.url, "an-reader");
    const all = keys(await ok(kubectl(reader, "get", "pods", "-A", "-o", "json")));
    for (const k of [`${GAS}/p-g1`, `${OIL_NO_RBAC}/p-c1`, "an-oil-a/p-a1"]) assert.ok(all.includes(k), k);
  });

  it("kubectl get deploy -A --chunk-size: pages with the gateway's continue tokens, together the whole list", async () => {
    const whole = keys(await ok(kubectl(alice, "get", "deploy", "-A", "-o", "json")));
    assert.deepEqual(whole, await direct("deployments", OIL));
    assert.equal(whole.length, 7);
    const chunked = await kubectl(alice, "get", "deploy", "-A", "--chunk-size=2", "-o", "json", "-v=6");
    assert.equal(chunked.code, 0, chunked.stderr);
    assert.deepEqual(keys(chunked.stdout), whole);
    const pages =
      chunked.stderr.match(
        /url="https:\/\/[^"]+\/apis\/apps\/v1\/deployments\?[^"]*limit=2[^"]*" status="200 OK"/g,
      ) ?? [];
    assert.equal(pages.length, 4, chunked.stderr);
    assert.ok(pages.slice(1).every((p) => /continue=/.test(p)));
    // The table form pages the same way (kubectl's default chunk of 500 is one page here).
    const table = await ok(kubectl(alice, "get", "deploy", "-A", "--chunk-size=5"));
    assert.equal(table.trim().split("\n").length, 8);
  });

  it("--fan-out-concurrency: 1 reads one namespace at a time, the same answer; 0 is refused with the reason", async () => {
    const serial = await startGatewayProcess(gatewayArgs(env, ["--tenancy", "--fan-out-concurrency", "1"]));
    try {
      const one = await gatewayUser(env, serial.url, "an-alice");
      assert.deepEqual(
        keys(await ok(kubectl(one, "get", "pods", "-A", "-o", "json"))),
        keys(await ok(kubectl(alice, "get", "pods", "-A", "-o", "json"))),
      );
    } finally {
      await serial.stop();
      // The kubeconfig is written per user name: point alice's back at the main gateway.
      await gatewayUser(env, gw.url, "an-alice");
    }
    const bad = await kubegate("gateway", ...gatewayArgs(env, ["--tenancy", "--fan-out-concurrency", "0"]));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /fan-out-concurrency.*must be 1 or more/);
  });

  it("tenant owners list, get and watch their own Tenants, never another's, and change none (capsule-proxy #328)", async () => {
    const mine = await ok(kubectl(alice, "get", "tenants.tenancy.kubegate.dev", "-o", "name"));
    assert.deepEqual(mine.trim().split("\n"), ["tenant.tenancy.kubegate.dev/an-oil"]);
    assert.match(
      await ok(kubectl(alice, "get", "tenant", "an-oil", "-o", "jsonpath={.metadata.name}")),
      /^an-oil$/,
    );
    const other = await kubectl(alice, "get", "tenant", "an-gas", "-o", "json");
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /NotFound|Forbidden/);
    assert.doesNotMatch(other.stdout + other.stderr, /an-bob/);
    const change = await kubectl(alice, "label", "tenant", "an-oil", "x=y");
    assert.notEqual(change.code, 0);
    assert.match(change.stderr, /Forbidden/);
    const w = watch(bob, "get", "tenants", "-w", "-o", "name");
    try {
      await w.until(/tenant.tenancy.kubegate.dev\/an-gas/);
      assert.doesNotMatch(w.out, /an-oil/);
    } finally {
      w.stop();
    }
  });

  it("create a namespace through the gateway, then list at once: the new one is there, 20 times out of 20", async () => {
    const tls = {
      ca: readFileSync(env.servingCa.cert, "utf8"),
      cert: readFileSync(join(env.dir, "an-alice.crt"), "utf8"),
      key: readFileSync(join(env.dir, "an-alice.key"), "utf8"),
    };
    const json: [string, string][] = [
      ["Content-Type", "application/json"],
      ["Accept", "application/json"],
    ];
    const missed: string[] = [];
    for (let i = 0; i < 20; i++) {
      const name = `an-fresh-${i}`;
      const made = await rawRequest(gw.url, {
        method: "POST",
        path: "/api/v1/namespaces",
        headers: json,
        body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } }),
        ...tls,
      });
      assert.equal(made.status, 201, made.body);
      // kubectl's own list: served from the gateway's informer.
      const listed = await rawRequest(gw.url, {
        path: "/api/v1/namespaces?limit=500",
        headers: json,
        ...tls,
      });
      assert.equal(listed.status, 200, listed.body);
      const names = (JSON.parse(listed.body) as { items: { metadata: { name: string } }[] }).items.map(
        (n) => n.metadata.name,
      );
      if (!names.includes(name)) missed.push(name);
    }
    assert.deepEqual(missed, []);
  });

  it("as an attacker: another user's continue token is a 400, a namespace selector reaches no other tenant", async () => {
    const page = JSON.parse(await ok(kubectl(alice, "get", "--raw", "/api/v1/pods?limit=1"))) as {
      metadata: { continue?: string };
    };
    const token = page.metadata.continue as string;
    assert.ok(token);
    const replay = await kubectl(bob, "get", "--raw", `/api/v1/pods?limit=1&continue=${token}`);
    assert.notEqual(replay.code, 0);
    assert.match(replay.stderr, /continue token is not valid/);
    // Alice's own token goes on from where it stopped.
    const next = keys(await ok(kubectl(alice, "get", "--raw", `/api/v1/pods?limit=1&continue=${token}`)));
    assert.equal(next.length, 1);
    for (const selector of [`metadata.namespace=${GAS}`, `metadata.namespace=${OIL_NO_RBAC}`]) {
      const r = keys(
        await ok(kubectl(alice, "get", "pods", "-A", "--field-selector", selector, "-o", "json")),
      );
      assert.deepEqual(r, [], selector);
    }
  });

  it("kubectl get events -A shows the tenant's events, not another tenant's", async () => {
    const events = keys(await ok(kubectl(alice, "get", "events", "-A", "-o", "json")));
    assert.ok(events.includes("an-oil-a/an-event-oil"), events.join(" "));
    assert.ok(
      !events.some((e) => e.startsWith(`${GAS}/`) || e.startsWith(`${OIL_NO_RBAC}/`)),
      events.join(" "),
    );
  });

  it("kubectl get pods -A -w: new pods in the tenant's namespaces appear, others' never", async () => {
    const w = watch(alice, "get", "pods", "-A", "-w", "-o", "name");
    try {
      await w.until(/pod\/p-b1/);
      await apply("an-later-gas.yaml", pod(GAS, "p-g2"));
      await apply("an-later-oil.yaml", pod("an-oil-b", "p-b2"));
      await w.until(/pod\/p-b2/);
      // The gas pod was written first: had it leaked, it would be there before the oil one.
      assert.doesNotMatch(w.out, /p-g|p-c1|p-l1/);
    } finally {
      w.stop();
    }
  });

  it("watches follow access changes: a RoleBinding shows a namespace and its pods within 2 s, its removal takes them away", async () => {
    const namespaces = watch(
      bob,
      "get",
      "namespaces",
      "-w",
      "--output-watch-events",
      "-o",
      "custom-columns=TYPE:.type,NAME:.object.metadata.name",
    );
    const pods = watch(
      bob,
      "get",
      "pods",
      "-A",
      "-w",
      "--output-watch-events",
      "-o",
      "custom-columns=TYPE:.type,NS:.object.metadata.namespace,NAME:.object.metadata.name",
    );
    try {
      await namespaces.until(new RegExp(`ADDED\\s+${GAS}`));
      await pods.until(/ADDED\s+an-gas-a\s+p-g1/);
      assert.doesNotMatch(namespaces.out + pods.out, new RegExp(LATER));
      // Measured from the admin's command: what a user waits for after the RoleBinding is made.
      let t0 = Date.now();
      await ok(
        admin("create", "rolebinding", "an-bob-later", "-n", LATER, "--clusterrole=an-view", "--user=an-bob"),
      );
      await namespaces.until(new RegExp(`ADDED\\s+${LATER}`), 2_000);
      const nsShown = Date.now() - t0;
      await pods.until(new RegExp(`ADDED\\s+${LATER}\\s+p-l1`), 2_000);
      const podShown = Date.now() - t0;
      t0 = Date.now();
      await ok(admin("delete", "rolebinding", "an-bob-later", "-n", LATER));
      await namespaces.until(new RegExp(`DELETED\\s+${LATER}`), 2_000);
      const nsGone = Date.now() - t0;
      await pods.until(new RegExp(`DELETED\\s+${LATER}\\s+p-l1`), 2_000);
      const podGone = Date.now() - t0;
      assert.ok(Math.max(nsShown, podShown, nsGone, podGone) < 2_000);
      process.stderr.write(
        `# access change to watch event (from the admin's kubectl): namespace shown ${nsShown} ms, pod ${podShown} ms; binding removed: namespace gone ${nsGone} ms, pod ${podGone} ms\n`,
      );
      // After the events, a fresh list equals the watch's view.
      assert.deepEqual(
        keys(await ok(kubectl(bob, "get", "pods", "-A", "-o", "json"))),
        await direct("pods", [GAS]),
      );
    } finally {
      namespaces.stop();
      pods.stop();
    }
  });
});
