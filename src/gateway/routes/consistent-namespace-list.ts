// A tenant's namespace list as the apiserver's consistent read (--consistent-namespace-lists), without
// listing every namespace: one read per label selector that holds the tenant's namespaces (tenant
// label, team label) and one per namespace a RoleBinding grants, each with the client's own
// selectors added and no resourceVersion, so each is a consistent read. The reads are merged as one
// list of the cluster-scoped kind (by name, without duplicates) and the visibility filter then keeps
// exactly what the user may see. The list carries the lowest of the reads' revisions: a watch from
// there may replay a change the list already shows, and misses none.
//
// A user granted more namespaces by RoleBindings than MAX_NAMED gets one whole list instead: still
// consistent, at the cost of reading every namespace.

import { lowerVersion, type NamespacePage } from "./fanout-pages.ts";
import { isObject } from "./filter-body.ts";

export interface NamespaceReadPlan {
  labelSelectors: readonly string[];
  names: readonly string[];
}

const MAX_NAMED = 16;

const join = (a: string | null, b: string) => (a ? `${a},${b}` : b);

/** The reads a plan needs, each the client's query narrowed. */
export function readsOf(query: URLSearchParams, plan: NamespaceReadPlan): URLSearchParams[] {
  const base = new URLSearchParams(query);
  for (const k of ["resourceVersion", "resourceVersionMatch"]) base.delete(k);
  if (plan.names.length > MAX_NAMED) return [base];
  const reads: URLSearchParams[] = [];
  for (const selector of plan.labelSelectors) {
    const q = new URLSearchParams(base);
    q.set("labelSelector", join(base.get("labelSelector"), selector));
    reads.push(q);
  }
  for (const name of plan.names) {
    const q = new URLSearchParams(base);
    q.set("fieldSelector", join(base.get("fieldSelector"), `metadata.name=${name}`));
    reads.push(q);
  }
  return reads;
}

const nameOf = (entry: unknown): string | undefined => {
  if (!isObject(entry)) return undefined;
  const holder = isObject(entry.object) ? entry.object : entry;
  const meta = isObject(holder.metadata) ? holder.metadata : undefined;
  return typeof meta?.name === "string" ? meta.name : undefined;
};

/**
 * The merged answer of the plan's reads, unfiltered; undefined when the plan has no reads (nothing
 * can be visible). A read that failed is answered as it came.
 */
export async function consistentNamespaceList(
  query: URLSearchParams,
  plan: NamespaceReadPlan,
  read: (query: URLSearchParams) => Promise<NamespacePage>,
): Promise<NamespacePage | undefined> {
  const reads = readsOf(query, plan);
  if (reads.length === 0) return undefined;
  const pages = await Promise.all(reads.map(read));
  const failed = pages.find((p) => p.code !== 200);
  if (failed) return failed;
  const first = pages[0]?.body ?? {};
  const key = first.kind === "Table" && Array.isArray(first.rows) ? "rows" : "items";
  const byName = new Map<string, unknown>();
  const unnamed: unknown[] = [];
  let version = "";
  for (const { body } of pages) {
    const meta = isObject(body.metadata) ? body.metadata : {};
    if (typeof meta.resourceVersion === "string") version = lowerVersion(version, meta.resourceVersion);
    for (const entry of Array.isArray(body[key]) ? (body[key] as unknown[]) : []) {
      const name = nameOf(entry);
      if (name === undefined) unnamed.push(entry);
      else if (!byName.has(name)) byName.set(name, entry);
    }
  }
  const metadata: Record<string, unknown> = { ...(isObject(first.metadata) ? first.metadata : {}) };
  delete metadata.continue;
  delete metadata.remainingItemCount;
  metadata.resourceVersion = version;
  const names = [...byName.keys()].sort();
  return { code: 200, body: { ...first, metadata, [key]: [...names.map((n) => byName.get(n)), ...unnamed] } };
}
