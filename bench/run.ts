// `npm run bench`: starts a real cluster (or reuses one), prepares users and RBAC, seeds namespaces,
// starts nginx when installed, runs the chosen workloads one after the other, and writes
// bench/results/latest.{json,md,png}. See bench/README.md.
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { type ClusterInfo, down, readClusterInfo, up } from "../src/devcluster/cluster.ts";
import { nodeUnsupported } from "../src/devcluster/node.ts";
import { writeChart } from "./chart.ts";
import { adminClient } from "./kube-client.ts";
import { seedNamespaces } from "./namespaces.ts";
import { findNginx, NGINX_INSTALL_HINT, type RunningNginx, startNginx } from "./nginx.ts";
import { parseOptions, USAGE, type WorkloadName } from "./options.ts";
import { markdownTable, type Report, writeReport } from "./report.ts";
import type { WorkloadResult } from "./result.ts";
import { prepareBenchEnv } from "./setup.ts";
import { allNamespaces } from "./workloads/all-namespaces.ts";
import type { WorkloadContext } from "./workloads/context.ts";
import { groups } from "./workloads/groups.ts";
import { passthrough } from "./workloads/passthrough.ts";
import { scale } from "./workloads/scale.ts";
import { tenantList } from "./workloads/tenant-list.ts";
import { tunnels } from "./workloads/tunnels.ts";
import { watches } from "./workloads/watches.ts";

const RUNNERS: Record<WorkloadName, (ctx: WorkloadContext) => Promise<WorkloadResult>> = {
  passthrough,
  "tenant-list": tenantList,
  watches,
  groups,
  "all-namespaces": allNamespaces,
  tunnels,
  scale,
};

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function main(): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const started = Date.now();
  const loadAverageAtStart = loadavg();
  const workDir = await mkdtemp(join(tmpdir(), "kubegate-bench-"));
  const notes: string[] = [];
  const ownCluster = options.clusterDir === undefined;
  let cluster: ClusterInfo | undefined;
  let nginx: RunningNginx | undefined;
  let gatewayDir: string | undefined;
  try {
    if (options.clusterDir) {
      cluster = await readClusterInfo(options.clusterDir);
      log(`using the running cluster at ${cluster.server}`);
    } else {
      // Tunnels need a pod that runs: a real node, where this machine can run one.
      const node = options.only.has("tunnels") && nodeUnsupported() === undefined;
      log(`starting a cluster (etcd + kube-apiserver${node ? ", and a node" : ""})`);
      cluster = await up({ dir: join(workDir, "cluster"), log, node });
    }
    log("preparing PKI, RBAC, CRDs and users");
    const env = await prepareBenchEnv(cluster, options.groups);
    gatewayDir = env.gateway.dir;
    const setup: Record<string, unknown> = {};
    if (
      options.only.has("tenant-list") ||
      options.only.has("watches") ||
      options.only.has("all-namespaces")
    ) {
      log(`seeding ${options.namespaces} namespaces (${options.visibleNamespaces} visible to the tenant)`);
      const client = adminClient(cluster);
      try {
        setup.namespaces = await seedNamespaces(
          client.call,
          options.namespaces,
          options.visibleNamespaces,
          log,
        );
      } finally {
        client.close();
      }
      log(`  done: ${JSON.stringify(setup.namespaces)}`);
    }
    const nginxBinary = findNginx();
    if (nginxBinary) {
      nginx = await startNginx(nginxBinary, env, join(workDir, "nginx"));
      log(`${nginx.version} listening on ${nginx.url}`);
    } else {
      log(NGINX_INSTALL_HINT);
      notes.push(NGINX_INSTALL_HINT);
    }
    const ctx: WorkloadContext = { env, options, workDir, log, ...(nginx ? { nginx } : {}) };
    const workloads: Report["workloads"] = {};
    for (const name of Object.keys(RUNNERS) as WorkloadName[]) {
      if (!options.only.has(name)) continue;
      log(`workload ${name}`);
      const t0 = Date.now();
      try {
        workloads[name] = await RUNNERS[name](ctx);
      } catch (err) {
        log(`workload ${name} failed: ${(err as Error).stack ?? err}`);
        workloads[name] = { error: (err as Error).message };
      }
      log(`workload ${name} took ${Math.round((Date.now() - t0) / 1000)} s`);
    }
    const rows = Object.values(workloads).flatMap((w) => ("rows" in w ? w.rows : []));
    await mkdir(options.outDir, { recursive: true });
    // The scratch directory goes away; the raw profiles are kept for Chrome DevTools / speedscope.
    for (const [name, w] of Object.entries(workloads)) {
      if (!("profile" in w) || !w.profile) continue;
      const kept = join(options.outDir, `${name}.cpuprofile`);
      await copyFile(w.profile.file, kept);
      w.profile.file = kept;
    }
    const report: Report = {
      run: {
        startedAt: new Date(started).toISOString(),
        seconds: (Date.now() - started) / 1000,
        node: process.version,
        kubernetes: cluster.versions.kubernetes,
        ...(nginx ? { nginx: nginx.version } : {}),
        cpus: cpus().length,
        loadAverageAtStart,
        options: { ...options, only: [...options.only] },
        setup,
      },
      rows,
      workloads,
      notes,
    };
    const chart = await writeChart(options.outDir, rows);
    const png = "png" in chart ? chart.png : undefined;
    if ("skipped" in chart) {
      notes.push(chart.skipped);
      log(chart.skipped);
    }
    const written = await writeReport(options.outDir, report);
    log(
      `wrote ${written.md}, ${written.json}${png ? `, ${png}` : ""} in ${Math.round(report.run.seconds)} s`,
    );
    process.stdout.write(`${markdownTable(rows)}\n`);
    return Object.values(workloads).some((w) => "error" in w) ? 1 : 0;
  } finally {
    await nginx?.stop().catch(() => undefined);
    if (ownCluster && cluster) await down(cluster.dir).catch(() => undefined);
    for (const d of [workDir, gatewayDir])
      if (d) await rm(d, { recursive: true, force: true }).catch(() => undefined);
  }
}

process.exitCode = await main();
