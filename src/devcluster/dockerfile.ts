// A reader of the Dockerfile subset this repository writes, so that what `docker build` would make can be
// compared with what src/devcluster/kubegate-image.ts assembles and the bench can start the gateway
// with the image's node flags. Not a BuildKit frontend: no variable expansion outside FROM, no
// heredocs, no escape directive; what it does not know it keeps as text rather than guess.
import { posix } from "node:path";

/** One COPY source and the absolute path it lands on in the stage. */
export interface Copy {
  /** The stage named by --from, or undefined for the build context. */
  from?: string;
  source: string;
  path: string;
}

/** A stage's image as its instructions leave it (the base image's own settings are not known here). */
export interface Stage {
  name?: string;
  /** The FROM image, global ARGs substituted. */
  base: string;
  workingDir: string;
  /** NAME=value, in the order the Dockerfile sets them; a later ENV of the same name replaces it. */
  env: string[];
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
  copies: Copy[];
  runs: string[];
}

/** Logical lines: comments dropped, backslash continuations joined. */
function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let current = "";
  for (const raw of text.split(/\r?\n/)) {
    // Docker drops comment lines even inside a continuation.
    if (/^\s*#/.test(raw)) continue;
    if (/\\\s*$/.test(raw)) {
      current += raw.replace(/\\\s*$/, "");
      continue;
    }
    current += raw;
    if (current.trim()) lines.push(current.trim());
    current = "";
  }
  if (current.trim()) lines.push(current.trim());
  return lines;
}

/** ENTRYPOINT and CMD: the exec form as written, the shell form as Docker runs it. */
function argv(args: string): string[] {
  try {
    const parsed = JSON.parse(args) as unknown;
    if (Array.isArray(parsed) && parsed.every((a) => typeof a === "string")) return parsed;
  } catch {
    // not JSON: the shell form
  }
  return ["/bin/sh", "-c", args];
}

function unquote(value: string): string {
  if (value.startsWith('"') && value.endsWith('"')) return value.slice(1, -1).replace(/\\(.)/g, "$1");
  if (value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1);
  return value.replace(/\\(.)/g, "$1");
}

/** `ENV A=1 B="x y"` or the legacy `ENV A 1`. */
function envPairs(args: string): [string, string][] {
  const first = /^\S+/.exec(args)?.[0] ?? "";
  if (!first.includes("=")) return [[first, args.slice(first.length).trim()]];
  const pairs: [string, string][] = [];
  for (const m of args.matchAll(/([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|(?:[^\s\\]|\\.)*)/g))
    pairs.push([m[1] as string, unquote(m[2] as string)]);
  return pairs;
}

function substitute(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (whole, braced: string | undefined, bare: string | undefined) => {
      const value = vars.get((braced ?? bare) as string);
      if (value === undefined) throw new Error(`Dockerfile: ${whole} has no ARG default`);
      return value;
    },
  );
}

/** The Dockerfile's stages in order; the last one is the image `docker build` tags. */
export function parseDockerfile(text: string): Stage[] {
  const globals = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logicalLines(text)) {
    const keyword = (/^\S+/.exec(line)?.[0] ?? "").toUpperCase();
    const args = line.slice(keyword.length).trim();
    const stage = stages.at(-1);
    if (keyword === "FROM") {
      const words = args.split(/\s+/).filter((w) => !w.startsWith("--"));
      const base = substitute(words[0] ?? "", globals);
      const name = words[1]?.toUpperCase() === "AS" ? words[2] : undefined;
      const parent = stages.find((s) => s.name === base);
      // A stage built on an earlier one starts from its settings, as Docker's does.
      stages.push({
        ...(parent ? structuredClone(parent) : { workingDir: "/", env: [], copies: [], runs: [] }),
        base,
        name,
      });
      continue;
    }
    if (!stage) {
      if (keyword === "ARG") {
        const [k, v] = args.split("=", 2);
        if (k && v !== undefined) globals.set(k, unquote(v));
      }
      continue;
    }
    switch (keyword) {
      case "WORKDIR":
        stage.workingDir = posix.resolve(stage.workingDir, args);
        break;
      case "ENV":
        for (const [k, v] of envPairs(args)) {
          stage.env = stage.env.filter((e) => !e.startsWith(`${k}=`));
          stage.env.push(`${k}=${v}`);
        }
        break;
      case "USER":
        stage.user = args;
        break;
      case "ENTRYPOINT":
        stage.entrypoint = argv(args);
        // Docker drops the CMD a stage inherited once it sets its own ENTRYPOINT.
        stage.cmd = undefined;
        break;
      case "CMD":
        stage.cmd = argv(args);
        break;
      case "RUN":
        stage.runs.push(args);
        break;
      case "COPY": {
        const words = args.split(/\s+/);
        const from = words.find((w) => w.startsWith("--from="))?.slice("--from=".length);
        const rest = words.filter((w) => !w.startsWith("--"));
        const dest = posix.resolve(stage.workingDir, rest.at(-1) ?? "");
        const sources = rest.slice(0, -1);
        const intoDir = (rest.at(-1) ?? "").endsWith("/") || sources.length > 1;
        for (const source of sources)
          stage.copies.push({
            ...(from ? { from } : {}),
            source,
            path: intoDir ? posix.join(dest, posix.basename(source)) : dest,
          });
        break;
      }
    }
  }
  return stages;
}

/** The image `docker build` tags: the last stage. */
export function dockerfileImage(text: string): Stage {
  const last = parseDockerfile(text).at(-1);
  if (!last) throw new Error("Dockerfile: no FROM");
  return last;
}
