import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { summarizeProfile } from "./profile.ts";

const frame = (functionName: string, url = "") => ({ functionName, url, lineNumber: 9, columnNumber: 0 });

describe("cpu profile summary", () => {
  it("ranks by self time from the first request on, ignores idle, names the heaviest caller", () => {
    const s = summarizeProfile({
      nodes: [
        { id: 1, callFrame: frame("(root)"), children: [2, 5, 6] },
        { id: 2, callFrame: frame("(idle)") },
        { id: 5, callFrame: frame("handleRequest"), children: [3, 4] },
        { id: 3, callFrame: frame("parse", "file:///x/node_modules/undici/lib/parser.js") },
        { id: 4, callFrame: frame("") },
        { id: 6, callFrame: frame("compileModule") },
      ],
      // The first sample (start-up) is before any request and is left out.
      samples: [6, 2, 3, 3, 4, 2, 3],
      timeDeltas: [50000, 5000, 1000, 1000, 1000, 9000, 1000],
    });
    assert.equal(s.totalMs, 4);
    assert.equal(s.top[0]?.function, "parse");
    assert.equal(s.top[0]?.location, "undici/lib/parser.js:10");
    assert.equal(s.top[0]?.selfPercent, 75);
    assert.equal(s.top[0]?.calledFrom, "handleRequest");
    assert.equal(s.top[1]?.function, "(anonymous)");
    assert.ok(!s.top.some((f) => f.function === "(idle)" || f.function === "compileModule"));
  });
});
