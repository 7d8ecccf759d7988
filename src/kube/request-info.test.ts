import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  isLongRunning,
  MAX_PATH_BYTES,
  PathError,
  parseRequestInfo,
  type RequestInfo,
} from "./request-info.ts";

type Fields = Omit<RequestInfo, "query" | "path" | "parts">;

/** The fields a resource request must have: `gv` is "v1" for core or "group/version". */
function res(
  verb: string,
  gv: string,
  namespace: string,
  resource: string,
  name = "",
  subresource = "",
): Fields {
  const slash = gv.indexOf("/");
  const apiGroup = slash === -1 ? "" : gv.slice(0, slash);
  const apiVersion = gv.slice(slash + 1);
  return {
    isResourceRequest: true,
    verb,
    apiPrefix: slash === -1 ? "api" : "apis",
    apiGroup,
    apiVersion,
    namespace,
    resource,
    subresource,
    name,
  };
}

/** The fields of a non-resource request. */
function nonRes(verb: string, apiPrefix?: "api" | "apis"): Fields {
  return {
    isResourceRequest: false,
    verb,
    ...(apiPrefix ? { apiPrefix } : {}),
    apiGroup: "",
    apiVersion: "",
    namespace: "",
    resource: "",
    subresource: "",
    name: "",
  };
}

function fieldsOf(info: RequestInfo): Fields {
  const { query: _q, path: _p, parts: _parts, ...rest } = info;
  return rest;
}

type Case = [method: string, target: string, want: Fields];

function check(cases: Case[]): void {
  for (const [method, target, want] of cases) {
    assert.deepEqual(fieldsOf(parseRequestInfo(method, target)), want, `${method} ${target}`);
  }
}

describe("parseRequestInfo: core resources", () => {
  it("reads verb, namespace, resource, name and subresource", () => {
    check([
      ["GET", "/api/v1/pods", res("list", "v1", "", "pods")],
      ["GET", "/api/v1/namespaces/ns/pods", res("list", "v1", "ns", "pods")],
      ["GET", "/api/v1/namespaces/ns/pods/p", res("get", "v1", "ns", "pods", "p")],
      ["HEAD", "/api/v1/namespaces/ns/pods/p", res("get", "v1", "ns", "pods", "p")],
      ["HEAD", "/api/v1/namespaces/ns/pods", res("list", "v1", "ns", "pods")],
      ["POST", "/api/v1/namespaces/ns/pods", res("create", "v1", "ns", "pods")],
      ["PUT", "/api/v1/namespaces/ns/pods/p", res("update", "v1", "ns", "pods", "p")],
      ["PATCH", "/api/v1/namespaces/ns/pods/p", res("patch", "v1", "ns", "pods", "p")],
      ["DELETE", "/api/v1/namespaces/ns/pods/p", res("delete", "v1", "ns", "pods", "p")],
      ["DELETE", "/api/v1/namespaces/ns/pods", res("deletecollection", "v1", "ns", "pods")],
      ["GET", "/api/v1/nodes", res("list", "v1", "", "nodes")],
      ["GET", "/api/v1/nodes/n1", res("get", "v1", "", "nodes", "n1")],
      ["DELETE", "/api/v1/nodes/n1", res("delete", "v1", "", "nodes", "n1")],
      ["PUT", "/api/v1/namespaces/ns/pods/p/status", res("update", "v1", "ns", "pods", "p", "status")],
      ["POST", "/api/v1/namespaces/ns/pods/p/binding", res("create", "v1", "ns", "pods", "p", "binding")],
      [
        "POST",
        "/api/v1/namespaces/ns/serviceaccounts/sa/token",
        res("create", "v1", "ns", "serviceaccounts", "sa", "token"),
      ],
      // A method kube has no verb for gives the empty verb.
      ["OPTIONS", "/api/v1/namespaces/ns/pods", res("", "v1", "ns", "pods")],
      ["constructor", "/api/v1/namespaces/ns/pods", res("", "v1", "ns", "pods")],
      // Methods are matched case-sensitively, as Go does.
      ["get", "/api/v1/namespaces/ns/pods", res("", "v1", "ns", "pods")],
    ]);
  });

  it("keeps the method's verb on the streaming subresources, as kube does", () => {
    check([
      [
        "POST",
        "/api/v1/namespaces/ns/pods/p/exec?command=ls&stdout=1",
        res("create", "v1", "ns", "pods", "p", "exec"),
      ],
      [
        "GET",
        "/api/v1/namespaces/ns/pods/p/exec?command=ls&stdout=1",
        res("get", "v1", "ns", "pods", "p", "exec"),
      ],
      ["POST", "/api/v1/namespaces/ns/pods/p/attach", res("create", "v1", "ns", "pods", "p", "attach")],
      ["GET", "/api/v1/namespaces/ns/pods/p/portforward", res("get", "v1", "ns", "pods", "p", "portforward")],
      ["GET", "/api/v1/namespaces/ns/pods/p/log?follow=true", res("get", "v1", "ns", "pods", "p", "log")],
      ["GET", "/api/v1/namespaces/ns/pods/p/proxy/metrics", res("get", "v1", "ns", "pods", "p", "proxy")],
      ["PUT", "/api/v1/nodes/n1/proxy/configz", res("update", "v1", "", "nodes", "n1", "proxy")],
    ]);
  });
});

