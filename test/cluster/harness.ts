import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { type ClusterInfo, clusterFile, down, readClusterInfo, up } from "../../src/devcluster/cluster.ts";
import { nodeUnsupported } from "../../src/devcluster/node.ts";

/** Environment variable through which the e2e global setup hands its running cluster to test files. */
export const CLUSTER_DIR_ENV = "KUBEGATE_TEST_CLUSTER_DIR";

/**
 * The cluster for a test file: the one the e2e run started (shared, never stopped here), or one of its
 * own started in a temporary directory and stopped when the file's tests end. Call it at the top level of
 * the test file (top-level await), so that the stop is registered on the file's root.
 */
export async function useCluster(o: { node?: boolean } = {}): Promise<ClusterInfo> {
  const shared = process.env[CLUSTER_DIR_ENV];
  if (shared && existsSync(clusterFile(shared))) return readClusterInfo(shared);
  const dir = await mkdtemp(join(tmpdir(), "kubegate-cluster-"));
  const info = await up({ dir, log: () => undefined, node: Boolean(o.node) && wantNode() === undefined });
  after(() => down(dir));
  return info;
}

/** Set to 0 to run the e2e suite without a node (its tests then skip and say so). */
export const NODE_ENV = "KUBEGATE_TEST_NODE";

/** Why the test cluster gets no node, or undefined when it does. */
export function wantNode(): string | undefined {
  if (process.env[NODE_ENV] === "0") return `${NODE_ENV}=0`;
  return nodeUnsupported();
}
