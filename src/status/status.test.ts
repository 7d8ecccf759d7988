import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { unavailable } from "../kube/upstream.ts";
import { codeOf } from "./codes.ts";
import { KubegateError } from "./errors.ts";
import { forbidden, StatusError, status, toStatus } from "./status.ts";

describe("error codes", () => {
  it("a Status error has the code of its HTTP status unless it names a more specific one", () => {
    assert.equal(new StatusError(status(404, "x")).code, "KUBEGATE_NOT_FOUND");
    assert.equal(forbidden("no").code, "KUBEGATE_FORBIDDEN");
    assert.equal(forbidden("no", "KUBEGATE_TENANCY_RULE").code, "KUBEGATE_TENANCY_RULE");
    assert.equal(new StatusError(status(418, "teapot")).code, "KUBEGATE_BAD_REQUEST");
    assert.equal(new StatusError(status(507, "full")).code, "KUBEGATE_INTERNAL");
  });

  it("an unreachable apiserver is one code, whatever the socket error was", () => {
    const err = unavailable(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));
    assert.equal(err.code, "KUBEGATE_UPSTREAM_UNAVAILABLE");
    assert.equal(err.status.code, 503);
  });

  it("codeOf reads ours, undici's and Node's alike, and nothing from what has none", () => {
    assert.equal(codeOf(new KubegateError("bad flag")), "KUBEGATE_INVALID_INPUT");
    assert.equal(
      codeOf(Object.assign(new Error("t"), { code: "UND_ERR_HEADERS_TIMEOUT" })),
      "UND_ERR_HEADERS_TIMEOUT",
    );
    assert.equal(codeOf(new Error("plain")), undefined);
    assert.equal(codeOf(null), undefined);
  });

  it("a KubegateError becomes a Status with its HTTP code", () => {
    const s = toStatus(new KubegateError("nope", { httpCode: 422, code: "KUBEGATE_INVALID_OPTION" }));
    assert.equal(s.code, 422);
    assert.equal(s.message, "nope");
  });
});