describe("parseRequestInfo: group resources", () => {
  it("reads the group and version", () => {
    check([
      ["GET", "/apis/apps/v1/deployments", res("list", "apps/v1", "", "deployments")],
      ["GET", "/apis/apps/v1/namespaces/ns/deployments/d", res("get", "apps/v1", "ns", "deployments", "d")],
      [
        "PATCH",
        "/apis/apps/v1/namespaces/ns/deployments/d/scale",
        res("patch", "apps/v1", "ns", "deployments", "d", "scale"),
      ],
      [
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        res("create", "rbac.authorization.k8s.io/v1", "", "clusterroles"),
      ],
      [
        "DELETE",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        res("deletecollection", "rbac.authorization.k8s.io/v1", "", "clusterroles"),
      ],
      [
        "GET",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/foos.example.com",
        res("get", "apiextensions.k8s.io/v1", "", "customresourcedefinitions", "foos.example.com"),
      ],
      [
        "PUT",
        "/apis/example.com/v1beta1/namespaces/ns/foos/f/status",
        res("update", "example.com/v1beta1", "ns", "foos", "f", "status"),
      ],
      [
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        res("create", "authorization.k8s.io/v1", "", "selfsubjectaccessreviews"),
      ],
      [
        "GET",
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases?watch=1",
        res("watch", "coordination.k8s.io/v1", "kube-node-lease", "leases"),
      ],
    ]);
  });
});

describe("parseRequestInfo: namespaces", () => {
  it("treats /namespaces, /namespaces/{name} and its status and finalize as the namespace itself", () => {
    check([
      ["GET", "/api/v1/namespaces", res("list", "v1", "", "namespaces")],
      ["POST", "/api/v1/namespaces", res("create", "v1", "", "namespaces")],
      ["GET", "/api/v1/namespaces/foo", res("get", "v1", "foo", "namespaces", "foo")],
      ["DELETE", "/api/v1/namespaces/foo", res("delete", "v1", "foo", "namespaces", "foo")],
      ["GET", "/api/v1/namespaces/foo/status", res("get", "v1", "foo", "namespaces", "foo", "status")],
      ["PUT", "/api/v1/namespaces/foo/finalize", res("update", "v1", "foo", "namespaces", "foo", "finalize")],
      ["GET", "/api/v1/watch/namespaces", res("watch", "v1", "", "namespaces")],
      ["GET", "/api/v1/watch/namespaces/foo", res("watch", "v1", "foo", "namespaces", "foo")],
      // The same parse in any group: a namespaced resource called "status" cannot be addressed.
      [
        "GET",
        "/apis/example.com/v1/namespaces/foo/status",
        res("get", "example.com/v1", "foo", "namespaces", "foo", "status"),
      ],
      ["GET", "/api/v1/namespaces/foo/configmaps/status", res("get", "v1", "foo", "configmaps", "status")],
    ]);
  });

  it("keeps parts relative to the resource", () => {
    assert.deepEqual(parseRequestInfo("GET", "/api/v1/namespaces/foo").parts, ["namespaces", "foo"]);
    assert.deepEqual(parseRequestInfo("GET", "/api/v1/namespaces/foo/status/x").parts, [
      "namespaces",
      "foo",
      "status",
      "x",
    ]);
    assert.deepEqual(parseRequestInfo("GET", "/api/v1/namespaces/foo/pods/p/log").parts, [
      "pods",
      "p",
      "log",
    ]);
    assert.deepEqual(parseRequestInfo("GET", "/api/v1/namespaces/ns/pods/p/proxy/a/b").parts, [
      "pods",
      "p",
      "proxy",
      "a",
      "b",
    ]);
  });
});

