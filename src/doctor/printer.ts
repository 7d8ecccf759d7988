import type { Outcome, Report } from "./types.ts";

const WIDTH = Math.max(..."problem warning ok skipped".split(" ").map((s) => s.length)) + 2;
const label = (o: Outcome) => o.padEnd(WIDTH);

/**
 * For people: one line per check with its worst outcome, then what it found, each problem with its fix
 * right under it, and a count at the end.
 */
export function formatText(report: Report): string {
  const lines = [`kubegate doctor: cluster ${report.cluster}, namespace ${report.namespace}`, ""];
  for (const check of report.checks) {
    lines.push(`${label(check.outcome)}${check.title} [${check.id}]`);
    check.findings.forEach((f, i) => {
      lines.push(`  - ${label(f.outcome)}${f.message}`);
      // Several problems with one remedy (a missing binding) show it once, under the last of them.
      if (f.fix && f.fix !== check.findings[i + 1]?.fix) lines.push(`    ${" ".repeat(WIDTH)}fix: ${f.fix}`);
    });
  }
  const s = report.summary;
  lines.push(
    "",
    `${report.checks.length} checks: ${s.ok} ok, ${s.warning} warning, ${s.problem} problem, ${s.skipped} skipped`,
    report.ok ? "no problems found" : "problems found: see the fix under each problem",
  );
  const looked = report.checks.filter((c) => c.id !== "connection" && c.id !== "client-cert");
  if (looked.length > 0 && looked.every((c) => c.outcome === "skipped")) {
    lines.push(
      `nothing of kubegate was found to check in namespace ${report.namespace}: is it deployed, and is --namespace right?`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** For machines: the report as it is, stable field names, one document. */
export function formatJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
