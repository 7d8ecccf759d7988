// Issue #17, read side and denial of service, on the real apiserver: continue tokens (item 8), the
// existence oracle (9), metrics under an anonymous flood (11), watch flags and per-user long-running
// limits (12), slow and idle connections (13).
// ra-alice owns tenant "ra" (Nodes, StorageClasses, PersistentVolumes List); tenant "rb" is the victim.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { Agent, request } from "undici";
import { startGatewayProcess } from "../support/gateway-process.ts";
import { rawRequest } from "../support/https-client.ts";
import { applyYaml, gatewayArgs, gatewayUser, prepareTenancyEnv } from "./gateway-env.ts";
import { defaultServiceAccount, kubectl, ok } from "./run.ts";

const { cluster, env, pem } = await prepareTenancyEnv();

const victims = Array.from({ length: 6 }, (_, i) => `rb-secret-${i}`);
const docs = [
  ...["ra-1", "ra-3", "ra-5"].map(
    (n) =>
      `{ apiVersion: v1, kind: Namespace, metadata: { name: ${n}, labels: { kubegate.dev/tenant: ra } } }`,
  ),
  ...victims.map(
    (n) =>
      `{ apiVersion: v1, kind: Namespace, metadata: { name: ${n}, labels: { kubegate.dev/tenant: rb } } }`,
  ),
  ...["ra-node-1", "ra-node-2"].map(
    (n) => `{ apiVersion: v1, kind: Node, metadata: { name: ${n}, labels: { pool: ra } } }`,
  ),
  ...["rb-node-1", "rb-node-2"].map(
    (n) => `{ apiVersion: v1, kind: Node, metadata: { name: ${n}, labels: { pool: rb } } }`,
  ),
  ...["ra-sc-1", "ra-sc-2", "rb-sc-1"].map(
    (n) =>
      `{ apiVersion: storage.k8s.io/v1, kind: StorageClass, metadata: { name: ${n} }, provisioner: example.com/x }`,
  ),
  ...["ra-pv", "rb-pv"].map(
    (n) =>
      `{ apiVersion: v1, kind: PersistentVolume, metadata: { name: ${n}, labels: { kubegate.dev/tenant: ${n.slice(0, 2)} } }, spec: { capacity: { storage: 1Gi }, accessModes: [ReadWriteOnce], hostPath: { path: /tmp/${n} } } }`,
  ),
  `{ apiVersion: coordination.k8s.io/v1, kind: Lease, metadata: { name: rb-node-1, namespace: kube-node-lease }, spec: { holderIdentity: rb-node-1 } }`,
  `{ apiVersion: v1, kind: Service, metadata: { name: web, namespace: rb-secret-0 }, spec: { ports: [{ port: 80 }] } }`,
  `
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: ra }
spec:
  owners:
  - kind: User
    name: ra-alice
    proxySettings: [{ kind: Nodes }, { kind: StorageClasses }, { kind: PersistentVolumes }]
  nodeSelector: { pool: ra }
  storageClasses: { allowedRegex: "ra-.*" }`,
  `{ apiVersion: tenancy.kubegate.dev/v1beta1, kind: Tenant, metadata: { name: rb }, spec: { owners: [{ kind: User, name: ra-bert }] } }`,
];
await applyYaml(cluster, env.dir, "ra.yaml", docs.join("\n---\n"));
// Pods on ra-node-1 in alice's namespace and in the victim's.
for (const ns of ["ra-1", "rb-secret-1"]) await defaultServiceAccount(cluster.adminKubeconfig, ns);
await applyYaml(
  cluster,
  env.dir,
  "ra-pods.yaml",
  [
    ["ra-pod-a", "ra-1"],
    ["ra-pod-b", "ra-1"],
    ["rb-pod-a", "rb-secret-1"],
    ["rb-pod-b", "rb-secret-1"],
  ]
    .map(
      ([name, ns]) =>
        `{ apiVersion: v1, kind: Pod, metadata: { name: ${name}, namespace: ${ns} }, spec: { nodeName: ra-node-1, containers: [{ name: c, image: busybox }] } }`,
    )
    .join("\n---\n") +
    `
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: ra-pods, namespace: ra-1 }
rules: [{ apiGroups: [""], resources: [pods], verbs: [get, list] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: ra-alice-pods, namespace: ra-1 }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: ra-pods }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: ra-alice }]
`,
);

