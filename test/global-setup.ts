// Loaded by `node --test --test-global-setup`: one real cluster for the whole e2e run, handed to the test
// files (separate processes) through the environment.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { down, up } from "../src/devcluster/cluster.ts";
import { CLUSTER_DIR_ENV, wantNode } from "./cluster/harness.ts";
import { ensureSystemCommands } from "./support/system-packages.ts";

let dir: string | undefined;

export async function globalSetup(): Promise<void> {
  ensureSystemCommands();
  dir = await mkdtemp(join(tmpdir(), "kubegate-e2e-"));
  // A real node when this machine can run one (root, containerd): exec, logs and port-forward tests
  // need it; without one they skip with the reason printed here and in their summary.
  const noNode = wantNode();
  if (noNode)
    process.stderr.write(`# e2e: no node in the test cluster (${noNode}): tests that need its node skip\n`);
  const info = await up({ dir, node: noNode === undefined });
  process.env[CLUSTER_DIR_ENV] = info.dir;
}

export async function globalTeardown(): Promise<void> {
  if (dir) await down(dir);
}
