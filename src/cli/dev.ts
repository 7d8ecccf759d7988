import { Command } from "commander";
import { z } from "zod";
import { parseOptions, path } from "../config/validate.ts";

const schema = z.object({ dir: path });

export function devCommand(): Command {
  const dev = new Command("dev").description(
    "one-command local environment: real kube-apiserver, gateway, aggregated API, webhook and demo users",
  );
  dev
    .command("up")
    .description(
      "build (first run only) and start everything, then print how to use it as alice, bob and carol",
    )
    .option("--dir <dir>", "where the cluster, certificates, kubeconfigs and logs live", ".kubegate/dev")
    .action(async (raw) => {
      const o = parseOptions(schema, raw);
      // Loaded on use: the other commands should not pay for the cluster tooling.
      const { devUp, nextSteps } = await import("../dev/environment.ts");
      const started = Date.now();
      const state = await devUp({ dir: o.dir, log: (line) => console.error(line) });
      console.error(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      console.log(nextSteps(state));
    });
  dev
    .command("down")
    .description("stop everything `dev up` started and remove what it wrote")
    .option("--dir <dir>", "the directory given to dev up", ".kubegate/dev")
    .action(async (raw) => {
      const o = parseOptions(schema, raw);
      const { devDown } = await import("../dev/environment.ts");
      const found = await devDown(o.dir);
      console.log(
        found ? `dev environment in ${o.dir} stopped and removed` : `no dev environment in ${o.dir}`,
      );
    });
  return dev;
}