const gw = await startGatewayProcess(gatewayArgs(env, ["--tenancy", "--max-long-running-per-user", "40"]));
after(() => gw.stop());
const alice = await gatewayUser(env, gw.url, "ra-alice");
await gatewayUser(env, gw.url, "ra-bert");
const ca = pem(env.servingCa.cert);
const as = (name: string) => ({
  ca,
  cert: pem(join(env.dir, `${name}.crt`)),
  key: pem(join(env.dir, `${name}.key`)),
});
const get = (path: string, user = "ra-alice", headers: [string, string][] = []) =>
  rawRequest(gw.url, { path, headers, ...as(user) });

/** Every string a continue token could carry, decoded the ways an attacker would try. */
function decodings(token: string): string[] {
  const out = [token];
  for (const enc of ["base64", "base64url"] as const) out.push(Buffer.from(token, enc).toString("latin1"));
  return out;
}

describe("issue #17 item 8: continue tokens reveal nothing and cannot be forged", () => {
  for (const [resource, visible] of [
    ["/api/v1/namespaces", ["ra-1", "ra-3", "ra-5"]],
    ["/api/v1/nodes", ["ra-node-1", "ra-node-2"]],
    ["/apis/storage.k8s.io/v1/storageclasses", ["ra-sc-1", "ra-sc-2"]],
  ] as const) {
    it(`${resource} with limit=1: every page filled, the whole list, tokens free of other names`, async () => {
      const names: string[] = [];
      let path = `${resource}?limit=1`;
      for (let page = 0; page < 20; page++) {
        const r = await get(path);
        assert.equal(r.status, 200, r.body);
        const body = JSON.parse(r.body) as {
          items: { metadata: { name: string } }[];
          metadata: { continue?: string };
        };
        names.push(...body.items.map((i) => i.metadata.name));
        const token = body.metadata.continue;
        if (!token) break;
        assert.equal(body.items.length, 1, "a page is filled up to its limit");
        for (const text of decodings(token))
          for (const hidden of [...victims, "default", "kube-system", "rb-node-1", "rb-sc-1", "rb-"])
            assert.ok(!text.includes(hidden), `token reveals ${hidden}`);
        path = `${resource}?limit=1&continue=${encodeURIComponent(token)}`;
      }
      assert.deepEqual(names.filter((n) => n.startsWith("ra-")).sort(), [...visible].sort());
      assert.ok(
        names.every((n) => n.startsWith("ra-")),
        `only the tenant's: ${names}`,
      );
    });
  }

  it("kubectl --chunk-size=1 lists exactly what an unpaged list does", async () => {
    for (const kind of ["namespaces", "nodes", "storageclasses"]) {
      const whole = await ok(kubectl(alice, "get", kind, "-o", "name"));
      assert.equal(await ok(kubectl(alice, "get", kind, "-o", "name", "--chunk-size=1")), whole);
    }
  });

  it("a forged, an apiserver-made, or another user's token is a 400 Status", async () => {
    const forged = Buffer.from(
      JSON.stringify({ v: "meta.k8s.io/v1", rv: 1, start: "rb-secret-3\u0000" }),
    ).toString("base64");
    const first = JSON.parse((await get("/api/v1/namespaces?limit=1")).body) as {
      metadata: { continue: string };
    };
    for (const [token, user] of [
      [forged, "ra-alice"],
      ["garbage", "ra-alice"],
      [first.metadata.continue, "ra-bert"],
    ] as const) {
      const r = await get(`/api/v1/namespaces?limit=1&continue=${encodeURIComponent(token)}`, user);
      assert.equal(r.status, 400, `${user}: ${r.body}`);
      assert.equal(JSON.parse(r.body).kind, "Status");
      assert.doesNotMatch(r.body, /rb-secret/);
    }
  });
});

