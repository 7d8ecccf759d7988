// Which resources the apiserver serves, and whether each is namespaced, from its aggregated discovery
// (apidiscovery.k8s.io/v2: `/api` and `/apis`, two calls for the whole cluster, CRDs and aggregated
// APIs included). The gateway needs the scope of a resource before it may answer an all-namespaces
// list for a tenant: the request path alone does not tell `/apis/apps/v1/deployments` (namespaced)
// from `/apis/storage.k8s.io/v1/storageclasses` (cluster-scoped).
//
// What is held is the cluster's own discovery, never anything a client named: a lookup of a resource
// the cluster does not serve refreshes at most once per `missRefreshMs`, so made-up paths cost neither
// memory nor a discovery call each.
import { StatusError, status } from "../status/status.ts";
import type { Upstream } from "./upstream.ts";

export interface DiscoveredResource {
  namespaced: boolean;
  verbs: readonly string[];
  /** The kind its objects have, e.g. "Pod". */
  kind: string;
}

/** Reads one discovery document as the gateway; `accept` asks for the aggregated form. */
export type DiscoveryFetch = (path: string, accept: string) => Promise<{ code: number; text: string }>;

/** The gateway's fetch: its own identity, on the connections its reviews and informers use. */
export function discoveryFetch(upstream: Pick<Upstream, "text">): DiscoveryFetch {
  return (path, accept) => upstream.text("GET", path, { accept });
}

export const AGGREGATED_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

interface GroupDiscovery {
  metadata?: { name?: string };
  versions?: {
    version?: string;
    resources?: { resource?: string; scope?: string; verbs?: string[]; responseKind?: { kind?: string } }[];
  }[];
}

/** The key of a resource: "group/version/resource" ("" group for the core API). */
const keyOf = (group: string, version: string, resource: string) => `${group}/${version}/${resource}`;

/** Reads aggregated discovery documents into the resource table. */
export function parseDiscovery(texts: readonly string[]): Map<string, DiscoveredResource> {
  const out = new Map<string, DiscoveredResource>();
  for (const text of texts) {
    const doc = JSON.parse(text) as { kind?: string; items?: GroupDiscovery[] };
    if (doc.kind !== "APIGroupDiscoveryList" || !Array.isArray(doc.items))
      throw new StatusError(
        status(502, `not an aggregated discovery document (kind ${String(doc.kind)})`),
        "KUBEGATE_UPSTREAM_BAD_ANSWER",
      );
    for (const g of doc.items) {
      const group = g.metadata?.name ?? "";
      for (const v of g.versions ?? []) {
        for (const r of v.resources ?? []) {
          if (!v.version || !r.resource) continue;
          out.set(keyOf(group, v.version, r.resource), {
            namespaced: r.scope === "Namespaced",
            verbs: r.verbs ?? [],
            kind: r.responseKind?.kind ?? "",
          });
        }
      }
    }
  }
  return out;
}

export interface DiscoveryOptions {
  /** How old the table may be before a lookup refreshes it (CRDs come and go). */
  maxAgeMs?: number;
  /** The least time between two refreshes caused by lookups of resources the table lacks. */
  missRefreshMs?: number;
  now?: () => number;
}

export class Discovery {
  private table = new Map<string, DiscoveredResource>();
  private loadedAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | undefined;
  private readonly maxAgeMs: number;
  private readonly missRefreshMs: number;
  private readonly now: () => number;

  constructor(
    private readonly fetch: DiscoveryFetch,
    o: DiscoveryOptions = {},
  ) {
    this.maxAgeMs = o.maxAgeMs ?? 60_000;
    this.missRefreshMs = o.missRefreshMs ?? 5_000;
    this.now = o.now ?? Date.now;
  }

  /** The resource as the cluster serves it now, or undefined when it serves no such resource. */
  async resource(group: string, version: string, resource: string): Promise<DiscoveredResource | undefined> {
    const key = keyOf(group, version, resource);
    const age = this.now() - this.loadedAt;
    if (age > this.maxAgeMs) await this.refresh();
    let found = this.table.get(key);
    if (!found && this.now() - this.loadedAt > this.missRefreshMs) {
      await this.refresh();
      found = this.table.get(key);
    }
    return found;
  }

  /**
   * The first version (discovery lists a group's versions preferred first) at which the cluster serves
   * the resource cluster-scoped, or undefined.
   */
  clusterScopedVersion(group: string, resource: string): Promise<string | undefined> {
    return this.versionServing(group, resource, false);
  }

  /** The same for a resource the cluster serves in namespaces. */
  namespacedVersion(group: string, resource: string): Promise<string | undefined> {
    return this.versionServing(group, resource, true);
  }

  private async versionServing(group: string, resource: string, namespaced: boolean) {
    if (this.now() - this.loadedAt > this.maxAgeMs) await this.refresh();
    const prefix = `${group}/`;
    for (const [key, r] of this.table) {
      if (r.namespaced !== namespaced || !key.startsWith(prefix) || !key.endsWith(`/${resource}`)) continue;
      const version = key.slice(prefix.length, -resource.length - 1);
      if (!version.includes("/")) return version;
    }
    return undefined;
  }

  /** One refresh at a time; callers that arrive during it share it. */
  private refresh(): Promise<void> {
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async load(): Promise<void> {
    // A failed refresh keeps the table it had; the next lookup past the miss interval tries again.
    try {
      const answers = await Promise.all(["/api", "/apis"].map((p) => this.fetch(p, AGGREGATED_DISCOVERY)));
      if (answers.every((a) => a.code === 200)) this.table = parseDiscovery(answers.map((a) => a.text));
    } catch {
      // Unreachable, or an unreadable answer: the same.
    } finally {
      this.loadedAt = this.now();
    }
  }
}
