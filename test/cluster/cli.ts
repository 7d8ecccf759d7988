import { Command, CommanderError } from "commander";
import { z } from "zod";
import { parseOptions } from "../../src/config/validate.ts";
import { ClusterSetupError, ensureBinaries } from "../../src/devcluster/build.ts";
import { down, up } from "../../src/devcluster/cluster.ts";

const port = z.coerce.number().int().min(1, "must be 1-65535").max(65535, "must be 1-65535").optional();
const upSchema = z.object({
  dir: z.string().min(1),
  apiserverPort: port,
  etcdPort: port,
  timeout: z.coerce.number().positive(),
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
  .action(async (raw) => {
    const o = parseOptions(upSchema, raw);
    const info = await up({
      dir: o.dir,
      apiserverPort: o.apiserverPort,
      etcdPort: o.etcdPort,
      readyTimeoutMs: o.timeout * 1000,
    });
    console.log(`kube-apiserver ${info.versions.kubernetes} is ready at ${info.server}
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
  .action(async () => {
    const b = await ensureBinaries();
    console.log(`${b.kubeApiserver}\n${b.etcd}`);
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