describe("parseRequestInfo: watch", () => {
  it("reads the deprecated /watch/ prefix whatever the method", () => {
    check([
      ["GET", "/api/v1/watch/pods", res("watch", "v1", "", "pods")],
      ["GET", "/api/v1/watch/namespaces/ns/pods", res("watch", "v1", "ns", "pods")],
      ["GET", "/api/v1/watch/namespaces/ns/pods/p", res("watch", "v1", "ns", "pods", "p")],
      ["GET", "/apis/apps/v1/watch/namespaces/ns/deployments", res("watch", "apps/v1", "ns", "deployments")],
      ["POST", "/api/v1/watch/pods", res("watch", "v1", "", "pods")],
      // The path named the verb, so the fieldSelector is not read for a name.
      [
        "GET",
        "/api/v1/watch/namespaces/ns/pods?fieldSelector=metadata.name%3Dp",
        res("watch", "v1", "ns", "pods"),
      ],
    ]);
    assert.deepEqual(parseRequestInfo("GET", "/api/v1/watch/namespaces/ns/pods/p").parts, ["pods", "p"]);
  });

  it("reads ?watch= as kube's ListOptions decoder does: only absent, 0 and false mean no", () => {
    const verb = (q: string) => parseRequestInfo("GET", `/api/v1/pods?${q}`).verb;
    const cases: [string, string][] = [
      ["watch=1", "watch"],
      ["watch=true", "watch"],
      ["watch=TRUE", "watch"],
      ["watch=yes", "watch"],
      ["watch=no", "watch"],
      ["watch=", "watch"],
      ["watch", "watch"],
      ["watch=0", "list"],
      ["watch=false", "list"],
      ["watch=False", "list"],
      ["watch=00", "watch"],
      // Go's EqualFold folds 'ſ' to 's'…
      ["watch=fal%C5%BFe", "list"],
      // …but the fallback used when the query does not decode only lowercases.
      ["watch=fal%C5%BFe&limit=x", "watch"],
      ["watch=false&watch=true", "list"],
      ["resourceVersion=0", "list"],
      // Go's url.ParseQuery drops pairs with ';' or a bad escape; '+' is a space.
      ["watch=true;x=1", "list"],
      ["x=1;y&watch=true", "watch"],
      ["watch=%zz", "list"],
      ["watch=fa+lse", "watch"],
    ];
    for (const [q, want] of cases) assert.equal(verb(q), want, q);
  });

  it("does not turn a named get into a watch", () => {
    check([["GET", "/api/v1/namespaces/ns/pods/p?watch=true", res("get", "v1", "ns", "pods", "p")]]);
  });
});

