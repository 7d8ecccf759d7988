import type { Reviews } from "../kube/reviews.ts";
import type { Upstream } from "../kube/upstream.ts";

/** Worst first: a check's outcome is the worst of its findings. */
export const OUTCOMES = ["problem", "warning", "ok", "skipped"] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** One thing a check found, and for anything not ok, what to do about it. */
export interface Finding {
  outcome: Outcome;
  message: string;
  fix?: string;
}

export interface CheckResult {
  id: string;
  title: string;
  outcome: Outcome;
  findings: Finding[];
  durationMs: number;
}

export interface Report {
  /** False when any check found a problem (the exit code is then non-zero). */
  ok: boolean;
  namespace: string;
  cluster: string;
  checks: CheckResult[];
  summary: Record<Outcome, number>;
}

export interface HostPort {
  host: string;
  port: number;
}

/** What every check may use: the admin connection to the cluster and the operator's options. */
export interface DoctorContext {
  namespace: string;
  upstream: Upstream;
  reviews: Reviews;
  /** Identities whose RBAC is checked; undefined means "the deployment's service account". */
  gatewayUser?: string;
  apiserverUser?: string;
  /** Where to fetch serving certificates instead of the in-cluster Service (port-forward, local runs). */
  apiserverAddress?: HostPort;
  webhookAddress?: HostPort;
  clientKubeconfig?: string;
  clientCert?: string;
  /** When set, a server-side dry-run pod is created here to see the webhook's mutation. */
  dryRunNamespace?: string;
  /** Budget of one network step (a TLS handshake, one API call), well under the check's own timeout. */
  stepTimeoutMs: number;
  now: Date;
}

export interface Check {
  id: string;
  title: string;
  run(ctx: DoctorContext): Promise<Finding[]>;
}

export const ok = (message: string): Finding => ({ outcome: "ok", message });
export const skipped = (message: string, fix?: string): Finding => ({
  outcome: "skipped",
  message,
  ...(fix ? { fix } : {}),
});
export const warning = (message: string, fix?: string): Finding => ({
  outcome: "warning",
  message,
  ...(fix ? { fix } : {}),
});
export const problem = (message: string, fix?: string): Finding => ({
  outcome: "problem",
  message,
  ...(fix ? { fix } : {}),
});

/** The worst outcome among findings; a check with no findings has nothing to report and is skipped. */
export function worst(findings: readonly Finding[]): Outcome {
  for (const o of OUTCOMES) if (findings.some((f) => f.outcome === o)) return o;
  return "skipped";
}
