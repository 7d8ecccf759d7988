import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { answerClientError } from "./client-error.ts";

function answer(code?: string): { text: string; ended: boolean } {
  const socket = new PassThrough();
  let text = "";
  socket.on("data", (d) => {
    text += d;
  });
  const err = Object.assign(new Error("parse error"), code ? { code } : {});
  answerClientError(err, socket);
  return { text, ended: socket.writableEnded };
}

function statusOf(text: string) {
  return JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
}

describe("answers the HTTP parser's refusals", () => {
  it("with a 400 Status for malformed framing, and closes", () => {
    const { text, ended } = answer("HPE_INVALID_HEADER_TOKEN");
    assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(text, /\r\nConnection: close\r\n/);
    const s = statusOf(text);
    assert.deepEqual([s.kind, s.code, s.reason], ["Status", 400, "BadRequest"]);
    assert.ok(ended);
  });

  it("with a 431 Status when the headers are too large", () => {
    const { text } = answer("HPE_HEADER_OVERFLOW");
    assert.match(text, /^HTTP\/1\.1 431 /);
    assert.equal(statusOf(text).code, 431);
  });

  it("writes nothing to a connection the client reset", () => {
    const { text } = answer("ECONNRESET");
    assert.equal(text, "");
  });
});