describe("parseRequestInfo: fieldSelector=metadata.name", () => {
  it("names the object of a list or watch, as kube does", () => {
    const pods = "/api/v1/namespaces/ns/pods";
    check([
      ["GET", `${pods}?fieldSelector=metadata.name%3Dp`, res("list", "v1", "ns", "pods", "p")],
      ["GET", `${pods}?fieldSelector=metadata.name=p`, res("list", "v1", "ns", "pods", "p")],
      ["GET", `${pods}?fieldSelector=metadata.name%3D%3Dp&watch=1`, res("watch", "v1", "ns", "pods", "p")],
      [
        "GET",
        `${pods}?fieldSelector=spec.nodeName%3Dn,metadata.name%3Dp`,
        res("list", "v1", "ns", "pods", "p"),
      ],
      [
        "GET",
        "/api/v1/namespaces?fieldSelector=metadata.name%3Dfoo",
        res("list", "v1", "", "namespaces", "foo"),
      ],
      ["GET", `${pods}?fieldSelector=metadata.name%3Da%5C%2Cb`, res("list", "v1", "ns", "pods", "a,b")],
      // Terms are taken in byte order, as fields.ParseSelector sorts them: "==" sorts before "=b".
      [
        "GET",
        `${pods}?fieldSelector=metadata.name%3Da,metadata.name%3D%3Db`,
        res("list", "v1", "ns", "pods", "b"),
      ],
      [
        "GET",
        `${pods}?fieldSelector=metadata.name%3D%3Da,metadata.name%3Db`,
        res("list", "v1", "ns", "pods", "a"),
      ],
    ]);
  });

  it("names nothing when the selector does not pin the name, or the query does not decode", () => {
    const pods = "/api/v1/namespaces/ns/pods";
    check([
      ["GET", `${pods}?fieldSelector=metadata.name!%3Dp`, res("list", "v1", "ns", "pods")],
      ["GET", `${pods}?fieldSelector=metadata.namespace%3Dns`, res("list", "v1", "ns", "pods")],
      ["GET", `${pods}?fieldSelector=metadata.name%3D`, res("list", "v1", "ns", "pods")],
      ["GET", `${pods}?fieldSelector=metadata.name%3D..`, res("list", "v1", "ns", "pods")],
      ["GET", `${pods}?fieldSelector=metadata.name%3Da%2Fb`, res("list", "v1", "ns", "pods")],
      ["GET", `${pods}?fieldSelector=metadata.name%3Da%25b`, res("list", "v1", "ns", "pods")],
      ["GET", `${pods}?fieldSelector=metadata.name%3Da%5Cq`, res("list", "v1", "ns", "pods")],
      ["GET", `${pods}?fieldSelector=metadata.name%3Dp&limit=ten`, res("list", "v1", "ns", "pods")],
      ["GET", `${pods}?fieldSelector=metadata.name%3Dp&timeoutSeconds=`, res("list", "v1", "ns", "pods")],
      [
        "GET",
        `${pods}?fieldSelector=metadata.name%3Dp&labelSelector=%3D%3D%3D`,
        res("list", "v1", "ns", "pods"),
      ],
      [
        "GET",
        `${pods}?fieldSelector=metadata.name%3Dp&limit=500&timeoutSeconds=-1`,
        res("list", "v1", "ns", "pods", "p"),
      ],
      // Only an unnamed read is a list: deletecollection stays unnamed.
      ["DELETE", `${pods}?fieldSelector=metadata.name%3Dp`, res("deletecollection", "v1", "ns", "pods")],
      // A named get keeps its own name.
      ["GET", `${pods}/q?fieldSelector=metadata.name%3Dp`, res("get", "v1", "ns", "pods", "q")],
    ]);
  });
});

describe("parseRequestInfo: proxy", () => {
  it("reads the deprecated /proxy/ prefix as the proxy verb, with no subresource", () => {
    check([
      ["GET", "/api/v1/proxy/namespaces/ns/pods/p/a/b", res("proxy", "v1", "ns", "pods", "p")],
      ["POST", "/api/v1/proxy/nodes/n1/stats", res("proxy", "v1", "", "nodes", "n1")],
      ["GET", "/api/v1/proxy/nodes", res("proxy", "v1", "", "nodes")],
    ]);
    assert.deepEqual(parseRequestInfo("GET", "/api/v1/proxy/namespaces/ns/pods/p/a/b").parts, [
      "pods",
      "p",
      "a",
      "b",
    ]);
  });

  it("decodes service proxy names and keeps a trailing slash in the path", () => {
    const info = parseRequestInfo(
      "GET",
      "/api/v1/namespaces/kube-system/services/https%3Adashboard%3A443/proxy/",
    );
    assert.deepEqual(
      fieldsOf(info),
      res("get", "v1", "kube-system", "services", "https:dashboard:443", "proxy"),
    );
    assert.equal(info.path, "/api/v1/namespaces/kube-system/services/https:dashboard:443/proxy/");
  });
});