describe("issue #17 item 9: an invisible object answers exactly as a nonexistent one", () => {
  const ACCEPTS = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json",
    "application/json;as=Table;g=meta.k8s.io;v=v1,application/json",
  ];
  const ROUTES: [string, (name: string) => string][] = [
    ["node", (n) => `/api/v1/nodes/${n}`],
    ["node status", (n) => `/api/v1/nodes/${n}/status`],
    ["node proxy", (n) => `/api/v1/nodes/${n}/proxy/healthz`],
    ["node lease", (n) => `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${n}`],
    ["pods on node", (n) => `/api/v1/pods?fieldSelector=spec.nodeName%3D${n}`],
    ["node by field selector", (n) => `/api/v1/nodes?fieldSelector=metadata.name%3D${n}`],
  ];
  // Names of equal length, so that protobuf's length prefixes match too once the names are masked.
  const compare = async (label: string, path: (n: string) => string, hidden: string, missing: string) => {
    assert.equal(hidden.length, missing.length);
    for (const accept of ACCEPTS) {
      // The two answers are read a moment apart, and the cluster's resourceVersion moves on its own
      // (its node's heartbeats): a list's resourceVersion is masked, and a pair that still differs is
      // read again (up to three times) before it counts as a difference.
      const norm = (r: Awaited<ReturnType<typeof get>>, n: string) => ({
        status: r.status,
        type: r.headers["content-type"],
        body: r.body
          .split(n)
          .join("NAME")
          .replace(
            /^(\{"kind":"[A-Za-z]+","apiVersion":"[^"]+","metadata":\{"resourceVersion":")\d+"/,
            '$1RV"',
          ),
      });
      let a = await get(path(hidden), "ra-alice", [["Accept", accept]]);
      let b = await get(path(missing), "ra-alice", [["Accept", accept]]);
      for (let i = 0; i < 2 && JSON.stringify(norm(a, hidden)) !== JSON.stringify(norm(b, missing)); i++) {
        a = await get(path(hidden), "ra-alice", [["Accept", accept]]);
        b = await get(path(missing), "ra-alice", [["Accept", accept]]);
      }
      assert.deepEqual(norm(a, hidden), norm(b, missing), `${label} with ${accept}`);
      // An empty list is a fine answer; the object itself is not.
      if (a.status === 200)
        assert.ok(!a.body.includes(`"${hidden}"`), `${label}: the invisible object was shown`);
    }
  };

  for (const [label, path] of ROUTES)
    it(`${label}: rb-node-1 and a node that does not exist`, () =>
      compare(label, path, "rb-node-1", "zz-node-9"));

  it("storage classes and persistent volumes: invisible and nonexistent alike", async () => {
    await compare(
      "storage class",
      (n) => `/apis/storage.k8s.io/v1/storageclasses/${n}`,
      "rb-sc-1",
      "zz-sc-9",
    );
    await compare("volume", (n) => `/api/v1/persistentvolumes/${n}`, "rb-pv", "zz-pv");
    // Options the apiserver checks only after it found the object must not tell existence apart.
    for (const query of ["includeObject=x", "resourceVersion=x", "pretty=maybe"])
      await compare(
        `storage class ?${query}`,
        (n) => `/apis/storage.k8s.io/v1/storageclasses/${n}?${query}`,
        "rb-sc-1",
        "zz-sc-9",
      );
  });

  it("pods on a visible node come whole, with no apiserver continue token naming the next pod", async () => {
    const r = await get("/api/v1/pods?fieldSelector=spec.nodeName%3Dra-node-1&limit=1");
    assert.equal(r.status, 200, r.body);
    const body = JSON.parse(r.body) as {
      metadata: { continue?: string };
      items: { metadata: { name: string } }[];
    };
    assert.equal(body.metadata.continue, undefined);
    assert.deepEqual(body.items.map((p) => p.metadata.name).sort(), ["ra-pod-a", "ra-pod-b"]);
    assert.doesNotMatch(r.body, /rb-pod/);
  });

  it("namespaces and what lies in them: an invisible namespace and a nonexistent one", async () => {
    for (const [label, path] of [
      ["namespace", (n: string) => `/api/v1/namespaces/${n}`],
      ["namespace status", (n: string) => `/api/v1/namespaces/${n}/status`],
      ["service proxy", (n: string) => `/api/v1/namespaces/${n}/services/web/proxy/`],
      ["pods in it", (n: string) => `/api/v1/namespaces/${n}/pods`],
    ] as const)
      await compare(label, path, "rb-secret-0", "zz-secret-9");
  });

  it("a visible object is still shown, and a nonexistent one is a 404 NotFound Status", async () => {
    assert.equal((await get("/api/v1/nodes/ra-node-1")).status, 200);
    const r = await get("/api/v1/nodes/zz-no-node");
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(r.body), {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'nodes "zz-no-node" not found',
      reason: "NotFound",
      details: { name: "zz-no-node", kind: "nodes" },
      code: 404,
    });
  });
});

