// The 10,000-namespace cluster of the tenant-list and watch workloads: created with concurrent raw
// POSTs (a create costs the apiserver a few ms; 32 in flight keep both cores busy without timeouts).
import { type KubeCall, pool } from "./kube-client.ts";

export const SEED_LABEL = "kubegate-bench";
export const TEAM_LABEL = "team";
/** The group of the tenant user: namespaces labelled team=<this> are the ones it may see. */
export const VISIBLE_TEAM = "bench-team";
/** The gateway's default --tenant-label, and the tenant the group above owns (setup.ts). */
export const TENANT_LABEL = "kubegate.dev/tenant";
export const TENANT = "bench";

/**
 * Labels of a namespace the tenant user may see, or not. Visible ones carry both the team label and
 * the tenant label: the direct baseline selects on the first, the gateway's watch filter needs the
 * second (it evaluates tenant labels per event, team membership only once per watch).
 */
export function teamLabels(visible: boolean, otherTeam: string): Record<string, string> {
  return visible
    ? { [TEAM_LABEL]: VISIBLE_TEAM, [TENANT_LABEL]: TENANT }
    : { [TEAM_LABEL]: otherTeam, [TENANT_LABEL]: `${TENANT}-other` };
}

export const seedName = (i: number) => `bench-ns-${String(i).padStart(5, "0")}`;

export function namespaceObject(name: string, labels: Record<string, string>) {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { [SEED_LABEL]: "seed", ...labels } },
  };
}

async function seededCount(call: KubeCall): Promise<number> {
  const r = await call("GET", `/api/v1/namespaces?labelSelector=${SEED_LABEL}%3Dseed&limit=1`);
  if (r.status !== 200) throw new Error(`listing seeded namespaces: HTTP ${r.status} ${r.body}`);
  const list = JSON.parse(r.body) as { items: unknown[]; metadata: { remainingItemCount?: number } };
  return list.items.length + (list.metadata.remainingItemCount ?? 0);
}

/**
 * Makes sure `total` seeded namespaces exist, the first `visible` of them labelled for the tenant's team
 * and the rest spread over 50 other teams. Idempotent: a re-run on the same cluster creates nothing.
 */
export async function seedNamespaces(
  call: KubeCall,
  total: number,
  visible: number,
  log: (line: string) => void,
): Promise<{ created: number; seconds: number }> {
  const started = performance.now();
  if ((await seededCount(call)) >= total) return { created: 0, seconds: 0 };
  let created = 0;
  await pool(total, 32, async (i) => {
    const labels = teamLabels(i < visible, `bench-other-${i % 50}`);
    const r = await call("POST", "/api/v1/namespaces", namespaceObject(seedName(i), labels));
    if (r.status === 201) created++;
    else if (r.status !== 409) throw new Error(`creating ${seedName(i)}: HTTP ${r.status} ${r.body}`);
    if (created > 0 && created % 2000 === 0) log(`  ${created} namespaces created`);
  });
  return { created, seconds: (performance.now() - started) / 1000 };
}
