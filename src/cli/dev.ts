import { existsSync } from "node:fs";
import { Command } from "commander";
import { z } from "zod";
import { parseOptions, path } from "../config/validate.ts";
import { KubegateError } from "../status/errors.ts";

const schema = z.object({ dir: path });

/** What `dev` uses of src/dev/environment.ts (typed here: a type reference would compile it in). */
interface DevTools {
  devUp(o: { dir: string; log: (line: string) => void }): Promise<unknown>;
  nextSteps(state: unknown): string;
  devDown(dir: string): Promise<boolean>;
}

/**
 * The development environment builds kube-apiserver with Go: it lives in a source checkout only. The
 * production build (tsconfig.build.json, the container image) leaves src/dev and src/devcluster out,
 * so the module is named by a value tsc does not follow. Compiled, `dev` still works beside a source
 * checkout (after `npm run build`), loading the TypeScript through tsx.
 */
async function devTools(): Promise<DevTools> {
  const relative = "../dev/environment.ts" as string;
  if (import.meta.url.endsWith(".ts")) return (await import(relative)) as DevTools;
  const source = new URL("../../src/dev/environment.ts", import.meta.url);
  if (existsSync(source)) {
    const { register } = await import("tsx/esm/api");
    register();
    return (await import(source.href)) as DevTools;
  }
  throw new KubegateError(
    "kubegate dev is not part of this build (the container image ships without the development tools): " +
      "run `npm run dev` in a source checkout",
  );
}

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
      const { devUp, nextSteps } = await devTools();
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
      const { devDown } = await devTools();
      const found = await devDown(o.dir);
      console.log(
        found ? `dev environment in ${o.dir} stopped and removed` : `no dev environment in ${o.dir}`,
      );
    });
  return dev;
}
