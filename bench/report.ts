// bench/results/latest.json (everything) and latest.md (the table a reviewer reads).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ProfileSummary, Row, WorkloadResult } from "./result.ts";

export interface RunInfo {
  startedAt: string;
  seconds: number;
  node: string;
  kubernetes: string;
  nginx?: string;
  cpus: number;
  loadAverageAtStart: number[];
  options: Record<string, unknown>;
  setup: Record<string, unknown>;
}

export interface Report {
  run: RunInfo;
  rows: Row[];
  workloads: Record<string, WorkloadResult | { error: string }>;
  notes: string[];
}

const fmt = (n: number | undefined, digits = 2) =>
  n === undefined || !Number.isFinite(n) ? "–" : String(Number(n.toFixed(digits)));

function ratioCell(r: Row): string {
  const show = (v: number | undefined) =>
    r.ratioKind === "added-ms"
      ? `${v !== undefined && v >= 0 ? "+" : ""}${fmt(v, 3)} ms`
      : r.ratioKind === "ratio"
        ? `${fmt(v)}×`
        : `${fmt(v, 1)} ${r.unit}`;
  if (r.ratio === undefined) return "–";
  return r.nginxRatio === undefined ? show(r.ratio) : `${show(r.ratio)} (nginx ${show(r.nginxRatio)})`;
}

function cell(r: Row, who: "direct" | "gateway" | "nginx"): string {
  return r.cells?.[who] ?? fmt(r[who], 3);
}

const met = (m: boolean | undefined) => (m === undefined ? "–" : m ? "yes" : "**no**");

export function markdownTable(rows: Row[]): string {
  const lines = [
    "| workload | metric | direct | gateway | nginx | ratio | target | met? |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.workload} | ${r.metric} (${r.unit}) | ${cell(r, "direct")} | ${cell(r, "gateway")} | ${cell(r, "nginx")} | ${ratioCell(r)} | ${r.target} | ${met(r.met)} |`,
    );
  }
  return lines.join("\n");
}

function profileSection(p: ProfileSummary): string {
  return [
    `### CPU profile of the gateway during \`${p.workload}\` (${p.totalMs} ms busy)`,
    "",
    "| self ms | self % | function | location | called from |",
    "| ---: | ---: | --- | --- | --- |",
    ...p.top.map(
      (f) => `| ${f.selfMs} | ${f.selfPercent} | \`${f.function}\` | ${f.location} | ${f.calledFrom} |`,
    ),
  ].join("\n");
}

export function markdown(report: Report): string {
  const { run } = report;
  const profiles = Object.values(report.workloads)
    .map((w) => ("profile" in w ? w.profile : undefined))
    .filter((p): p is ProfileSummary => p !== undefined);
  const errors = Object.entries(report.workloads)
    .filter(([, w]) => "error" in w)
    .map(([name, w]) => `- **${name} failed**: ${(w as { error: string }).error}`);
  const notes = [
    ...report.notes,
    ...report.rows.filter((r) => r.note).map((r) => `${r.workload}, ${r.metric}: ${r.note}`),
    ...Object.values(report.workloads).flatMap((w) => ("notes" in w ? w.notes : [])),
  ];
  return [
    "# kubegate performance: direct vs gateway vs nginx",
    "",
    `Run ${run.startedAt}, ${Math.round(run.seconds)} s; node ${run.node}, Kubernetes ${run.kubernetes}, ` +
      `${run.nginx ?? "nginx not installed"}; ${run.cpus} CPUs, load average at start ${run.loadAverageAtStart.map((l) => l.toFixed(2)).join(" ")}.`,
    `Options: ${JSON.stringify(run.options)}.`,
    "",
    markdownTable(report.rows),
    "",
    ...(errors.length ? ["## Failures", "", ...errors, ""] : []),
    ...(notes.length ? ["## Notes", "", ...notes.map((n) => (n.startsWith("- ") ? n : `- ${n}`)), ""] : []),
    ...profiles.flatMap((p) => [profileSection(p), ""]),
  ].join("\n");
}

export async function writeReport(outDir: string, report: Report): Promise<{ json: string; md: string }> {
  await mkdir(outDir, { recursive: true });
  const json = join(outDir, "latest.json");
  const md = join(outDir, "latest.md");
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(md, markdown(report));
  return { json, md };
}
