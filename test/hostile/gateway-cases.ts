// The gateway's hostile corpus. Tenant "hxa" is the attacker's (hx-alice owns it), tenant "hxb" is the
// victim's: every hxb object carries a marker annotation or data value that must never reach alice.
import { createHmac, generateKeyPairSync, sign } from "node:crypto";
import type { RawResponse } from "../support/https-client.ts";
import { type Caller, type HostileCase, spellings } from "./corpus.ts";

export interface GatewayTargets {
  alice: Caller;
  /** Trusts the gateway, presents nothing. */
  anonymous: Caller;
  /** Certificates the gateway must refuse, by what is wrong with them. */
  badCerts: Record<string, Caller>;
  /** A valid ServiceAccount token, its user name, and one of a deleted ServiceAccount. */
  token: string;
  tokenUser: string;
  deletedToken: string;
  /** Names of the victim's objects (their content carries the markers). */
  victim: {
    namespaces: readonly string[];
    storageClass: string;
    node: string;
    pv: string;
    configMap: string;
  };
  /** The attacker's own namespace (alice may create configmaps there). */
  own: string;
  /** A kube-system secret whose data is a marker. */
  secret: string;
}

const SSR = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
const SSR_BODY = JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" });
const INJECTED_GROUPS = ["system:masters", "hx-admins"];

