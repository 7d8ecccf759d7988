import { apiserverCertCheck } from "./check-apiserver-cert.ts";
import { apiserverRbacCheck } from "./check-apiserver-rbac.ts";
import { apiserviceCheck } from "./check-apiservice.ts";
import { clientCertCheck } from "./check-client-cert.ts";
import { connectionCheck } from "./check-connection.ts";
import { gatewayRbacCheck } from "./check-gateway-rbac.ts";
import { webhookCheck } from "./check-webhook.ts";
import { describeError, withTimeout } from "./kube-api.ts";
import {
  type Check,
  type CheckResult,
  type DoctorContext,
  type Finding,
  OUTCOMES,
  type Outcome,
  problem,
  type Report,
  skipped,
  worst,
} from "./types.ts";

/** Checks that need the cluster, in the order a person would look (the seed's troubleshooting order). */
export const CLUSTER_CHECKS: readonly Check[] = [
  apiserviceCheck,
  apiserverCertCheck,
  gatewayRbacCheck,
  apiserverRbacCheck,
  webhookCheck,
];
/** Checks of local files only: they run even when the cluster cannot be reached. */
export const LOCAL_CHECKS: readonly Check[] = [clientCertCheck];

async function runOne(check: Check, ctx: DoctorContext, timeoutMs: number): Promise<CheckResult> {
  const started = Date.now();
  let findings: Finding[];
  try {
    findings = await withTimeout(check.run(ctx), timeoutMs, `check ${check.id}`);
  } catch (err) {
    findings = [
      problem(
        `the check could not finish: ${describeError(err)}`,
        "is kube-apiserver reachable with this --kubeconfig, and is that identity a cluster admin?",
      ),
    ];
  }
  return {
    id: check.id,
    title: check.title,
    outcome: worst(findings),
    findings,
    durationMs: Date.now() - started,
  };
}

export interface RunOptions {
  /** Budget of each check; a check that takes longer is reported as a problem, never waited for. */
  timeoutMs: number;
  checks?: { connection: Check; cluster: readonly Check[]; local: readonly Check[] };
}

/** Runs every check (concurrently: they are independent) and sums them up. */
export async function runDoctor(ctx: DoctorContext, o: RunOptions): Promise<Report> {
  const checks = o.checks ?? { connection: connectionCheck, cluster: CLUSTER_CHECKS, local: LOCAL_CHECKS };
  const connection = await runOne(checks.connection, ctx, o.timeoutMs);
  const reachable = connection.outcome !== "problem";
  const cluster = reachable
    ? await Promise.all(checks.cluster.map((c) => runOne(c, ctx, o.timeoutMs)))
    : checks.cluster.map(
        (c): CheckResult => ({
          id: c.id,
          title: c.title,
          outcome: "skipped",
          findings: [skipped("not checked: kube-apiserver cannot be reached (see connection)")],
          durationMs: 0,
        }),
      );
  const local = await Promise.all(checks.local.map((c) => runOne(c, ctx, o.timeoutMs)));
  const all = [connection, ...cluster, ...local];
  const summary = Object.fromEntries(OUTCOMES.map((k) => [k, 0])) as Record<Outcome, number>;
  for (const c of all) summary[c.outcome]++;
  return {
    ok: summary.problem === 0,
    namespace: ctx.namespace,
    cluster: ctx.upstream.connection.server.origin,
    checks: all,
    summary,
  };
}
