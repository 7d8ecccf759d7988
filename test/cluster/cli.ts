import { Command, CommanderError } from "commander";
import { z } from "zod";
import { parseOptions } from "../../src/config/validate.ts";
import { ClusterSetupError, ensureBinaries, ensureNodeBinaries } from "../../src/devcluster/build.ts";
import { down, up } from "../../src/devcluster/cluster.ts";

const port = z.coerce.number().int().min(1, "must be 1-65535").max(65535, "must be 1-65535").optional();
const upSchema = z.object({
  dir: z.string().min(1),
  apiserverPort: port,
  etcdPort: port,
  timeout: z.coerce.number().positive(),
  node: z.boolean().optional(),
});

const program = new Command("cluster")
  .description("the real kube-apiserver + etcd test cluster (built from pinned Go modules)")
  .exitOverride();

program
  .command("up")
  .description("build (first time only) and start etcd + kube-apiserver on loopback")
  .option("--dir <dir>", "state directory: PKI, logs, admin.kubeconfig, cluster.json", ".kubegate/cluster")
  .option("--apiserver-port <port>", "kube-apiserver port (default: a free one)")
  .option("--etcd-port <port>", "etcd client port (default: a free one)")
  .option("--timeout <seconds>", "how long to wait for readiness", "60")
  .option(
    "--node",
    "also a real node: containerd + runc (Debian), kubelet, scheduler, controller manager (root; builds them on first use)",
  )
  .action(async (raw) => {
    const o = parseOptions(upSchema, raw);
    const info = await up({
      dir: o.dir,
      apiserverPort: o.apiserverPort,
      etcdPort: o.etcdPort,
      readyTimeoutMs: o.timeout * 1000,
      ...(o.node ? { node: true } : {}),
    });
    console.log(`kube-apiserver ${info.versions.kubernetes} is ready at ${info.server}${info.node ? `, with node ${info.node.name} (${info.node.ip})` : ""}
  kubectl --kubeconfig ${info.adminKubeconfig} get --raw /version
  details (every CA, certificate and key path): ${info.dir}/cluster.json
  stop it with: npm run cluster -- down --dir ${o.dir}`);
  });

program
  .command("down")
  .description("stop the cluster started in --dir and remove its etcd data")
  .option("--dir <dir>", "state directory used with up", ".kubegate/cluster")
  .action(async (o: { dir: string }) => {
    await down(o.dir);
    console.log(`cluster in ${o.dir} stopped`);
  });

program
  .command("build")
  .description("build kube-apiserver and etcd into the cache (nothing when already built)")
  .option("--node", "also kubelet, kube-scheduler, kube-controller-manager and pause")
  .action(async (o: { node?: boolean }) => {
    const b = await ensureBinaries();
    console.log(`${b.kubeApiserver}\n${b.etcd}`);
    if (o.node) console.log(Object.values(await ensureNodeBinaries()).join("\n"));
  });

try {
  await program.parseAsync(process.argv.slice(2), { from: "user" });
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = err.exitCode;
  else {
    console.error(
      `error: ${err instanceof ClusterSetupError || err instanceof Error ? err.message : String(err)}`,
    );
    process.exitCode = 1;
  }
}
