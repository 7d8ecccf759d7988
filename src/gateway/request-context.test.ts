import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { parseRequestInfo } from "../kube/request-info.ts";
import { readClientHeaders } from "./headers.ts";
import { GatewayRequest } from "./request-context.ts";
import type { ClientRequest, ClientResponse, GatewayContext } from "./types.ts";

/** A response as HTTP/2 has them: no `destroyed`; `writableEnded` only once the gateway ended it. */
class Response extends EventEmitter {
  writableEnded = false;
  end() {
    this.writableEnded = true;
    this.emit("close");
  }
}

function request(url: string, res: Response) {
  return new GatewayRequest(
    {} as GatewayContext,
    { url, method: "GET", headers: {} } as unknown as ClientRequest,
    res as unknown as ClientResponse,
    parseRequestInfo("GET", url),
    readClientHeaders([]),
    { name: "alice", groups: [], extra: {} },
  );
}

describe("a request's abort signal", () => {
  it("is aborted when the client left before a route first asked for it (HTTP/2 has no `destroyed`)", () => {
    const res = new Response();
    const r = request("/api/v1/nodes", res);
    res.emit("close"); // the client reset the stream while the route was still deciding
    assert.equal(r.signal.aborted, true);
  });

  it("is aborted when the client leaves afterwards", () => {
    const res = new Response();
    const r = request("/api/v1/nodes", res);
    const signal = r.signal;
    assert.equal(signal.aborted, false);
    res.emit("close");
    assert.equal(signal.aborted, true);
  });

  it("is not aborted by the close after an answer the gateway ended, except for a watch", () => {
    const list = new Response();
    const r = request("/api/v1/nodes", list);
    list.end();
    assert.equal(r.signal.aborted, false);
    const watch = new Response();
    const w = request("/api/v1/nodes?watch=1", watch);
    watch.end();
    assert.equal(w.signal.aborted, true, "a watch's upstream read ends with its response");
  });
});
