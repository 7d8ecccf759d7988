// The Dockerfile and `npm run image` describe one image: a change to how it runs or to what /app holds
// that lands in only one of them fails here. Both sides are read from their sources, not restated.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { posix } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseDockerfile } from "./dockerfile.ts";
import {
  APP_BUILT,
  APP_FROM_CHECKOUT,
  BUILD_TSCONFIG,
  imageNode,
  KUBEGATE_IMAGE_CONFIG,
} from "./kubegate-image.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const DOCKERFILE = readFileSync(`${REPO}/Dockerfile`, "utf8");

/** What a user of the image meets, in terms both sources can be brought to. */
interface Described {
  entrypoint: readonly string[] | undefined;
  cmd: readonly string[] | undefined;
  user: string | undefined;
  env: readonly string[];
  workingDir: string;
  /** `<path in the image> <- checkout:<path in the checkout>` or `... <- build:<what the build made>`. */
  app: readonly string[];
  nodeVersion: string | undefined;
  /** The tsc projects the build compiles with. */
  tsconfigs: readonly string[];
}

function fromDockerfile(text: string): Described {
  const stages = parseDockerfile(text);
  const image = stages.at(-1);
  if (!image) throw new Error("no FROM in the Dockerfile");
  const app = image.copies.map((c) => {
    if (c.from === undefined) return `${c.path} <- checkout:${posix.normalize(c.source)}`;
    const stage = stages.find((s) => s.name === c.from);
    // A --from that names no stage is an image pulled from a registry: not something this build made.
    if (!stage) return `${c.path} <- image:${c.from}:${c.source}`;
    return `${c.path} <- build:${posix.relative(stage.workingDir, c.source)}`;
  });
  const builds = stages.filter((s) => image.copies.some((c) => c.from === s.name));
  return {
    entrypoint: image.entrypoint,
    cmd: image.cmd,
    user: image.user,
    env: image.env,
    workingDir: image.workingDir,
    app: app.sort(),
    nodeVersion: /^node:(\d+\.\d+\.\d+)-/.exec(image.base)?.[1],
    tsconfigs: builds.flatMap((s) =>
      s.runs.flatMap((r) => [...r.matchAll(/\btsc -p (\S+)/g)].map((m) => m[1] as string)),
    ),
  };
}

function fromScript(): Described {
  const c = KUBEGATE_IMAGE_CONFIG;
  const at = (name: string) => posix.join(c.workingDir, name);
  return {
    entrypoint: c.entrypoint,
    cmd: c.cmd,
    user: c.user,
    env: c.env,
    workingDir: c.workingDir,
    app: [
      ...APP_FROM_CHECKOUT.map((n) => `${at(n)} <- checkout:${n}`),
      ...APP_BUILT.map((n) => `${at(n)} <- build:${n}`),
    ].sort(),
    nodeVersion: imageNode(REPO).version,
    tsconfigs: [BUILD_TSCONFIG],
  };
}

/** The fields on which the two part ways. */
function differences(a: Described, b: Described): string[] {
  return (Object.keys(a) as (keyof Described)[]).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

describe("the Dockerfile and npm run image", () => {
  it("describe the same image: entrypoint, cmd, user, env, workdir, /app, Node, tsc project", () => {
    const dockerfile = fromDockerfile(DOCKERFILE);
    assert.deepEqual(dockerfile, fromScript());
    // Not vacuous: the Dockerfile was read, not found empty.
    assert.ok(dockerfile.entrypoint?.length && dockerfile.app.length && dockerfile.nodeVersion);
  });

  it("part ways when the Dockerfile alone changes", () => {
    const script = fromScript();
    const cases: [string, string, keyof Described][] = [
      [
        "another node flag",
        DOCKERFILE.replace(/^ENTRYPOINT \["([^"]+)",/m, 'ENTRYPOINT ["$1", "--jitless",'),
        "entrypoint",
      ],
      ["node from PATH", DOCKERFILE.replace(/^ENTRYPOINT \["[^"]+",/m, 'ENTRYPOINT ["node",'), "entrypoint"],
      ["another default command", `${DOCKERFILE}CMD ["gateway"]\n`, "cmd"],
      ["root", `${DOCKERFILE}USER 0:0\n`, "user"],
      ["another variable", `${DOCKERFILE}ENV EXTRA=1\n`, "env"],
      ["another workdir", `${DOCKERFILE}WORKDIR /srv\n`, "workingDir"],
      ["deploy/ left out", DOCKERFILE.replace(/^COPY .*deploy.*$/m, ""), "app"],
      ["docs/ added", `${DOCKERFILE}COPY docs /app/docs\n`, "app"],
      [
        "bin/ from the build stage",
        DOCKERFILE.replace(/^COPY (bin) (\S+)$/m, "COPY --from=build /src/$1 $2"),
        "app",
      ],
      [
        "another Node",
        DOCKERFILE.replace(/^ARG NODE_VERSION=\S+$/m, "ARG NODE_VERSION=24.0.0"),
        "nodeVersion",
      ],
      ["another tsc project", DOCKERFILE.replace(/tsc -p \S+/, "tsc -p tsconfig.json"), "tsconfigs"],
    ];
    for (const [what, text, field] of cases) {
      assert.notEqual(text, DOCKERFILE, `${what}: the edit applies to today's Dockerfile`);
      assert.ok(differences(fromDockerfile(text), script).includes(field), `${what}: ${field} should differ`);
    }
  });

  it("part ways when the script alone changes", () => {
    const dockerfile = fromDockerfile(DOCKERFILE);
    const script = fromScript();
    const cases: [string, Partial<Described>, keyof Described][] = [
      ["no node flags", { entrypoint: script.entrypoint?.filter((a) => !a.startsWith("--")) }, "entrypoint"],
      ["another user", { user: "65534:65534" }, "user"],
      ["no variables", { env: [] }, "env"],
      ["another workdir", { workingDir: "/srv" }, "workingDir"],
      ["one entry fewer", { app: script.app.slice(1) }, "app"],
      [
        "deploy/ from wherever",
        { app: script.app.map((a) => a.replace("checkout:deploy", "build:deploy")) },
        "app",
      ],
    ];
    for (const [what, change, field] of cases) {
      assert.notDeepEqual({ ...script, ...change }, script, `${what}: the edit changes something`);
      assert.deepEqual(differences(dockerfile, { ...script, ...change }), [field], what);
    }
  });
});
