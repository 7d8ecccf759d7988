import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dockerfileImage, parseDockerfile } from "./dockerfile.ts";

describe("parseDockerfile", () => {
  it("reads stages as Docker would: global ARGs in FROM, continuations, comments inside them", () => {
    const stages = parseDockerfile(
      [
        "# syntax comment",
        "ARG V=1.2.3",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text, where ${V} is an ARG
        "FROM base:${V}-slim AS build",
        "WORKDIR /src",
        "RUN a \\",
        "# a comment Docker drops",
        " && b",
        "FROM base:$V",
      ].join("\n"),
    );
    assert.deepEqual(
      stages.map((s) => [s.name, s.base, s.runs]),
      [
        ["build", "base:1.2.3-slim", ["a  && b"]],
        [undefined, "base:1.2.3", []],
      ],
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text, where ${NOPE} is an ARG
    assert.throws(() => parseDockerfile("FROM base:${NOPE}"), /has no ARG default/);
  });

  it("resolves COPY destinations against WORKDIR and into a directory when the target ends in /", () => {
    const image = dockerfileImage(
      "FROM x\nWORKDIR /app\nWORKDIR sub\nCOPY a b ./\nCOPY --from=build --chown=1:1 /src/dist ./dist\nCOPY c /abs",
    );
    assert.equal(image.workingDir, "/app/sub");
    assert.deepEqual(image.copies, [
      { source: "a", path: "/app/sub/a" },
      { source: "b", path: "/app/sub/b" },
      { from: "build", source: "/src/dist", path: "/app/sub/dist" },
      { source: "c", path: "/abs" },
    ]);
  });

  it("reads both ENV forms, a later value replacing an earlier one", () => {
    const image = dockerfileImage('FROM x\nENV A=1 B="two words" C=a\\ b\nENV D legacy form\nENV A=3');
    assert.deepEqual(image.env, ["B=two words", "C=a b", "D=legacy form", "A=3"]);
  });

  it("takes ENTRYPOINT and CMD in exec form as written and the shell form as sh -c runs it", () => {
    const image = dockerfileImage('FROM x\nCMD ["inherited"]\nENTRYPOINT ["/bin/app", "--flag"]\nUSER 1:2');
    assert.deepEqual(image.entrypoint, ["/bin/app", "--flag"]);
    // Docker drops an earlier CMD once ENTRYPOINT is set.
    assert.equal(image.cmd, undefined);
    assert.equal(image.user, "1:2");
    assert.deepEqual(dockerfileImage("FROM x\nCMD run --now").cmd, ["/bin/sh", "-c", "run --now"]);
  });

  it("starts a stage built on an earlier one from that stage's settings", () => {
    const image = dockerfileImage("FROM x AS base\nENV A=1\nUSER 5\nFROM base\nENV B=2");
    assert.deepEqual([image.env, image.user, image.name], [["A=1", "B=2"], "5", undefined]);
  });
});