interface UserInfo {
  username?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** A SelfSubjectReview answer that shows anyone but `name`, or injected groups or extra, is a bypass. */
export function actsAs(name: string) {
  return (r: RawResponse): string | undefined => {
    if (r.status !== 201) return undefined;
    let u: UserInfo;
    try {
      u = (JSON.parse(r.body) as { status: { userInfo: UserInfo } }).status.userInfo;
    } catch {
      return `unreadable review: ${r.body.slice(0, 200)}`;
    }
    if (u.username !== name) return `acted as ${u.username}, not ${name}`;
    if (u.groups?.some((g) => INJECTED_GROUPS.includes(g))) return `injected group in ${u.groups.join(",")}`;
    if (Object.keys(u.extra ?? {}).some((k) => /scopes|hx/i.test(k)))
      return `injected extra ${Object.keys(u.extra ?? {})}`;
    return undefined;
  };
}

/** A list answer with any item outside `namespace` is a bypass. */
function onlyIn(namespace: string) {
  return (r: RawResponse): string | undefined => {
    if (r.status !== 200) return undefined;
    let items: { metadata?: { namespace?: string } }[];
    try {
      items = (JSON.parse(r.body) as { items: typeof items }).items;
    } catch {
      return `unreadable list: ${r.body.slice(0, 200)}`;
    }
    if (!Array.isArray(items)) return `not a list: ${r.body.slice(0, 200)}`;
    const outside = items.filter((i) => i.metadata?.namespace !== namespace);
    return outside.length ? `${outside.length} items outside ${namespace}` : undefined;
  };
}

/** No status in a pipelined or smuggled exchange may be a success where only refusals are due. */
function noSuccessAfterFirst(r: RawResponse): string | undefined {
  const all = String(r.headers["x-all-statuses"] ?? "")
    .split(",")
    .filter(Boolean)
    .map(Number);
  return all.slice(1).some((s) => s >= 200 && s < 300)
    ? `a later response succeeded: ${all.join(",")}`
    : undefined;
}

const b64url = (v: string | Buffer) => Buffer.from(v).toString("base64url");
function jwt(header: object, claims: object, signer?: (input: string) => Buffer): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${signer ? b64url(signer(input)) : ""}`;
}

function forgedTokens(valid: string): [string, string][] {
  const now = Math.floor(Date.now() / 1000);
  const admin = {
    iss: "https://kubernetes.default.svc",
    sub: "system:admin",
    aud: ["https://kubernetes.default.svc"],
    exp: now + 3600,
    groups: ["system:masters"],
  };
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const parts = valid.split(".");
  const tampered = `${parts[0]}.${b64url(JSON.stringify({ ...admin, "kubernetes.io": { serviceaccount: { name: "default" } } }))}.${parts[2]}`;
  return [
    ["empty", ""],
    ["scheme-only", "Bearer"],
    ["scheme-space", "Bearer "],
    ["scheme-spaces", "Bearer   "],
    ["scheme-tab", "Bearer \t"],
    ["garbage", "Bearer garbage"],
    ["null", "Bearer null"],
    ["undefined", "Bearer undefined"],
    ["zero", "Bearer 0"],
    ["long", `Bearer ${"A".repeat(8000)}`],
    ["basic", `Basic ${Buffer.from("system:admin:password").toString("base64")}`],
    ["digest", 'Digest username="system:admin", realm="k8s"'],
    ["negotiate", "Negotiate YIIBhwYGKwYBBQUC"],
    ["token-scheme", `Token ${valid}`],
    ["three-dots", "Bearer a.b.c"],
    ["alg-none", `Bearer ${jwt({ alg: "none", typ: "JWT" }, admin)}`],
    [
      "hs256-guessable",
      `Bearer ${jwt({ alg: "HS256", typ: "JWT" }, admin, (i) => createHmac("sha256", "secret").update(i).digest())}`,
    ],
    [
      "rs256-unknown-key",
      `Bearer ${jwt({ alg: "RS256", typ: "JWT", kid: "x" }, admin, (i) => sign("sha256", Buffer.from(i), privateKey))}`,
    ],
    ["valid-claims-swapped", `Bearer ${tampered}`],
    ["valid-suffixed", `Bearer ${valid}x`],
    ["valid-truncated", `Bearer ${valid.slice(0, -4)}`],
    ["valid-no-signature", `Bearer ${parts[0]}.${parts[1]}.`],
    ["valid-split", `Bearer ${valid.slice(0, 20)} ${valid.slice(20)}`],
    ["double-scheme", `Bearer Bearer ${valid}`],
  ];
}

export function gatewayCorpus(t: GatewayTargets): HostileCase[] {
  const cases: HostileCase[] = [];
  const add = (c: HostileCase) => cases.push(c);
  const alice = t.alice;
  const secretPath = `/api/v1/namespaces/kube-system/secrets/${t.secret}`;
  const secretsList = "/api/v1/namespaces/kube-system/secrets";
  const asAlice = actsAs("hx-alice");
  const victimNs = t.victim.namespaces[0] as string;
  const ssr = (
    id: string,
    headers: [string, string][],
    caller: Caller = alice,
    check = asAlice,
  ): HostileCase => ({
    id,
    caller,
    method: "POST",
    path: SSR,
    headers: [...headers, ["Content-Type", "application/json"]],
    body: SSR_BODY,
    expect: 201,
    bypass: check,
  });

  // 1. Impersonation headers in every spelling: alice may impersonate nobody.
  const impersonations: [string, [string, string][]][] = [
    ["user", [["Impersonate-User", "hx-admin"]]],
    [
      "group",
      [
        ["Impersonate-User", "hx-alice"],
        ["Impersonate-Group", "system:masters"],
      ],
    ],
    [
      "uid",
      [
        ["Impersonate-User", "hx-alice"],
        ["Impersonate-Uid", "0"],
      ],
    ],
    [
      "extra",
      [
        ["Impersonate-User", "hx-alice"],
        ["Impersonate-Extra-Scopes", "all"],
      ],
    ],
  ];
  for (const [what, headers] of impersonations) {
    const last = headers.at(-1) as [string, string];
    for (const name of spellings(last[0])) {
      add({
        id: `impersonate-spelling/${what}-${name}`,
        caller: alice,
        path: secretsList,
        headers: [...headers.slice(0, -1), [name, last[1]]],
        expect: 403,
        reason: "Forbidden",
      });
    }
  }
  // 2. Repeated and partial impersonation.
  const repeated: [string, [string, string][], number | number[]][] = [
    [
      "two-users",
      [
        ["Impersonate-User", "hx-alice"],
        ["impersonate-user", "hx-admin"],
      ],
      400,
    ],
    [
      "two-users-same",
      [
        ["Impersonate-User", "hx-admin"],
        ["IMPERSONATE-USER", "hx-admin"],
      ],
      [400, 403],
    ],
    [
      "two-groups",
      [
        ["Impersonate-User", "hx-alice"],
        ["Impersonate-Group", "hxa"],
        ["impersonate-group", "system:masters"],
      ],
      403,
    ],
    [
      "two-uids",
      [
        ["Impersonate-User", "hx-alice"],
        ["Impersonate-Uid", "1"],
        ["impersonate-uid", "0"],
      ],
      [400, 403],
    ],
    [
      "two-extras",
      [
        ["Impersonate-User", "hx-alice"],
        ["Impersonate-Extra-Scopes", "a"],
        ["impersonate-extra-SCOPES", "b"],
      ],
      403,
    ],
    ["group-only", [["Impersonate-Group", "system:masters"]], 400],
    ["group-only-lower", [["impersonate-group", "system:masters"]], 400],
    ["uid-only", [["Impersonate-Uid", "0"]], 400],
    ["extra-only", [["Impersonate-Extra-Scopes", "all"]], 400],
    [
      "group-and-uid",
      [
        ["Impersonate-Group", "system:masters"],
        ["Impersonate-Uid", "0"],
      ],
      400,
    ],
    [
      "empty-user-with-group",
      [
        ["Impersonate-User", ""],
        ["Impersonate-Group", "system:masters"],
      ],
      400,
    ],
    ["empty-user-alone", [["Impersonate-User", ""]], [400, 403]],
  ];
  for (const [what, headers, expect] of repeated) {
    add({ id: `impersonate-repeated/${what}`, caller: alice, path: secretsList, headers, expect });
  }
  // 3. Privileged targets, each refused for lack of permission.
  for (const target of [
    "system:admin",
    "system:apiserver",
    "system:kube-controller-manager",
    "system:serviceaccount:kube-system:default",
    "system:serviceaccount:kube-system:generic-garbage-collector",
    "system:anonymous",
    "kubegate-e2e-gateway",
    "hx-bob",
  ]) {
    add({
      id: `impersonate-target/${target}`,
      caller: alice,
      path: secretsList,
      headers: [["Impersonate-User", target]],
      expect: 403,
      reason: "Forbidden",
    });
  }
  // 4. The front-proxy headers the apiserver trusts from its aggregator: never from a client.
  for (const [name, value] of [
    ["X-Remote-User", "system:admin"],
    ["X-Remote-Group", "system:masters"],
    ["X-Remote-Extra-Scopes", "all"],
    ["X-Remote-Uid", "0"],
  ] as const) {
    for (const spelled of spellings(name)) add(ssr(`x-remote/${spelled}`, [[spelled, value]]));
  }
  add(
    ssr("x-remote/repeated-user", [
      ["X-Remote-User", "system:admin"],
      ["x-remote-user", "hx-admin"],
    ]),
  );
  add(
    ssr("x-remote/repeated-group", [
      ["X-Remote-Group", "hx-admins"],
      ["x-remote-group", "system:masters"],
    ]),
  );
  // 5. Other proxies' identity conventions mean nothing here.
  for (const [name, value] of [
    ["X-Forwarded-User", "system:admin"],
    ["X-Forwarded-Groups", "system:masters"],
    ["X-Forwarded-Email", "admin@example.com"],
    ["X-Auth-Request-User", "system:admin"],
    ["X-Forwarded-Client-Cert", 'Subject="CN=system:admin,O=system:masters"'],
    ["Ssl-Client-Cert", "-----BEGIN CERTIFICATE-----"],
    ["X-Ssl-Client-S-Dn", "CN=system:admin,O=system:masters"],
    ["Remote-User", "system:admin"],
    ["X-Original-User", "system:admin"],
    ["Impersonate_User", "system:admin"],
  ] as const) {
    add(ssr(`identity-header/${name}`, [[name, value]]));
  }
  // 6. Connection-header smuggling (CVE-2022-23652 class): naming the gateway's own headers as
  // hop-by-hop must not strip them from the upstream request, so the upstream never sees the gateway.
  add(
    ssr("smuggling/connection-impersonate-authorization", [
      ["Connection", "Impersonate-User, Authorization"],
    ]),
  );
  add(ssr("smuggling/connection-impersonate-group", [["Connection", "Impersonate-Group, Impersonate-Uid"]]));
  add(ssr("smuggling/connection-lowercase", [["Connection", "impersonate-user,authorization"]]));
  add(ssr("smuggling/connection-spaced", [["Connection", "  Impersonate-User ,  Authorization  "]]));
  add(
    ssr("smuggling/connection-repeated", [
      ["Connection", "keep-alive"],
      ["Connection", "Impersonate-User"],
    ]),
  );
  add(
    ssr("smuggling/connection-x-remote", [
      ["Connection", "X-Remote-User"],
      ["X-Remote-User", "system:admin"],
    ]),
  );
  add(
    ssr("smuggling/connection-keep-alive-uid", [
      ["Connection", "Keep-Alive, Impersonate-Uid"],
      ["Keep-Alive", "timeout=5"],
    ]),
  );
  add(ssr("smuggling/connection-close", [["Connection", "close, Impersonate-User"]]));
  add({
    id: "smuggling/connection-with-impersonation",
    caller: alice,
    path: secretsList,
    headers: [
      ["Connection", "Impersonate-User"],
      ["Impersonate-User", "hx-admin"],
    ],
    expect: 403,
    reason: "Forbidden",
  });
  add({
    id: "smuggling/connection-with-group",
    caller: alice,
    path: secretsList,
    headers: [
      ["Connection", "Impersonate-Group"],
      ["Impersonate-User", "hx-alice"],
      ["Impersonate-Group", "system:masters"],
    ],
    expect: 403,
    reason: "Forbidden",
  });
  add({
    id: "smuggling/upgrade-on-plain-get",
    caller: alice,
    path: secretPath,
    headers: [
      ["Connection", "Upgrade"],
      ["Upgrade", "websocket"],
    ],
    // Refused as alice, or no answer at all: never the secret.
    expect: [0, 400, 403],
  });
  add({
    id: "smuggling/te-cl",
    caller: alice,
    path: "",
    raw:
      "POST /api/v1/namespaces/hxa-1/configmaps HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
      `GET ${secretPath} HTTP/1.1\r\nHost: localhost\r\nImpersonate-User: system:admin\r\n\r\n`,
    expect: [0, 400],
    bypass: noSuccessAfterFirst,
  });
  add({
    id: "smuggling/double-chunked",
    caller: alice,
    path: "",
    raw: `POST ${SSR} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n0\r\n\r\n`,
    expect: [0, 400],
  });
  add({
    id: "smuggling/pipelined-impersonation",
    caller: alice,
    path: "",
    raw: `GET /version HTTP/1.1\r\nHost: localhost\r\n\r\nGET ${secretPath} HTTP/1.1\r\nHost: localhost\r\nImpersonate-User: system:admin\r\n\r\n`,
    expect: 200,
    bypass: noSuccessAfterFirst,
  });
  add({
    id: "smuggling/obs-fold",
    caller: alice,
    path: "",
    raw: `GET ${secretPath} HTTP/1.1\r\nHost: localhost\r\nX-Note: a\r\n Impersonate-User: system:admin\r\n\r\n`,
    expect: [0, 400, 403],
  });
  add({
    id: "smuggling/space-before-colon",
    caller: alice,
    path: "",
    raw: `GET ${secretPath} HTTP/1.1\r\nHost: localhost\r\nImpersonate-User : system:admin\r\n\r\n`,
    expect: [0, 400],
  });
  add({
    id: "smuggling/bare-lf",
    caller: alice,
    path: "",
    raw: `GET ${secretPath} HTTP/1.1\nHost: localhost\nImpersonate-User: system:admin\n\n`,
    expect: [0, 400, 403],
  });
  add({
    id: "smuggling/nul-in-header",
    caller: alice,
    path: "",
    raw: `GET ${secretPath} HTTP/1.1\r\nHost: localhost\r\nImpersonate-User: system:admin\u0000x\r\n\r\n`,
    expect: [0, 400],
  });
  add({
    id: "smuggling/absolute-form",
    caller: alice,
    path: "",
    raw: `GET https://kubernetes.default.svc${secretPath} HTTP/1.1\r\nHost: localhost\r\n\r\n`,
    expect: [0, 400, 403],
  });
  add({
    id: "smuggling/http10",
    caller: alice,
    path: "",
    raw: `GET ${secretPath} HTTP/1.0\r\n\r\n`,
    expect: 403,
  });
  add({
    id: "smuggling/no-host",
    caller: alice,
    path: "",
    raw: `GET ${secretPath} HTTP/1.1\r\n\r\n`,
    expect: [0, 400],
  });
  add({
    id: "smuggling/two-hosts",
    caller: alice,
    path: "",
    raw: `GET ${secretPath} HTTP/1.1\r\nHost: localhost\r\nHost: kubernetes.default.svc\r\n\r\n`,
    expect: [0, 400, 403],
  });

  // 7. Bearer tokens, no client certificate (CVE-2023-48312 class: nothing but a valid token is anyone).
  for (const [what, value] of forgedTokens(t.token)) {
    add({
      id: `bearer/${what}`,
      caller: t.anonymous,
      method: "POST",
      path: SSR,
      headers: [
        ["Authorization", value],
        ["Content-Type", "application/json"],
      ],
      body: SSR_BODY,
      expect: what === "long" ? [401, 431] : 401,
      reason: what === "long" ? undefined : "Unauthorized",
    });
  }
  add({ id: "bearer/none", caller: t.anonymous, path: "/version", expect: 401, reason: "Unauthorized" });
  add({
    id: "bearer/none-secret",
    caller: t.anonymous,
    path: secretPath,
    expect: 401,
    reason: "Unauthorized",
  });
  add({
    id: "bearer/deleted-serviceaccount",
    caller: t.anonymous,
    method: "POST",
    path: SSR,
    headers: [
      ["Authorization", `Bearer ${t.deletedToken}`],
      ["Content-Type", "application/json"],
    ],
    body: SSR_BODY,
    expect: 401,
    reason: "Unauthorized",
  });
  add({
    id: "bearer/garbage-first-of-two",
    caller: t.anonymous,
    method: "POST",
    path: SSR,
    headers: [
      ["Authorization", "Bearer garbage"],
      ["Authorization", `Bearer ${t.token}`],
      ["Content-Type", "application/json"],
    ],
    body: SSR_BODY,
    // kube-apiserver reads the first; the gateway refuses the ambiguity outright.
    expect: [400, 401],
  });
  // Positive controls: the same requests with a valid token are the ServiceAccount, nothing more.
  add(
    ssr("bearer/valid-control", [["Authorization", `Bearer ${t.token}`]], t.anonymous, actsAs(t.tokenUser)),
  );
  add(
    ssr(
      "bearer/valid-lowercase-scheme",
      [["Authorization", `bearer ${t.token}`]],
      t.anonymous,
      actsAs(t.tokenUser),
    ),
  );
  add(
    ssr(
      "bearer/valid-with-impersonation-headers-stripped",
      [
        ["Authorization", `Bearer ${t.token}`],
        ["X-Remote-User", "system:admin"],
      ],
      t.anonymous,
      actsAs(t.tokenUser),
    ),
  );

  // 8. Client certificates the gateway must refuse, whatever the TLS layer let through.
  for (const [what, caller] of Object.entries(t.badCerts)) {
    add({
      id: `certificate/${what}`,
      caller,
      method: "POST",
      path: SSR,
      headers: [["Content-Type", "application/json"]],
      body: SSR_BODY,
      expect: [0, 401],
    });
    add({ id: `certificate/${what}-secret`, caller, path: secretPath, expect: [0, 401] });
  }
  add(ssr("certificate/valid-control", [], alice, asAlice));

  // 9. Paths that try to walk out of what alice may read.
  const traversals = [
    `/api/v1/namespaces/${t.own}/../kube-system/secrets/${t.secret}`,
    `/api/v1/namespaces/${t.own}/%2e%2e/kube-system/secrets/${t.secret}`,
    `/api/v1/namespaces/${t.own}/%2E%2E/kube-system/secrets/${t.secret}`,
    `/api/v1/namespaces/${t.own}/.%2e/kube-system/secrets/${t.secret}`,
    `/api/v1/namespaces/${t.own}/%2e./kube-system/secrets/${t.secret}`,
    `/api/v1/namespaces/${t.own}/%252e%252e/kube-system/secrets/${t.secret}`,
    `/api/v1/namespaces/${t.own}/configmaps/..%2f..%2fkube-system%2fsecrets%2f${t.secret}`,
    `/api/v1/namespaces/${t.own}%2F..%2Fkube-system/secrets/${t.secret}`,
    `/api/v1/namespaces/${t.own}%2f..%2fkube-system/secrets/${t.secret}`,
    `/api/v1/namespaces/${t.own}\\..\\kube-system/secrets/${t.secret}`,
    `/api/v1/namespaces/${t.own}%5C..%5Ckube-system/secrets/${t.secret}`,
    `//api/v1/namespaces/kube-system/secrets/${t.secret}`,
    `/api//v1/namespaces/kube-system/secrets/${t.secret}`,
    `/api/v1/namespaces/kube-system/secrets/${t.secret}/`,
    `/api/v1/./namespaces/kube-system/secrets/${t.secret}`,
    `/api/v1/namespaces/kube-system/secrets%2F${t.secret}`,
    `/api/v1/namespaces/kube-system%00/secrets/${t.secret}`,
    `/api/v1/namespaces/kube-system;/secrets/${t.secret}`,
    `/api/v1/namespaces/kube-system/secrets/${t.secret};x=y`,
    `/apis/../api/v1/namespaces/kube-system/secrets/${t.secret}`,
    `/api/v1/namespaces/kube%E2%80%8Bsystem/secrets/${t.secret}`,
    `/API/V1/namespaces/kube-system/secrets/${t.secret}`,
    `/api/v1/namespaces/kube-system/secrets/${t.secret}?x=/../`,
    `/api/v1/namespaces/kube-system/secrets/${t.secret}%23frag`,
    `/api/v1/namespaces/kube-system/secrets/${t.secret}?fieldSelector=metadata.namespace%3D${t.own}`,
    `/api/v1/secrets?fieldSelector=metadata.name%3D${t.secret}`,
    `/api/v1/namespaces/${victimNs}/configmaps/${t.victim.configMap}`,
    `/api/v1/namespaces/${victimNs}/configmaps`,
    `/api/v1/configmaps?fieldSelector=metadata.namespace%3D${victimNs}`,
    `/api/v1/namespaces/${t.own}/configmaps/../../${victimNs}/configmaps/${t.victim.configMap}`,
    `/api/v1/namespaces/${victimNs.toUpperCase()}/configmaps/${t.victim.configMap}`,
    `/api/v1/proxy/namespaces/kube-system/services/kube-dns:53/`,
    `/api/v1/namespaces/kube-system/services/https:kubernetes:443/proxy/${secretPath}`,
    `/api/v1/nodes/${t.victim.node}/proxy/configz`,
    `/api/v1/namespaces/kube-system/pods/x/exec?command=cat`,
  ];
  traversals.forEach((path, i) => {
    // A cluster-wide list of a namespaced kind is alice's all-namespaces view with --tenancy (issue
    // #20): a 200 is right when it holds nothing outside her own namespace.
    const allNamespaces = /^\/api\/v1\/[a-z]+\?/.test(path);
    add({
      id: `path/${String(i).padStart(2, "0")}-${path.slice(0, 60)}`,
      caller: alice,
      path,
      // Refused as non-canonical, not found, refused by alice's RBAC, or the client could not send it.
      expect: allNamespaces ? [0, 200, 400, 403, 404, 405] : [0, 400, 403, 404, 405],
      ...(allNamespaces ? { bypass: onlyIn(t.own) } : {}),
    });
  });
  add({
    id: "path/very-long-url",
    caller: alice,
    path: `/api/v1/namespaces/${t.own}/configmaps/${"a".repeat(70_000)}`,
    expect: [0, 414, 431],
  });
  add({
    id: "path/long-name",
    caller: alice,
    path: `/api/v1/namespaces/${t.own}/configmaps/${"a".repeat(4000)}`,
    expect: [400, 404, 422],
  });
  add({
    id: "path/long-query",
    caller: alice,
    path: `/api/v1/namespaces/${t.own}/configmaps?labelSelector=a%3D${"b".repeat(10_000)}`,
    expect: [400, 422],
  });
  add({
    id: "path/double-space",
    caller: alice,
    path: "",
    raw: `GET  ${secretPath} HTTP/1.1\r\nHost: localhost\r\n\r\n`,
    // Node's parser tolerates the extra space; the request is then alice's, and refused.
    expect: [0, 400, 403],
  });

  // 10. Headers too large or too many.
  add({
    id: "headers/8k-value",
    caller: alice,
    path: "/version",
    headers: [["X-Pad", "p".repeat(8000)]],
    expect: 200,
  });
  add({
    id: "headers/32k-value",
    caller: alice,
    path: "/version",
    headers: [["X-Pad", "p".repeat(32_000)]],
    expect: [0, 431],
  });
  add({
    id: "headers/many",
    caller: alice,
    path: "/version",
    headers: Array.from({ length: 150 }, (_, i) => [`X-H${i}`, "v"] as [string, string]),
    expect: 200,
  });
  add({
    id: "headers/impersonation-after-2100",
    caller: alice,
    path: secretsList,
    headers: [
      ...Array.from({ length: 2100 }, () => ["a", "b"] as [string, string]),
      ["Impersonate-User", "system:admin"],
    ],
    expect: [0, 403, 431],
  });
  add({
    id: "headers/long-name",
    caller: alice,
    path: "/version",
    headers: [[`X-${"n".repeat(1000)}`, "v"]],
    expect: 200,
  });
  add({
    id: "headers/long-accept",
    caller: alice,
    path: `/api/v1/namespaces/${t.own}/configmaps`,
    headers: [["Accept", Array.from({ length: 300 }, (_, i) => `application/x-${i}`).join(",")]],
    expect: [200, 406],
  });

  // 11. Bodies: malformed, oversized, or aimed at another tenant (alice owns tenant hxa).
  const nsBodies: [string, string, number | number[], string?][] = [
    ["unterminated", "{", 400],
    ["empty", "", [400, 422]],
    ["null", "null", [400, 422]],
    ["array", "[]", 400],
    ["number", "1", 400],
    ["string", '"ns"', 400],
    ["no-metadata", '{"apiVersion":"v1","kind":"Namespace"}', [400, 422]],
    ["bad-name", '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"Bad_Name"}}', 422],
    ["long-name", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"${"a".repeat(300)}"}}`, 422],
    ["wrong-kind", '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"hx-podns"}}', 400],
    ["wrong-version", '{"apiVersion":"v2","kind":"Namespace","metadata":{"name":"hx-v2"}}', 400],
    [
      "labels-array",
      '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"hx-arr","labels":["a"]}}',
      400,
    ],
    [
      "victim-label",
      '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"hx-evil-1","labels":{"kubegate.dev/tenant":"hxb"}}}',
      403,
      "Forbidden",
    ],
    [
      "victim-label-generate",
      '{"apiVersion":"v1","kind":"Namespace","metadata":{"generateName":"hx-evil-","labels":{"kubegate.dev/tenant":"hxb"}}}',
      403,
      "Forbidden",
    ],
    [
      "victim-label-duplicate-key",
      '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"hx-evil-2","labels":{"kubegate.dev/tenant":"hxa","kubegate.dev/tenant":"hxb"}}}',
      [400, 403],
    ],
    [
      "victim-label-unicode-escape",
      '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"hx-evil-3","labels":{"kubegate.dev/\\u0074enant":"hxb"}}}',
      403,
    ],
    [
      "victim-label-case",
      '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"hx-evil-4","labels":{"KUBEGATE.DEV/TENANT":"hxb"}}}',
      [201, 400, 403, 422],
    ],
    [
      "deep-nesting",
      `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"hx-deep","annotations":${"[".repeat(20_000)}}}`,
      [400, 413, 422],
    ],
    [
      "oversized",
      `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"hx-big","annotations":{"a":"${"x".repeat(4 * 1024 * 1024)}"}}}`,
      [0, 413],
    ],
  ];
  for (const [what, body, expect, reason] of nsBodies) {
    add({
      id: `body/namespace-${what}`,
      caller: alice,
      method: "POST",
      path: "/api/v1/namespaces",
      headers: [["Content-Type", "application/json"]],
      body,
      expect,
      ...(reason ? { reason } : {}),
    });
  }
  add({
    id: "body/namespace-yaml-victim-label",
    caller: alice,
    method: "POST",
    path: "/api/v1/namespaces",
    headers: [["Content-Type", "application/yaml"]],
    body: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: hx-evil-5\n  labels: {kubegate.dev/tenant: hxb}\n",
    expect: 403,
  });
  add({
    id: "body/namespace-text-plain",
    caller: alice,
    method: "POST",
    path: "/api/v1/namespaces",
    headers: [["Content-Type", "text/plain"]],
    body: "hx-evil-6",
    expect: 415,
  });
  add({
    id: "body/namespace-apply-victim-label",
    caller: alice,
    method: "PATCH",
    path: "/api/v1/namespaces/hx-evil-7?fieldManager=hx",
    headers: [["Content-Type", "application/apply-patch+yaml"]],
    body: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: hx-evil-7\n  labels: {kubegate.dev/tenant: hxb}\n",
    expect: 403,
  });
  add({
    id: "body/namespace-apply-not-yaml",
    caller: alice,
    method: "PATCH",
    path: "/api/v1/namespaces/hx-evil-8?fieldManager=hx",
    headers: [["Content-Type", "application/apply-patch+yaml"]],
    body: "{{{: [",
    expect: 400,
  });
  add({
    id: "body/namespace-apply-other-kind",
    caller: alice,
    method: "PATCH",
    path: "/api/v1/namespaces/hx-evil-9?fieldManager=hx",
    headers: [["Content-Type", "application/apply-patch+yaml"]],
    body: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: hx-evil-9\n",
    expect: 400,
  });
  for (const [what, method, path, ct, body] of [
    [
      "patch-victim-namespace",
      "PATCH",
      `/api/v1/namespaces/${victimNs}`,
      "application/merge-patch+json",
      '{"metadata":{"labels":{"x":"y"}}}',
    ],
    [
      "move-own-namespace-to-victim",
      "PATCH",
      `/api/v1/namespaces/${t.own}`,
      "application/merge-patch+json",
      '{"metadata":{"labels":{"kubegate.dev/tenant":"hxb"}}}',
    ],
    [
      "put-victim-namespace",
      "PUT",
      `/api/v1/namespaces/${victimNs}`,
      "application/json",
      `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"${victimNs}"}}`,
    ],
    ["delete-victim-namespace", "DELETE", `/api/v1/namespaces/${victimNs}`, "application/json", ""],
    ["deletecollection-namespaces", "DELETE", "/api/v1/namespaces", "application/json", ""],
    [
      "delete-victim-storageclass",
      "DELETE",
      `/apis/storage.k8s.io/v1/storageclasses/${t.victim.storageClass}`,
      "application/json",
      "",
    ],
    [
      "patch-victim-storageclass",
      "PATCH",
      `/apis/storage.k8s.io/v1/storageclasses/${t.victim.storageClass}`,
      "application/merge-patch+json",
      '{"metadata":{"labels":{"x":"y"}}}',
    ],
    [
      "patch-victim-pv",
      "PATCH",
      `/api/v1/persistentvolumes/${t.victim.pv}`,
      "application/merge-patch+json",
      '{"metadata":{"labels":{"x":"y"}}}',
    ],
    [
      "finalize-victim-namespace",
      "PUT",
      `/api/v1/namespaces/${victimNs}/finalize`,
      "application/json",
      `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"${victimNs}"},"spec":{"finalizers":[]}}`,
    ],
    [
      "status-victim-namespace",
      "PUT",
      `/api/v1/namespaces/${victimNs}/status`,
      "application/json",
      `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"${victimNs}"}}`,
    ],
  ] as const) {
    add({
      id: `body/${what}`,
      caller: alice,
      method,
      path,
      headers: [["Content-Type", ct]],
      ...(body ? { body } : {}),
      expect: 403,
      reason: "Forbidden",
    });
  }
  add({
    id: "body/configmap-malformed",
    caller: alice,
    method: "POST",
    path: `/api/v1/namespaces/${t.own}/configmaps`,
    headers: [["Content-Type", "application/json"]],
    body: '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":',
    expect: 400,
  });
  add({
    id: "body/configmap-oversized",
    caller: alice,
    method: "POST",
    path: `/api/v1/namespaces/${t.own}/configmaps`,
    headers: [["Content-Type", "application/json"]],
    body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"hx-big"},"data":{"a":"${"x".repeat(4 * 1024 * 1024)}"}}`,
    expect: [413, 422],
  });
  add({
    id: "body/configmap-into-victim",
    caller: alice,
    method: "POST",
    path: `/api/v1/namespaces/${t.own}/configmaps`,
    headers: [["Content-Type", "application/json"]],
    body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"hx-cross","namespace":"${victimNs}"}}`,
    expect: 400,
  });

  // 12. Another tenant's objects by name, list, watch, Table and selector tricks (CVE-2023-46254 class).
  const TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
  const PARTIAL = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json";
  const reads: [string, string, string?, (number | number[])?][] = [
    ["ns-list", "/api/v1/namespaces"],
    ["ns-list-table", "/api/v1/namespaces", TABLE],
    ["ns-list-table-object", "/api/v1/namespaces?includeObject=Object", TABLE],
    ["ns-list-partial", "/api/v1/namespaces", PARTIAL],
    ["ns-list-protobuf", "/api/v1/namespaces", "application/vnd.kubernetes.protobuf"],
    ["ns-list-yaml", "/api/v1/namespaces", "application/yaml", [200, 406]],
    ["ns-list-victim-label", "/api/v1/namespaces?labelSelector=kubegate.dev%2Ftenant%3Dhxb"],
    ["ns-list-set", "/api/v1/namespaces?labelSelector=kubegate.dev%2Ftenant+in+(hxa,hxb)"],
    ["ns-list-not-exists", "/api/v1/namespaces?labelSelector=!kubegate.dev%2Ftenant"],
    ["ns-list-not-equal", "/api/v1/namespaces?labelSelector=kubegate.dev%2Ftenant!%3Dhxa"],
    ["ns-list-victim-tier", "/api/v1/namespaces?labelSelector=hx-tier%3Db"],
    ["ns-list-bad-selector", "/api/v1/namespaces?labelSelector=a%3D(b", undefined, 400],
    ["ns-list-dup-selector", "/api/v1/namespaces?labelSelector=&labelSelector=kubegate.dev%2Ftenant%3Dhxb"],
    [
      "ns-list-field-name",
      `/api/v1/namespaces?fieldSelector=metadata.name%3D${victimNs}`,
      undefined,
      [200, 403, 404],
    ],
    ["ns-list-field-not-own", "/api/v1/namespaces?fieldSelector=metadata.name!%3Dhxa-1"],
    ["ns-list-field-phase", "/api/v1/namespaces?fieldSelector=status.phase%3DActive"],
    [
      "ns-list-field-dup",
      `/api/v1/namespaces?fieldSelector=metadata.name%3Dhxa-1&fieldSelector=metadata.name%3D${victimNs}`,
      undefined,
      [200, 403, 404],
    ],
    ["ns-list-limit", "/api/v1/namespaces?limit=1"],
    [
      "ns-list-continue-garbage",
      "/api/v1/namespaces?limit=1&continue=Z2FyYmFnZQ",
      undefined,
      [200, 400, 410],
    ],
    ["ns-list-rv0", "/api/v1/namespaces?resourceVersion=0"],
    ["ns-list-rv-match", "/api/v1/namespaces?resourceVersion=0&resourceVersionMatch=NotOlderThan"],
    ["ns-get-victim", `/api/v1/namespaces/${victimNs}`, undefined, [403, 404]],
    ["ns-get-victim-table", `/api/v1/namespaces/${victimNs}`, TABLE, [403, 404]],
    [
      "ns-get-victim-partial",
      `/api/v1/namespaces/${victimNs}`,
      "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
      [403, 404],
    ],
    ["ns-get-victim-status", `/api/v1/namespaces/${victimNs}/status`, undefined, [403, 404]],
    ["ns-get-victim-upper", `/api/v1/namespaces/${victimNs.toUpperCase()}`, undefined, [403, 404]],
    ["ns-get-victim-encoded", `/api/v1/namespaces/${victimNs.replace("-", "%2D")}`, undefined, [403, 404]],
    ["ns-get-missing", "/api/v1/namespaces/hx-does-not-exist", undefined, 404],
    ["ns-watch", "/api/v1/namespaces?watch=1&timeoutSeconds=1"],
    ["ns-watch-true", "/api/v1/namespaces?watch=true&timeoutSeconds=1"],
    ["ns-watch-table", "/api/v1/namespaces?watch=1&timeoutSeconds=1", TABLE],
    [
      "ns-watch-selector",
      "/api/v1/namespaces?watch=1&timeoutSeconds=1&labelSelector=kubegate.dev%2Ftenant%3Dhxb",
    ],
    [
      "ns-watch-field-name",
      `/api/v1/namespaces?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3D${victimNs}`,
      undefined,
      [200, 403],
    ],
    ["ns-watch-rv0", "/api/v1/namespaces?watch=1&timeoutSeconds=1&resourceVersion=0"],
    ["ns-watch-bookmarks", "/api/v1/namespaces?watch=1&timeoutSeconds=1&allowWatchBookmarks=true"],
    [
      "ns-watch-initial-events",
      "/api/v1/namespaces?watch=1&timeoutSeconds=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
      undefined,
      // Without the WatchList feature gate the apiserver itself answers 422.
      [200, 403, 422],
    ],
    [
      "ns-watch-param-pollution-a",
      "/api/v1/namespaces?watch=0&watch=1&timeoutSeconds=1",
      undefined,
      [200, 400, 403],
    ],
    [
      "ns-watch-param-pollution-b",
      "/api/v1/namespaces?watch=1&watch=0&timeoutSeconds=1",
      undefined,
      [200, 400, 403],
    ],
    [
      "ns-watch-param-pollution-c",
      "/api/v1/namespaces?watch=false&watch=true&timeoutSeconds=1",
      undefined,
      [200, 400, 403],
    ],
    ["ns-watch-legacy-path", "/api/v1/watch/namespaces?timeoutSeconds=1", undefined, [200, 403]],
    [
      "ns-watch-legacy-name",
      `/api/v1/watch/namespaces/${victimNs}?timeoutSeconds=1`,
      undefined,
      [200, 403, 404],
    ],
    ["sc-list", "/apis/storage.k8s.io/v1/storageclasses"],
    ["sc-list-table", "/apis/storage.k8s.io/v1/storageclasses", TABLE],
    ["sc-list-victim-tier", "/apis/storage.k8s.io/v1/storageclasses?labelSelector=hx-tier%3Db"],
    [
      "sc-get-victim",
      `/apis/storage.k8s.io/v1/storageclasses/${t.victim.storageClass}`,
      undefined,
      [403, 404],
    ],
    [
      "sc-get-victim-table",
      `/apis/storage.k8s.io/v1/storageclasses/${t.victim.storageClass}`,
      TABLE,
      [403, 404],
    ],
    ["sc-watch", "/apis/storage.k8s.io/v1/storageclasses?watch=1&timeoutSeconds=1"],
    [
      "sc-watch-field-name",
      `/apis/storage.k8s.io/v1/storageclasses?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3D${t.victim.storageClass}`,
      undefined,
      [200, 403],
    ],
    ["sc-legacy-beta-path", "/apis/storage.k8s.io/v1beta1/storageclasses", undefined, [200, 403, 404]],
    ["node-list", "/api/v1/nodes"],
    ["node-get-victim", `/api/v1/nodes/${t.victim.node}`, undefined, [403, 404]],
    ["node-watch", "/api/v1/nodes?watch=1&timeoutSeconds=1"],
    ["pv-list", "/api/v1/persistentvolumes"],
    ["pv-get-victim", `/api/v1/persistentvolumes/${t.victim.pv}`, undefined, [403, 404]],
    ["pv-list-table", "/api/v1/persistentvolumes", TABLE],
  ];
  for (const [what, path, accept, expect] of reads) {
    add({
      id: `cross-tenant/${what}`,
      caller: alice,
      path,
      headers: accept ? [["Accept", accept]] : [],
      expect: expect ?? 200,
    });
  }
  return cases;
}
