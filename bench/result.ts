// The shape of what every workload reports: rows for the table (and chart), details for the JSON.

export interface Row {
  workload: string;
  metric: string;
  unit: string;
  direct?: number;
  gateway?: number;
  nginx?: number;
  /** Text of the cells when a number alone would mislead (e.g. "1g 1.2 / 200g 1.4"). */
  cells?: { direct?: string; gateway?: string; nginx?: string };
  /** Gateway compared with the baseline, as the target is phrased: a ratio, or added milliseconds. */
  ratio?: number;
  ratioKind: "ratio" | "added-ms" | "absolute";
  /** The same comparison for nginx, for context. */
  nginxRatio?: number;
  target: string;
  met?: boolean;
  note?: string;
}

export interface CpuFrame {
  function: string;
  location: string;
  selfMs: number;
  selfPercent: number;
  /** The heaviest chain of callers (up to three frames). */
  calledFrom: string;
}

export interface ProfileSummary {
  workload: string;
  file: string;
  totalMs: number;
  top: CpuFrame[];
}

export interface WorkloadResult {
  rows: Row[];
  details: Record<string, unknown>;
  profile?: ProfileSummary;
  notes: string[];
}

export const ratioOf = (a: number | undefined, b: number | undefined) =>
  a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