describe("issue #17 items 11-12: what clients send does not grow memory, metrics or held requests", () => {
  const metricsText = async () => (await request(`${gw.metricsUrl}/metrics`)).body.text();
  const series = (text: string) =>
    text.split("\n").filter((l) => l.startsWith("kubegate_requests_total{")).length;
  const rss = (text: string) =>
    Number(/^kubegate_process_resident_memory_bytes (\S+)$/m.exec(text)?.[1] ?? 0);

  it("3,000 unauthenticated requests to distinct paths add no series (11)", async () => {
    const before = await metricsText();
    const agent = new Agent({ connect: { ca }, connections: 16 });
    const started = performance.now();
    try {
      for (let batch = 0; batch < 60; batch++) {
        await Promise.all(
          Array.from({ length: 50 }, async (_, i) => {
            const r = await request(`${gw.url}/api/v1/flood-${batch}-${i}/x${batch * 50 + i}?q=${i}`, {
              dispatcher: agent,
              method: i % 2 ? "GET" : "BREW",
            }).catch(() => undefined);
            await r?.body.text();
            if (r) assert.equal(r.statusCode, r.statusCode === 400 ? 400 : 401);
          }),
        );
      }
    } finally {
      await agent.close();
    }
    const afterText = await metricsText();
    const grown = series(afterText) - series(before);
    const mib = (rss(afterText) - rss(before)) / 2 ** 20;
    console.log(
      `# 3000 anonymous requests in ${Math.round(performance.now() - started)} ms: ${grown} new series, /metrics ${before.length} -> ${afterText.length} bytes, RSS ${mib >= 0 ? "+" : ""}${mib.toFixed(1)} MiB`,
    );
    assert.ok(grown <= 3, `${grown} new series`);
    assert.ok(afterText.length < before.length + 4096, "/metrics grew");
  });

  it("watch=yes is a watch: streamed, never in the capped pool, and bounded per user (12)", async () => {
    const agent = new Agent({ connect: as("ra-alice"), connections: 200 });
    const controllers: AbortController[] = [];
    try {
      const open = async () => {
        const c = new AbortController();
        controllers.push(c);
        const r = await request(`${gw.url}/api/v1/nodes?watch=yes`, { dispatcher: agent, signal: c.signal });
        if (r.statusCode !== 200) return { code: r.statusCode, body: await r.body.text() };
        r.body.on("error", () => {});
        return { code: 200, body: "" };
      };
      const answers = await Promise.all(Array.from({ length: 45 }, open));
      const codes = answers.map((a) => a.code);
      assert.equal(codes.filter((c) => c === 200).length, 40, codes.join(","));
      const refusedOne = answers.find((a) => a.code === 429);
      assert.match(refusedOne?.body ?? "", /Too many long-running requests/);
      // Another user is not held up behind them.
      const t0 = performance.now();
      const other = await get("/api/v1/namespaces/ra-1", "ra-bert");
      const ms = performance.now() - t0;
      console.log(
        `# 40 watch=yes held by alice (5 refused with 429): bert's GET answered ${other.status} in ${ms.toFixed(0)} ms`,
      );
      assert.ok(ms < 1000, `${ms} ms`);
    } finally {
      for (const c of controllers) c.abort();
      await agent.destroy();
    }
  });
});