describe("parseRequestInfo: non-resource requests", () => {
  it("reports the lowercased method and no resource", () => {
    check([
      ["GET", "/", nonRes("get")],
      ["GET", "/api", nonRes("get")],
      ["GET", "/api/v1", nonRes("get")],
      ["GET", "/api/v1/", nonRes("get")],
      ["GET", "/apis", nonRes("get")],
      ["GET", "/apis/apps", nonRes("get")],
      // kube records the prefix of group-version discovery but it is still not a resource.
      ["GET", "/apis/apps/v1", nonRes("get", "apis")],
      ["GET", "/version", nonRes("get")],
      ["GET", "/version?timeout=32s", nonRes("get")],
      ["GET", "/healthz", nonRes("get")],
      ["GET", "/livez/etcd", nonRes("get")],
      ["HEAD", "/readyz", nonRes("head")],
      ["GET", "/openapi/v2", nonRes("get")],
      ["GET", "/openapi/v3/apis/apps/v1?hash=abc", nonRes("get")],
      ["POST", "/metrics", nonRes("post")],
      ["PUT", "/logs/x", nonRes("put")],
      ["PATCH", "/x", nonRes("patch")],
      ["DELETE", "/x/y/z/w", nonRes("delete")],
      ["OPTIONS", "/api", nonRes("options")],
      ["GET", "/debug/pprof/profile", nonRes("get")],
      ["GET", "/apiz/v1/pods", nonRes("get")],
    ]);
    assert.deepEqual(parseRequestInfo("GET", "/openapi/v2").parts, []);
  });
});

describe("parseRequestInfo: decoding", () => {
  it("decodes the path and keeps the query apart", () => {
    const info = parseRequestInfo(
      "GET",
      "/api/v1/namespaces/ns/configmaps/a%3Ab%2Bc?labelSelector=app%3Dweb&x=a+b",
    );
    assert.equal(info.path, "/api/v1/namespaces/ns/configmaps/a:b+c");
    assert.equal(info.name, "a:b+c");
    assert.equal(info.query.get("labelSelector"), "app=web");
    assert.equal(info.query.get("x"), "a b");
    assert.equal(parseRequestInfo("GET", "/").path, "/");
    assert.equal(parseRequestInfo("GET", "/api/v1/pods?").path, "/api/v1/pods");
    assert.equal(parseRequestInfo("GET", "/healthz/").path, "/healthz/");
  });

  it("accepts UTF-8 and a path of exactly the maximum length", () => {
    assert.equal(parseRequestInfo("GET", "/api/v1/namespaces/ns/pods/%C3%A9").name, "é");
    const long = `/api/v1/pods/${"a".repeat(MAX_PATH_BYTES - "/api/v1/pods/".length)}`;
    assert.equal(long.length, MAX_PATH_BYTES);
    assert.equal(parseRequestInfo("GET", `${long}?watch=1`).verb, "get");
  });
});

