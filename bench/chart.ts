// latest.png: every comparable row as "gateway / direct" and "nginx / direct" bars, with 1.0 marked.
// gnuplot (Debian: gnuplot-nox) draws it; without it the chart is skipped and the run says why.
import { spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Row } from "./result.ts";

export const GNUPLOT_HINT = "gnuplot is not installed: `apt-get install -y gnuplot-nox` adds latest.png";

export function hasGnuplot(): boolean {
  return spawnSync("gnuplot", ["--version"], { encoding: "utf8" }).status === 0;
}

/** Rows where a ratio to direct means something: same request, same unit, on every path. */
export function chartData(rows: Row[]): string {
  const lines = ["# label gateway/direct nginx/direct"];
  for (const r of rows) {
    // Absolute targets (memory, event delay) are not ratios to direct; a 2 ms vs 20 ms bar would
    // dwarf the rest.
    if (r.ratioKind === "absolute") continue;
    if (r.direct === undefined || r.gateway === undefined || r.direct <= 0) continue;
    const mode = r.workload.includes("front-proxy")
      ? " (front-proxy)"
      : r.workload.includes("floor")
        ? " (bare Node proxy)"
        : "";
    const label = `${r.workload.replace(/^(\d+)\..*/, "$1")}: ${r.metric.replace(/ \(.*\)$/, "")}${mode}`;
    const g = r.gateway / r.direct;
    const n = r.nginx === undefined ? "NaN" : String(r.nginx / r.direct);
    lines.push(`"${label.replace(/"/g, "'")}" ${g} ${n}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Draws latest.png; returns its path, or why it was not drawn. */
export async function writeChart(
  outDir: string,
  rows: Row[],
): Promise<{ png: string } | { skipped: string }> {
  if (!hasGnuplot()) return { skipped: GNUPLOT_HINT };
  const text = chartData(rows);
  if (text.split("\n").filter((l) => l && !l.startsWith("#")).length === 0)
    return { skipped: "no row of this run compares with direct; latest.png not drawn" };
  await mkdir(outDir, { recursive: true });
  const data = join(outDir, "latest.dat");
  const png = join(outDir, "latest.png");
  await writeFile(data, text);
  const script = [
    "set terminal pngcairo size 1200,600 noenhanced font 'sans,10'",
    `set output '${png}'`,
    "set title 'kubegate vs nginx, each relative to direct kube-apiserver (throughput: higher is better; latency: lower)'",
    "set style data histogram",
    "set style histogram clustered gap 1",
    "set style fill solid 0.8 border -1",
    "set boxwidth 0.9",
    "set xtics rotate by -25 left",
    "set ylabel 'value / direct'",
    // Ratios run from ~0.4 to ~25: a log scale keeps the small ones readable.
    "set logscale y",
    "set yrange [0.1:*]",
    "set grid ytics",
    "set key top left",
    "set bmargin 9",
    // Room for the last rotated label.
    "set rmargin 30",
    "set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 2 lc rgb 'black'",
    `plot '${data}' using 2:xtic(1) title 'gateway / direct' lc rgb '#3b6fb6', '' using 3 title 'nginx / direct' lc rgb '#7fb13b'`,
  ].join("\n");
  const r = spawnSync("gnuplot", [], { input: script, encoding: "utf8" });
  if (r.status !== 0) return { skipped: `gnuplot failed: ${r.stderr.trim()}` };
  return { png };
}
