// Loaded by `node --test --test-global-setup`: one real cluster for the whole e2e run, handed to the test
// files (separate processes) through the environment.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureClientBinaries } from "../src/devcluster/build.ts";
import { down, up } from "../src/devcluster/cluster.ts";
import { CLUSTER_DIR_ENV, NODE_ENV, wantNode } from "./cluster/harness.ts";
import { ensureSystemCommands } from "./support/system-packages.ts";

let dir: string | undefined;
/** Why tests will skip: printed at the start, and again under the run's summary, where it is read. */
const skipReasons: string[] = [];
const say = (line: string) => {
  skipReasons.push(line);
  process.stderr.write(`${line}\n`);
};

export async function globalSetup(): Promise<void> {
  const missing = ensureSystemCommands();
  if (missing.length)
    skipReasons.push(`# e2e skipped tests: ${missing.join(", ")} missing (needs root and apt-get)`);
  dir = await mkdtemp(join(tmpdir(), "kubegate-e2e-"));
  // A real node when this machine can run one (root, containerd): exec, logs and port-forward tests
  // need it; without one they skip with the reason printed here and again after the summary.
  const noNode = wantNode();
  // KUBEGATE_TEST_NODE=0 is asked for (the serial files start nodes of their own): no skip to report.
  if (noNode && process.env[NODE_ENV] === "0")
    process.stderr.write(`# e2e: no shared node (${noNode})
`);
  else if (noNode)
    say(`# e2e skipped tests: no node in the test cluster (${noNode}): tests that need its node skip`);
  const info = await up({ dir, node: noNode === undefined });
  process.env[CLUSTER_DIR_ENV] = info.dir;
  // The clients the suite drives (helm, the client-go program, Dex): built once here, not by two
  // test files at once into the same place.
  await ensureClientBinaries();
}

export async function globalTeardown(): Promise<void> {
  if (dir) await down(dir);
  for (const line of skipReasons) process.stderr.write(`${line}\n`);
}
