// `npm run image -- [--out FILE] [--import DIR]`: kubegate's image as a docker-archive, built without
// a Docker engine (src/devcluster/kubegate-image.ts); --import loads it into the node of the test
// cluster in DIR (`npm run cluster -- up --node --dir DIR`).
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { ClusterSetupError } from "../../src/devcluster/build.ts";
import { buildKubegateImage } from "../../src/devcluster/kubegate-image.ts";
import { importImage } from "../../src/devcluster/node.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

const program = new Command("image")
  .description("build kubegate's container image without a Docker engine (a docker-archive tarball)")
  .option("--out <file>", "where the tarball goes", "kubegate-image.tar")
  .option("--import <dir>", "also import it into the node of the test cluster in this directory")
  .exitOverride()
  .action(async (o: { out: string; import?: string }) => {
    const built = await buildKubegateImage(REPO, o.out, (line) => process.stderr.write(`${line}\n`));
    console.log(
      `${built.ref}: ${built.path}, ${(built.bytes / 1024 / 1024).toFixed(1)} MiB, ${built.files} files, built in ${built.seconds.toFixed(1)} s`,
    );
    if (o.import) {
      await importImage(o.import, o.out);
      console.log(`imported into the node of ${o.import}`);
    }
  });

try {
  await program.parseAsync(process.argv.slice(2), { from: "user" });
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = err.exitCode;
  else if (err instanceof ClusterSetupError) {
    console.error(`error: ${err.message}`);
    process.exitCode = 1;
  } else throw err;
}
