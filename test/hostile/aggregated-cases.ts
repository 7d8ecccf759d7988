// The aggregated server's hostile corpus: callers that try to be believed as kube-apiserver's front
// proxy (X-Remote-* headers) without its certificate, and tokens that are not tokens.
import type { RawResponse } from "../support/https-client.ts";
import { type Caller, type HostileCase, spellings } from "./corpus.ts";

export interface AggregatedTargets {
  /** Trusts the server, presents nothing. */
  anonymous: Caller;
  /** A user certificate from the cluster's client CA: a legitimate direct caller, by its CN. */
  direct: Caller;
  directUser: string;
  /** The real front-proxy client certificate (positive control for the request-header path). */
  frontProxy: Caller;
  /** Certificates that must never make X-Remote-* believed, by what is wrong with them. */
  notFrontProxy: Record<string, Caller>;
  /** Of those, the ones a client CA still accepts as a direct caller (their CN is then the user). */
  directIdentity: Record<string, string>;
}

const PATHS = ["/apis/custom.api.local/v1/whoami", "/apis/custom.api.local/v1/mynamespace"];

const FORGERIES: [string, [string, string][]][] = [
  ["user", [["X-Remote-User", "system:admin"]]],
  [
    "group",
    [
      ["X-Remote-User", "hx-forged"],
      ["X-Remote-Group", "system:masters"],
    ],
  ],
  [
    "repeated-user",
    [
      ["X-Remote-User", "hx-forged"],
      ["x-remote-user", "system:admin"],
    ],
  ],
  [
    "extra",
    [
      ["X-Remote-User", "hx-forged"],
      ["X-Remote-Extra-Scopes", "all"],
    ],
  ],
  [
    "impersonate",
    [
      ["Impersonate-User", "system:admin"],
      ["Impersonate-Group", "system:masters"],
    ],
  ],
];

/** whoami must name the caller's own identity, never the forged one or system:masters. */
function identityIs(expected: string | undefined) {
  return (r: RawResponse): string | undefined => {
    if (r.status !== 200 || !r.body.includes('"userInfo"')) return undefined;
    const u = (JSON.parse(r.body) as { status: { userInfo: { username: string; groups?: string[] } } }).status
      .userInfo;
    if (u.username !== expected) return `believed to be ${u.username}`;
    if (u.groups?.includes("system:masters")) return "believed to be in system:masters";
    return undefined;
  };
}

export function aggregatedCorpus(t: AggregatedTargets): HostileCase[] {
  const cases: HostileCase[] = [];
  for (const path of PATHS) {
    const what = path.split("/").at(-1) as string;
    // Nobody, and certificates the front-proxy path must not accept, with every forgery.
    const callers: [string, Caller, string | undefined][] = [
      ["anonymous", t.anonymous, undefined],
      ...Object.entries(t.notFrontProxy).map(
        ([name, c]) => [name, c, t.directIdentity[name]] as [string, Caller, string | undefined],
      ),
    ];
    for (const [name, caller, direct] of callers) {
      for (const [forgery, headers] of FORGERIES) {
        cases.push({
          id: `front-proxy-forgery/${what}-${name}-${forgery}`,
          caller,
          path,
          headers,
          // A client CA certificate is a direct caller: answered as its CN (or refused by RBAC).
          expect: direct ? [200, 403] : 401,
          bypass: identityIs(direct),
        });
      }
    }
    // A legitimate direct caller: every spelling of X-Remote-User is ignored.
    for (const spelled of spellings("X-Remote-User")) {
      cases.push({
        id: `direct-caller/${what}-${spelled}`,
        caller: t.direct,
        path,
        headers: [[spelled, "system:admin"]],
        expect: [200, 403],
        bypass: identityIs(t.directUser),
      });
    }
    for (const [label, value] of [
      ["empty", "Bearer "],
      ["garbage", "Bearer garbage"],
      ["basic", "Basic YWRtaW46YWRtaW4="],
      ["alg-none", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJzeXN0ZW06YWRtaW4ifQ."],
    ]) {
      cases.push({
        id: `token/${what}-${label}`,
        caller: t.anonymous,
        path,
        headers: [["Authorization", value as string]],
        expect: 401,
        reason: "Unauthorized",
      });
    }
  }
  // Positive controls: the real front proxy is believed, exactly as it says.
  cases.push({
    id: "front-proxy-control/whoami",
    caller: t.frontProxy,
    path: PATHS[0] as string,
    headers: [
      ["X-Remote-User", "hx-proxied"],
      ["X-Remote-Group", "hx-readers"],
    ],
    expect: 200,
    bypass: identityIs("hx-proxied"),
  });
  cases.push({
    id: "front-proxy-control/no-user-header",
    caller: t.frontProxy,
    path: PATHS[0] as string,
    headers: [["X-Remote-Group", "system:masters"]],
    expect: 401,
  });
  cases.push({
    id: "front-proxy-control/path-traversal",
    caller: t.frontProxy,
    path: "/apis/custom.api.local/v1/../../../api/v1/namespaces",
    headers: [["X-Remote-User", "hx-proxied"]],
    expect: [400, 404],
  });
  return cases;
}
