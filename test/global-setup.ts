// Loaded by `node --test --test-global-setup`: one real cluster for the whole e2e run, handed to the test
// files (separate processes) through the environment.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { down, up } from "../src/devcluster/cluster.ts";
import { CLUSTER_DIR_ENV } from "./cluster/harness.ts";
import { ensureSystemCommands } from "./support/system-packages.ts";

let dir: string | undefined;

export async function globalSetup(): Promise<void> {
  ensureSystemCommands();
  dir = await mkdtemp(join(tmpdir(), "kubegate-e2e-"));
  const info = await up({ dir });
  process.env[CLUSTER_DIR_ENV] = info.dir;
}

export async function globalTeardown(): Promise<void> {
  if (dir) await down(dir);
}
