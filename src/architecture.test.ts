// Rules of the source layout that the compiler does not check. An import cycle (type-only imports
// included) means two files cannot be read, tested or moved apart: the gateway once had a nine-file one.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = dirname(fileURLToPath(import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** Relative imports of a file, static, type-only and dynamic alike, as absolute paths. */
export function importsOf(file: string, text: string): string[] {
  const found = text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g);
  return [...found].map((m) => resolve(dirname(file), m[1] as string));
}

/** Every strongly connected group of more than one file (or a file importing itself). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(group.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe("source layout", () => {
  it("finds a cycle when there is one (the check itself)", () => {
    const g = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a"]],
      ["d", ["a"]],
    ]);
    assert.deepEqual(cycles(g), [["a", "b", "c"]]);
    assert.deepEqual(importsOf("/x/y.ts", 'import type { A } from "./a.ts";\nconst m = import("../b.ts");'), [
      "/x/a.ts",
      "/b.ts",
    ]);
  });

  it("no file in src/ imports a file that imports it back, directly or through others", () => {
    const graph = new Map<string, string[]>();
    for (const file of sources(SRC)) graph.set(file, importsOf(file, readFileSync(file, "utf8")));
    const found = cycles(graph).map((c) => c.map((f) => relative(SRC, f)).join(", "));
    assert.deepEqual(found, []);
  });

  it("production code never imports the development tools (they stay out of the image)", () => {
    const devOnly = [join(SRC, "dev"), join(SRC, "devcluster")];
    const inDev = (f: string) => devOnly.some((d) => f === d || f.startsWith(`${d}/`));
    const leaks = sources(SRC)
      .filter((f) => !inDev(f))
      .flatMap((f) =>
        importsOf(f, readFileSync(f, "utf8"))
          .filter(inDev)
          .map((target) => `${relative(SRC, f)} imports ${relative(SRC, target)}`),
      );
    assert.deepEqual(leaks, []);
  });
});