describe("parseRequestInfo: hostile targets", () => {
  const hostile: [target: string, message: RegExp][] = [
    ["", /empty/],
    ["api/v1/pods", /starting with '\/'/],
    ["*", /starting with '\/'/],
    ["kube.example:443", /absolute URL/],
    ["http://evil.example/api/v1/pods", /absolute URL/],
    ["HTTPS://evil.example/api/v1/pods", /absolute URL/],
    ["//evil.example/api/v1/pods", /empty segments/],
    ["/api//v1/pods", /empty segments/],
    ["/api/v1/pods//", /empty segments/],
    ["//", /empty segments/],
    ["/api/v1/./pods", /'\.' segments/],
    ["/..", /'\.\.' segments/],
    ["/api/v1/namespaces/a/../b/pods", /'\.\.' segments/],
    ["/api/v1/namespaces/%2e%2e/pods", /'\.\.' segments/],
    ["/api/v1/namespaces/%2E%2e/pods", /'\.\.' segments/],
    ["/api/v1/namespaces/.%2e/pods", /'\.\.' segments/],
    ["/api/v1/namespaces/%2E./pods", /'\.\.' segments/],
    ["/api/v1/namespaces/%2e/pods", /'\.' segments/],
    ["/api/v1/namespaces/ns/pods/p/proxy/../../secrets", /'\.\.' segments/],
    ["/api/v1/namespaces/a%2fb/pods", /encoded '\/'/],
    ["/api/v1/namespaces/a%2Fb/pods", /encoded '\/'/],
    ["/api/v1/namespaces/ns/pods/p/proxy/..%2F..%2Fsecrets", /encoded '\/'/],
    ["/%2f", /encoded '\/'/],
    ["/api/v1/namespaces/a%5cb/pods", /encoded '\\'/],
    ["/api/v1/namespaces/a%5Cb/pods", /encoded '\\'/],
    ["/api/v1/namespaces/a\\b/pods", /'\\'/],
    ["/api\\v1/pods", /'\\'/],
    ["/api/v1/namespaces/a%00/pods", /NUL/],
    ["/api/v1/namespaces/a\0/pods", /NUL/],
    ["/api/v1/pods?x=\0", /NUL/],
    ["/api/v1/namespaces/a%0a/pods", /control characters/],
    ["/api/v1/namespaces/a%7F/pods", /control characters/],
    ["/api/v1/pods\r\nX-Injected: 1", /control characters/],
    ["/api/v1/pods/a b", /control characters/],
    ["/api/v1/namespaces/é/pods", /ASCII/],
    ["/api/v1/namespaces/a%zz/pods", /invalid percent-encoding/],
    ["/api/v1/namespaces/a%/pods", /invalid percent-encoding/],
    ["/api/v1/namespaces/a%4/pods", /invalid percent-encoding/],
    ["/api/v1/namespaces/%c0%ae%c0%ae/pods", /not UTF-8/],
    ["/api/v1/namespaces/%ff/pods", /not UTF-8/],
    ["/api/v1/pods#fragment", /fragment/],
    [`/api/v1/pods/${"a".repeat(MAX_PATH_BYTES)}`, /longer than 8192 bytes/],
    ["/api/v1/watch", /unable to determine kind and namespace/],
    ["/apis/apps/v1/proxy", /unable to determine kind and namespace/],
  ];

  it("refuses each with a PathError that says what is wrong", () => {
    assert.ok(hostile.length >= 15);
    for (const [target, message] of hostile) {
      assert.throws(
        () => parseRequestInfo("GET", target),
        (err: unknown) => {
          assert.ok(err instanceof PathError, `${JSON.stringify(target)}: ${String(err)}`);
          assert.match(err.message, message, JSON.stringify(target));
          return true;
        },
        JSON.stringify(target),
      );
    }
  });

  it("gives the brief's message for '..'", () => {
    assert.throws(() => parseRequestInfo("GET", "/api/v1/.."), {
      name: "PathError",
      message: "path must not contain '..' segments",
    });
  });

  it("leaves the query's own escapes alone", () => {
    const info = parseRequestInfo("GET", "/api/v1/pods?fieldSelector=metadata.name%3Da%5C%2Cb&x=%2F..%5C");
    assert.equal(info.query.get("x"), "/..\\");
    assert.equal(info.name, "a,b");
  });
});

describe("isLongRunning", () => {
  it("matches kube-apiserver's long-running check", () => {
    const cases: [method: string, target: string, want: boolean][] = [
      ["GET", "/api/v1/namespaces/ns/pods?watch=true", true],
      ["GET", "/api/v1/watch/namespaces/ns/pods", true],
      ["GET", "/api/v1/namespaces/ns/pods/p?watch=true", false],
      ["POST", "/api/v1/namespaces/ns/pods/p/exec?command=sh", true],
      ["GET", "/api/v1/namespaces/ns/pods/p/exec?command=sh", true],
      ["POST", "/api/v1/namespaces/ns/pods/p/attach", true],
      ["POST", "/api/v1/namespaces/ns/pods/p/portforward", true],
      ["GET", "/api/v1/namespaces/ns/pods/p/log", true],
      ["GET", "/api/v1/namespaces/ns/pods/p/log?follow=true", true],
      ["GET", "/api/v1/namespaces/ns/services/s/proxy/", true],
      ["GET", "/api/v1/proxy/nodes/n1/stats", true],
      ["GET", "/debug/pprof/profile?seconds=30", true],
      ["GET", "/api/v1/namespaces/ns/pods/p", false],
      ["GET", "/api/v1/namespaces/ns/pods", false],
      ["PUT", "/api/v1/namespaces/ns/pods/p/status", false],
      ["GET", "/healthz", false],
      ["GET", "/debug/pprof", false],
    ];
    for (const [method, target, want] of cases) {
      assert.equal(isLongRunning(parseRequestInfo(method, target)), want, `${method} ${target}`);
    }
  });
});
