import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { imageNodeFlags } from "./gateway.ts";

describe("imageNodeFlags", () => {
  it("reads the node flags of the repository's Dockerfile, which the bench starts the gateway with", () => {
    const flags = imageNodeFlags(readFileSync(new URL("../Dockerfile", import.meta.url), "utf8"));
    assert.deepEqual(flags, ["--max-semi-space-size=2"]);
  });

  it("takes any flags between node and the script, and refuses other entry points", () => {
    assert.deepEqual(imageNodeFlags('FROM x\nENTRYPOINT ["node", "/app/bin/kubegate.js"]'), []);
    assert.deepEqual(
      imageNodeFlags('FROM x\nENTRYPOINT ["/usr/local/bin/node", "--a", "/app/bin/kubegate.js"]'),
      ["--a"],
    );
    assert.deepEqual(
      imageNodeFlags('FROM x\nENTRYPOINT ["node", "--a", "--b=1", "/x/bin/kubegate.js"]\nCMD []'),
      ["--a", "--b=1"],
    );
    for (const bad of [
      "FROM x\nENTRYPOINT node /app/bin/kubegate.js",
      'FROM x\nENTRYPOINT ["sh", "/app/bin/kubegate.js"]',
      'FROM x\nENTRYPOINT ["/usr/local/bin/nodejs-wrapper", "/app/bin/kubegate.js"]',
      "FROM x",
      'ENTRYPOINT ["node", "/app/bin/kubegate.js"]',
    ]) {
      assert.throws(() => imageNodeFlags(bad), /no ENTRYPOINT/);
    }
  });
});