describe("issue #17 item 13: slow and idle connections are closed", () => {
  const startTimed = (extra: string[]) =>
    startGatewayProcess(
      gatewayArgs(env, ["--tenancy", "--request-header-timeout", "2s", "--idle-timeout", "3s", ...extra]),
    );
  /** A TLS connection, and when it closed (watched from the start: a deadline may close it at once). */
  const open = (url: string, t0: number) =>
    new Promise<{ s: TLSSocket; closed: Promise<number> }>((resolve, reject) => {
      const s = tlsConnect(
        {
          host: "127.0.0.1",
          port: Number(new URL(url).port),
          ca,
          servername: "localhost",
          ALPNProtocols: ["http/1.1"],
        },
        () => resolve({ s, closed }),
      );
      const closed = new Promise<number>((done) => s.once("close", () => done(performance.now() - t0)));
      s.resume();
      s.once("error", reject);
      s.on("error", () => {});
    });
  const rssOf = async (metricsUrl: string) =>
    Number(
      /^kubegate_process_resident_memory_bytes (\S+)$/m.exec(
        await (await request(`${metricsUrl}/metrics`)).body.text(),
      )?.[1],
    );

  it("20 connections trickling a header byte every 500 ms are closed at the header deadline", async () => {
    const g = await startTimed([]);
    try {
      const t0 = performance.now();
      const conns = await Promise.all(Array.from({ length: 20 }, () => open(g.url, t0)));
      const timers = conns.map(({ s }) => {
        s.write("GET /api HTTP/1.1\r\n");
        return setInterval(() => s.writable && s.write("X"), 500);
      });
      const lifetimes = await Promise.all(conns.map((c) => c.closed));
      for (const t of timers) clearInterval(t);
      const max = Math.max(...lifetimes);
      console.log(
        `# slowloris: 20 connections closed after ${Math.min(...lifetimes).toFixed(0)}-${max.toFixed(0)} ms (deadline 2 s)`,
      );
      assert.ok(max < 4000, `${max} ms`);
    } finally {
      await g.stop();
    }
  });

  it("1,000 idle TLS connections are all closed at the deadline", async () => {
    const g = await startTimed(["--max-connections-per-ip", "2000"]);
    try {
      const base = await rssOf(g.metricsUrl as string);
      const t0 = performance.now();
      const conns: { s: TLSSocket; closed: Promise<number> }[] = [];
      for (let i = 0; i < 1000; i += 100)
        conns.push(...(await Promise.all(Array.from({ length: 100 }, () => open(g.url, t0)))));
      const opened = performance.now() - t0;
      const held = await rssOf(g.metricsUrl as string);
      const lifetimes = await Promise.all(conns.map((c) => c.closed));
      const max = Math.max(...lifetimes);
      console.log(
        `# 1000 idle TLS connections opened in ${opened.toFixed(0)} ms, all closed by ${max.toFixed(0)} ms (deadline 2 s after each connect); gateway RSS ${(base / 2 ** 20).toFixed(0)} -> ${(held / 2 ** 20).toFixed(0)} MiB while held`,
      );
      assert.ok(max < opened + 4000, `${max} ms`);
    } finally {
      await g.stop();
    }
  });

  it("a watch over HTTP/1.1 outlives the idle and header deadlines", async () => {
    const g = await startTimed([]);
    const agent = new Agent({ connect: { ...as("ra-alice") } });
    try {
      const c = new AbortController();
      const r = await request(`${g.url}/api/v1/nodes?watch=true`, { dispatcher: agent, signal: c.signal });
      assert.equal(r.statusCode, 200);
      let ended = false;
      r.body.on("end", () => {
        ended = true;
      });
      r.body.on("error", () => {
        ended = true;
      });
      r.body.resume();
      await new Promise((done) => setTimeout(done, 5000));
      assert.equal(ended, false, "the watch was cut");
      c.abort();
    } finally {
      await agent.destroy();
      await g.stop();
    }
  });

  it("an HTTP/2 session with no open stream is closed at the idle deadline", async () => {
    const g = await startTimed([]);
    try {
      const { connect } = await import("node:http2");
      const session = connect(g.url, { ca, servername: "localhost" });
      session.on("error", () => {});
      const t0 = performance.now();
      const closed = new Promise<number>((done) => session.once("close", () => done(performance.now() - t0)));
      const stream = session.request({ ":path": "/api" });
      stream.on("error", () => {});
      stream.resume();
      await new Promise((done) => stream.once("close", done));
      const lifetime = await closed;
      console.log(
        `# HTTP/2 session idle after one request: closed after ${lifetime.toFixed(0)} ms (idle deadline 3 s)`,
      );
      assert.ok(lifetime < 6000, `${lifetime} ms`);
    } finally {
      await g.stop();
    }
  });

  it("one address holds at most --max-connections-per-ip connections", async () => {
    const g = await startTimed(["--max-connections-per-ip", "10"]);
    try {
      const t0 = performance.now();
      const results = await Promise.allSettled(Array.from({ length: 15 }, () => open(g.url, t0)));
      const opened = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      const lifetimes = await Promise.all(opened.map((c) => c.closed));
      const early = lifetimes.filter((t) => t < 1000).length + (results.length - opened.length);
      assert.equal(early, 5, `${early} closed at once`);
    } finally {
      await g.stop();
    }
  });
});
