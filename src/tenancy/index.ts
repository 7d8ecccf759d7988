import type { UserInfo } from "../authn/user.ts";
import { Informer, type KubeObject, type WatchEventType } from "../kube/informer.ts";
import { compareResourceVersions } from "../kube/resource-version.ts";
import type { Upstream } from "../kube/upstream.ts";
import type { Logger } from "../observability/logger.ts";
import {
  configuredKindName,
  FILTERED_KINDS,
  type FilteredKind,
  filteredKind,
  grantable,
  type Operation,
  UNCONFIGURABLE_GROUPS,
} from "../resources/kinds.ts";
import { fromLabelSelectorObject, isValidLabelValue, type LabelSelector } from "../selectors/labels.ts";
import {
  type ClassSelection,
  type ClusterResource,
  type ProxySetting,
  type ProxySettingEntry,
  type RoleBinding,
  type Subject,
  TENANCY_GROUP,
  TENANCY_VERSION,
  type Tenant,
} from "./types.ts";

/** What the index reads: informers in production, hand-fed stores in unit tests. */
export interface Source<T extends KubeObject> {
  readonly synced: Promise<void>;
  onChange(handler: () => void): unknown;
  get(namespaceOrName: string, name?: string): T | undefined;
  list(): Iterable<T>;
  start(): unknown;
  stop(): void;
  /** The resourceVersion the source is current at, when it can vouch for one (informers do). */
  readonly resourceVersion?: string | undefined;
  /** Stops calling a handler; sources that have it pass (type, object, old) to their handlers. */
  offChange?(handler: NamespaceEvent): void;
}

/** One change to a namespace, as the informer hears it (old: the object it held before). */
export type NamespaceEvent = (type: WatchEventType, obj: KubeObject, old?: KubeObject) => void;

export interface TenancySources {
  tenants: Source<Tenant>;
  proxySettings: Source<ProxySetting>;
  roleBindings: Source<RoleBinding>;
  namespaces: Source<KubeObject>;
  /** Made on first use only: nodes matter to the describe routes, not to every deployment. */
  nodes: () => Source<KubeObject>;
}

/** The informers a TenancyIndex reads in a cluster. */
export function informerSources(upstream: Upstream, log?: Logger): TenancySources {
  const base = `/apis/${TENANCY_GROUP}/${TENANCY_VERSION}`;
  return {
    tenants: new Informer<Tenant>(upstream, `${base}/tenants`, log),
    proxySettings: new Informer<ProxySetting>(upstream, `${base}/proxysettings`, log),
    roleBindings: new Informer<RoleBinding>(upstream, "/apis/rbac.authorization.k8s.io/v1/rolebindings", log),
    namespaces: new Informer<KubeObject>(upstream, "/api/v1/namespaces", log),
    nodes: () => new Informer<KubeObject>(upstream, "/api/v1/nodes", log),
  };
}

export interface TenancyOptions {
  /** Namespace (and PersistentVolume) label naming the owning tenant. */
  tenantLabel: string;
  /** Namespace label whose value is a group that may see the namespace (seed 000). */
  teamLabel?: string;
}

interface CompiledClasses {
  selector?: LabelSelector;
  names: Set<string>;
  regex?: RegExp;
}

/** A tenant with its selections parsed once, not per request. */
interface CompiledTenant {
  name: string;
  nodeSelector?: Record<string, string>;
  classes: Partial<Record<NonNullable<FilteredKind["specField"]>, CompiledClasses>>;
  /**
   * Its clusterResources' selections by configured kind name, each with the operations its own entry
   * grants: one entry's operations never reach another entry's objects.
   */
  resources: Map<string, { operations: ReadonlySet<Operation>; selection: CompiledClasses }[]>;
}

/** A grant of operations on a kind, by the kind's name (the table's, or a configured one's). */
interface GrantEntry {
  kind: string;
  operations?: Operation[] | undefined;
}

/** A resource name as the apiserver spells plural resources: a DNS-1123 label. */
const RESOURCE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const GROUP_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/;

/** Whether a Tenant may name this kind at all (not the table's, not a group that rules the cluster). */
export function configurable(e: Pick<ClusterResource, "group" | "resource">): boolean {
  return (
    typeof e.group === "string" &&
    typeof e.resource === "string" &&
    !UNCONFIGURABLE_GROUPS.has(e.group) &&
    GROUP_NAME.test(e.group) &&
    RESOURCE_NAME.test(e.resource) &&
    filteredKind(e.group, e.resource) === undefined
  );
}

/** Where a configured kind's writes may reach, split as the write policy reads it. */
function writeScope(writable: readonly string[] | undefined): {
  fields: string[];
  metadata: ("labels" | "annotations")[];
} {
  const fields: string[] = [];
  const metadata: ("labels" | "annotations")[] = [];
  for (const path of writable ?? []) {
    if (path === "metadata.labels") metadata.push("labels");
    else if (path === "metadata.annotations") metadata.push("annotations");
    // The rest of metadata, and what is not spec-like, is never a tenant's to change.
    else if (
      /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(path) &&
      !/^(metadata|apiVersion|kind)(\.|$)/.test(path)
    )
      fields.push(path);
  }
  return { fields, metadata };
}

export interface Visibility {
  granted: boolean;
  visible: (obj: KubeObject) => boolean;
}

const NAMESPACES = FILTERED_KINDS.find((k) => k.kind === "Namespaces") as FilteredKind;

/** What one subject (a user, a group, a service account) is granted, per tenant. */
type Grants = Map<string, Map<string, Set<Operation>>>;

const subjectKey = (s: Subject) =>
  s.kind === "ServiceAccount" ? `ServiceAccount:${s.namespace ?? ""}:${s.name}` : `${s.kind}:${s.name}`;

/** The index keys of a user: the name, every group, and the service account it may be. */
export function keysOf(user: UserInfo): string[] {
  const keys = [`User:${user.name}`, ...user.groups.map((g) => `Group:${g}`)];
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user.name);
  if (sa) keys.push(`ServiceAccount:${sa[1]}:${sa[2]}`);
  return keys;
}

function compileClasses(c: ClassSelection | undefined): CompiledClasses | undefined {
  if (!c) return undefined;
  const out: CompiledClasses = { names: new Set(c.allowed ?? []) };
  if (c.selector) out.selector = fromLabelSelectorObject(c.selector);
  // Anchored, as the Go regexp in Capsule's MatchString is used on the whole name in practice.
  if (c.allowedRegex) out.regex = new RegExp(`^(?:${c.allowedRegex})$`);
  return out;
}

/** Whether a selection picks the object: a label selector wins over names and the regex. */
function selects(c: CompiledClasses, o: KubeObject): boolean {
  return c.selector
    ? c.selector.matches(o.metadata.labels ?? {})
    : c.names.has(o.metadata.name) || (c.regex?.test(o.metadata.name) ?? false);
}

function addGrant(
  grants: Map<string, Grants>,
  key: string,
  tenant: string,
  entries: readonly GrantEntry[] | undefined,
  owner: boolean,
) {
  let byTenant = grants.get(key);
  if (!byTenant) {
    byTenant = new Map();
    grants.set(key, byTenant);
  }
  let byKind = byTenant.get(tenant);
  if (!byKind) {
    byKind = new Map();
    byTenant.set(tenant, byKind);
  }
  // Owners always see their namespaces; everything else only as proxySettings say.
  if (owner && !byKind.has("Namespaces")) byKind.set("Namespaces", new Set(["List"]));
  for (const e of entries ?? []) {
    const ops = byKind.get(e.kind) ?? new Set<Operation>();
    for (const op of e.operations?.length ? e.operations : (["List"] as Operation[])) ops.add(op);
    byKind.set(e.kind, ops);
  }
}

/** Per tenant, the union of what its owners hold: the most a ProxySetting of that tenant can share. */
function rightsOfTenants(
  grants: Map<string, Grants>,
  owners: Map<string, Set<string>>,
): Map<string, Map<string, Set<Operation>>> {
  const out = new Map<string, Map<string, Set<Operation>>>();
  for (const [key, tenants] of owners) {
    for (const tenant of tenants) {
      const held = grants.get(key)?.get(tenant);
      if (!held) continue;
      const rights = out.get(tenant) ?? new Map<string, Set<Operation>>();
      for (const [kind, ops] of held) rights.set(kind, new Set([...(rights.get(kind) ?? []), ...ops]));
      out.set(tenant, rights);
    }
  }
  return out;
}

const SHAREABLE: ReadonlySet<string> = new Set(FILTERED_KINDS.filter(grantable).map((k) => k.kind));

/** A ProxySetting's entries, each reduced to the operations the tenant itself holds on the kind. */
export function capEntries(
  entries: ProxySettingEntry[] | undefined,
  rights: Map<string, Set<Operation>> | undefined,
): ProxySettingEntry[] {
  const out: ProxySettingEntry[] = [];
  for (const e of entries ?? []) {
    // Only the table's kinds a ProxySetting may name (its CRD's enum says the same): never a kind a
    // Tenant configures, whatever reaches the index.
    if (!SHAREABLE.has(e.kind)) continue;
    const held = rights?.get(e.kind);
    if (!held) continue;
    const asked: Operation[] = e.operations?.length ? e.operations : ["List"];
    const operations = asked.filter((op) => held.has(op));
    if (operations.length) out.push({ kind: e.kind, operations });
  }
  return out;
}

/**
 * Who may see which cluster-scoped objects, kept current by informers: tenants and their owners,
 * ProxySettings, RoleBindings and namespace labels. Answers in map lookups per user key, so a user in
 * 200 groups costs 200 lookups and no round trip.
 */
export class TenancyIndex {
  private readonly tenants: Source<Tenant>;
  private readonly proxySettings: Source<ProxySetting>;
  private readonly roleBindings: Source<RoleBinding>;
  private readonly namespaces: Source<KubeObject>;
  private readonly makeNodes: () => Source<KubeObject>;
  private nodes?: Source<KubeObject>;
  private compiled = new Map<string, CompiledTenant>();
  private grants = new Map<string, Grants>();
  private owners = new Map<string, Set<string>>();
  private bindings = new Map<string, Set<string>>();
  private teams = new Map<string, Set<string>>();
  /** Namespaces by the tenant their label names: a tenant's namespaces without a scan of all. */
  private byTenant = new Map<string, Set<string>>();
  /** Kinds some Tenant's clusterResources name, by "group/resource". */
  private configured = new Map<string, FilteredKind>();
  /** Tenants, ProxySettings or RoleBindings changed: the grant maps are built again on the next read. */
  private grantsDirty = true;
  /**
   * byTenant and teams follow namespace events one by one (a namespace change costs that namespace, not
   * the cluster: issue #20, part 4); only a source that does not say what changed makes them built anew.
   */
  private namespacesDirty = true;
  /** Namespaces some ProxySetting lives in (their tenant label is the ProxySetting's tenant); lazily. */
  private proxySettingNamespaces: Set<string> | undefined;
  /** Listeners of every change, and of those that may change grants (not a namespace's own fate). */
  private readonly accessListeners = new Set<() => void>();
  private readonly grantListeners = new Set<() => void>();
  private notifyScheduled = false;
  /** Whether a change since the last notification may have changed grants. */
  private grantsTouched = false;

  constructor(
    from: Upstream | TenancySources,
    readonly options: TenancyOptions,
    log?: Logger,
  ) {
    const sources = "tenants" in from ? from : informerSources(from, log);
    this.tenants = sources.tenants;
    this.proxySettings = sources.proxySettings;
    this.roleBindings = sources.roleBindings;
    this.namespaces = sources.namespaces;
    this.makeNodes = sources.nodes;
    for (const s of [this.tenants, this.roleBindings]) s.onChange(() => this.grantsChanged());
    this.proxySettings.onChange(() => {
      this.proxySettingNamespaces = undefined;
      this.grantsChanged();
    });
    (this.namespaces.onChange as (h: NamespaceEvent | (() => void)) => unknown)(
      (type?: WatchEventType, obj?: KubeObject, old?: KubeObject) => this.namespaceChanged(type, obj, old),
    );
  }

  /**
   * A namespace's change is judged on the namespace itself by every watch (its labels are read from
   * the object), so only one whose ProxySettings take their tenant from it can change grants. A
   * source that does not say what changed (hand-fed stores) is taken at its worst.
   */
  private namespaceChanged(type?: WatchEventType, obj?: KubeObject, old?: KubeObject): void {
    if (type === undefined || obj === undefined || (type === "MODIFIED" && old === undefined)) {
      this.namespacesDirty = true;
      this.grantsChanged();
      return;
    }
    if (!this.namespacesDirty) {
      const before = type === "DELETED" ? (old ?? obj) : old;
      if (before) this.indexNamespace(before, removeFrom);
      if (type !== "DELETED") this.indexNamespace(obj);
    }
    if (this.holdsProxySettings(obj.metadata.name)) this.grantsChanged();
    else this.scheduleNotify();
  }

  private grantsChanged(): void {
    this.grantsDirty = true;
    this.grantsTouched = true;
    this.scheduleNotify();
  }

  /** Files a namespace under its tenant and team labels (or, with removeFrom, takes it out). */
  private indexNamespace(ns: KubeObject, file = addTo): void {
    const { teamLabel, tenantLabel } = this.options;
    const tenant = ns.metadata.labels?.[tenantLabel];
    if (tenant !== undefined) file(this.byTenant, tenant, ns.metadata.name);
    const team = teamLabel ? ns.metadata.labels?.[teamLabel] : undefined;
    if (team !== undefined) file(this.teams, team, ns.metadata.name);
  }

  /** The one way a namespace's change changes grants: ProxySettings take their tenant from it. */
  private holdsProxySettings(namespace: string): boolean {
    if (!this.proxySettingNamespaces) {
      this.proxySettingNamespaces = new Set();
      for (const ps of this.proxySettings.list())
        this.proxySettingNamespaces.add(ps.metadata.namespace ?? "");
    }
    return this.proxySettingNamespaces.has(namespace);
  }

  private sources(): Source<KubeObject>[] {
    return [this.tenants, this.proxySettings, this.roleBindings, this.namespaces];
  }

  /**
   * Calls `handler` after the index changed in a way that may change who sees what (a tenant, a
   * ProxySetting, a RoleBinding or a namespace changed), until the returned function is called. A
   * burst of changes (an informer's relist) is one call, on the next turn of the event loop.
   * `grantsOnly`: not for a namespace's own change, which a watch that judges each namespace event
   * on the object already handles: with thousands of such watches, judging every namespace again on
   * each namespace created would cost watches x namespaces per change.
   */
  onAccessChange(handler: () => void, o: { grantsOnly?: boolean } = {}): () => void {
    const set = o.grantsOnly ? this.grantListeners : this.accessListeners;
    set.add(handler);
    return () => set.delete(handler);
  }

  private scheduleNotify(): void {
    if (this.notifyScheduled) return;
    if (this.accessListeners.size === 0 && this.grantListeners.size === 0) {
      // Nobody to tell: what changed so far (the informers' first lists) is no news to a later listener.
      this.grantsTouched = false;
      return;
    }
    this.notifyScheduled = true;
    setImmediate(() => {
      this.notifyScheduled = false;
      const grants = this.grantsTouched;
      this.grantsTouched = false;
      for (const h of [...this.accessListeners, ...(grants ? this.grantListeners : [])]) h();
    });
  }

  /**
   * The names of the namespaces the user may see, as namespaceVisible decides, in the order the
   * apiserver lists namespaced objects (by the key "namespace/name", so "a-b" comes before "a").
   * Costs what the user sees: the tenants it owns, its RoleBindings, its groups' team namespaces.
   */
  visibleNamespaces(user: UserInfo): string[] {
    this.rebuild();
    const out = new Set<string>();
    for (const t of this.tenantsFor(user, NAMESPACES.kind, "List"))
      for (const ns of this.byTenant.get(t.name) ?? []) out.add(ns);
    for (const key of keysOf(user)) for (const ns of this.bindings.get(key) ?? []) out.add(ns);
    if (this.options.teamLabel)
      for (const g of user.groups) for (const ns of this.teams.get(g) ?? []) out.add(ns);
    return [...out].filter((ns) => this.namespaces.get(ns) !== undefined).sort(byListKey);
  }

  /**
   * Where the namespaces `user` may list can be found as the apiserver selects them: the label
   * selectors of the tenant and team labels (values that cannot be label values are dropped: no
   * namespace carries them) and the names RoleBindings grant. Together they hold every namespace
   * {@link visibleNamespaces} would give, and maybe more, which the visibility filter then drops.
   */
  namespaceReadPlan(user: UserInfo): { labelSelectors: string[]; names: string[] } {
    this.rebuild();
    const { tenantLabel, teamLabel } = this.options;
    const labelSelectors: string[] = [];
    const tenants = this.tenantsFor(user, NAMESPACES.kind, "List")
      .map((t) => t.name)
      .filter((v) => v !== "" && isValidLabelValue(v));
    if (tenants.length > 0) labelSelectors.push(`${tenantLabel} in (${[...new Set(tenants)].join(",")})`);
    const groups = user.groups.filter((v) => v !== "" && isValidLabelValue(v));
    if (teamLabel && groups.length > 0)
      labelSelectors.push(`${teamLabel} in (${[...new Set(groups)].join(",")})`);
    const names = new Set<string>();
    for (const key of keysOf(user)) for (const ns of this.bindings.get(key) ?? []) names.add(ns);
    return { labelSelectors, names: [...names].sort(byListKey) };
  }

  start(): this {
    for (const s of this.sources()) s.start();
    return this;
  }

  stop(): void {
    for (const s of this.sources()) s.stop();
    this.nodes?.stop();
  }

  get synced(): Promise<void> {
    return Promise.all(this.sources().map((s) => s.synced)).then(() => undefined);
  }

  /** Every node, from an informer started on the first call (the describe routes need them). */
  async allNodes(): Promise<Source<KubeObject>> {
    if (!this.nodes) {
      this.nodes = this.makeNodes();
      this.nodes.start();
    }
    await this.nodes.synced;
    return this.nodes;
  }

  /** Whether a namespace, by name, is one the user may see (tenants, RoleBindings, team label). */
  namespaceVisible(user: UserInfo): (name: string) => boolean {
    const { visible } = this.visibility(user, NAMESPACES, "List");
    return (name) => {
      const ns = this.namespaces.get(name);
      return ns !== undefined && visible(ns);
    };
  }

  /**
   * The namespaces the index holds, as whole objects, and the resourceVersion they are current at
   * (undefined when the informer cannot vouch for them, e.g. while it relists after a broken watch):
   * enough to answer a tenant's namespace list without listing every namespace upstream.
   */
  namespaceSnapshot(): { items: Iterable<KubeObject>; resourceVersion: string | undefined } {
    return { items: this.namespaces.list(), resourceVersion: this.namespaces.resourceVersion };
  }

  /**
   * The namespaces this user may see (as visibleNamespaces), as whole objects, with the resourceVersion
   * the store is current at: a tenant's list costs what the tenant sees, not the cluster's size.
   */
  visibleNamespaceSnapshot(user: UserInfo): { items: KubeObject[]; resourceVersion: string | undefined } {
    const resourceVersion = this.namespaces.resourceVersion;
    const items: KubeObject[] = [];
    for (const name of this.visibleNamespaces(user)) {
      const ns = this.namespaces.get(name);
      if (ns) items.push(ns);
    }
    return { items, resourceVersion };
  }

  /**
   * Calls `handler` on every namespace change until the returned function is called; undefined when the
   * source cannot tell what changed (hand-fed stores), and a watch must go upstream instead.
   */
  onNamespaceEvent(handler: NamespaceEvent): (() => void) | undefined {
    const source = this.namespaces;
    if (!source.offChange) return undefined;
    (source.onChange as (h: NamespaceEvent) => unknown)(handler);
    return () => source.offChange?.(handler);
  }

  /**
   * Resolves once the namespace informer has seen `resourceVersion` (a write's own, from its answer),
   * or after `timeoutMs`: a namespace the gateway just created is then in every list it serves from
   * the informer, so "create, then list" never misses it. True when it was seen in time.
   */
  async seenNamespaces(resourceVersion: string, timeoutMs = 2_000): Promise<boolean> {
    const reached = () => {
      const at = this.namespaces.resourceVersion;
      return at !== undefined && (compareResourceVersions(at, resourceVersion) ?? -1) >= 0;
    };
    if (!/^\d+$/.test(resourceVersion) || reached()) return reached();
    return new Promise<boolean>((resolve) => {
      let off: (() => void) | undefined;
      const timer = setTimeout(() => {
        off?.();
        resolve(reached());
      }, timeoutMs);
      off = this.onNamespaceEvent(() => {
        if (!reached()) return;
        clearTimeout(timer);
        off?.();
        resolve(true);
      });
      if (!off) {
        clearTimeout(timer);
        resolve(false);
      }
    });
  }

  /**
   * The kind a Tenant's clusterResources name for this group and resource, when some Tenant names it
   * (scope and verbs are discovery's to confirm; see routes/filtered.ts).
   */
  configuredKind(group: string, resource: string): FilteredKind | undefined {
    this.rebuild();
    return this.configured.get(`${group}/${resource}`);
  }

  /** Every kind some Tenant's clusterResources name. */
  configuredKinds(): FilteredKind[] {
    this.rebuild();
    return [...this.configured.values()];
  }

  /** Tenant names this user owns (as a User, through a Group, or as a ServiceAccount). */
  ownedTenants(user: UserInfo): string[] {
    this.rebuild();
    const out = new Set<string>();
    for (const key of keysOf(user)) for (const t of this.owners.get(key) ?? []) out.add(t);
    return [...out].sort();
  }

  /** Brings the lookup maps up to date before a read. */
  private rebuild(): void {
    if (this.namespacesDirty) this.rebuildNamespaceMaps();
    if (this.grantsDirty) this.rebuildGrants();
  }

  /** Every namespace indexed by its tenant and team labels, from scratch. */
  private rebuildNamespaceMaps(): void {
    this.namespacesDirty = false;
    this.byTenant = new Map();
    this.teams = new Map();
    for (const ns of this.namespaces.list()) this.indexNamespace(ns);
  }

  /**
   * The grant maps, from every Tenant, ProxySetting and RoleBinding: these change rarely next to reads,
   * and their number grows with tenants, not with namespaces.
   */
  private rebuildGrants(): void {
    this.grantsDirty = false;
    const compiled = new Map<string, CompiledTenant>();
    const grants = new Map<string, Grants>();
    const owners = new Map<string, Set<string>>();
    const configuredScopes = new Map<
      string,
      { group: string; resource: string; scopes: ReturnType<typeof writeScope>[] }
    >();
    for (const t of this.tenants.list()) {
      const name = t.metadata.name;
      const classes: CompiledTenant["classes"] = {};
      for (const field of [
        "storageClasses",
        "ingressClasses",
        "priorityClasses",
        "runtimeClasses",
      ] as const) {
        try {
          const c = compileClasses(t.spec?.[field]);
          if (c) classes[field] = c;
        } catch {
          // An invalid selection grants nothing rather than everything.
        }
      }
      const resources: CompiledTenant["resources"] = new Map();
      const resourceGrants: GrantEntry[] = [];
      for (const e of Array.isArray(t.spec?.clusterResources) ? t.spec.clusterResources : []) {
        if (!e || !configurable(e)) continue;
        let selection: CompiledClasses | undefined;
        try {
          selection = compileClasses(e);
        } catch {
          continue; // as for classes: an invalid selection grants nothing
        }
        const kindName = configuredKindName(e.group, e.resource);
        const operations = new Set<Operation>(e.operations?.length ? e.operations : ["List"]);
        resources.set(kindName, [
          ...(resources.get(kindName) ?? []),
          { operations, selection: selection as CompiledClasses },
        ]);
        resourceGrants.push({ kind: kindName, operations: e.operations });
        // What a kind's writes may reach is agreed by the Tenants that grant Update on it; a Tenant
        // that only lists it has no say.
        const key = `${e.group}/${e.resource}`;
        const seen = configuredScopes.get(key) ?? { group: e.group, resource: e.resource, scopes: [] };
        if (e.operations?.includes("Update")) seen.scopes.push(writeScope(e.writable));
        configuredScopes.set(key, seen);
      }
      compiled.set(name, {
        name,
        ...(t.spec?.nodeSelector ? { nodeSelector: t.spec.nodeSelector } : {}),
        classes,
        resources,
      });
      for (const owner of t.spec?.owners ?? []) {
        const key = subjectKey(owner);
        addGrant(grants, key, name, [...(owner.proxySettings ?? []), ...resourceGrants], true);
        const set = owners.get(key) ?? new Set<string>();
        set.add(name);
        owners.set(key, set);
      }
    }
    // A ProxySetting shares the tenant's rights with other subjects; it never creates rights. Each of
    // its entries is cut down to what the tenant's owners hold for that kind (issue #17, item 3).
    const tenantRights = rightsOfTenants(grants, owners);
    for (const ps of this.proxySettings.list()) {
      const ns = ps.metadata.namespace ?? "";
      const tenant = this.namespaces.get(ns)?.metadata.labels?.[this.options.tenantLabel];
      if (!tenant || !compiled.has(tenant)) continue;
      const shared = capEntries(ps.spec?.proxySettings, tenantRights.get(tenant));
      for (const subject of ps.spec?.subjects ?? []) {
        const key = subjectKey(
          subject.kind === "ServiceAccount" ? { ...subject, namespace: subject.namespace ?? ns } : subject,
        );
        addGrant(grants, key, tenant, shared, false);
      }
    }
    const bindings = new Map<string, Set<string>>();
    for (const rb of this.roleBindings.list()) {
      const ns = rb.metadata.namespace ?? "";
      for (const s of rb.subjects ?? []) {
        const kind = s.kind as Subject["kind"];
        const key = subjectKey({
          kind,
          name: s.name,
          ...(kind === "ServiceAccount" ? { namespace: s.namespace ?? ns } : {}),
        });
        const set = bindings.get(key) ?? new Set<string>();
        set.add(ns);
        bindings.set(key, set);
      }
    }
    const configured = new Map<string, FilteredKind>();
    for (const [key, c] of configuredScopes) {
      // Tenants may name one kind with different write scopes; the kind has one: what all allow.
      const every = <T>(lists: T[][]) => (lists[0] ?? []).filter((x) => lists.every((l) => l.includes(x)));
      configured.set(key, {
        kind: configuredKindName(c.group, c.resource),
        group: c.group,
        resource: c.resource,
        selection: "configured",
        writable: every(c.scopes.map((s) => s.fields)),
        writableMetadata: every(c.scopes.map((s) => s.metadata)),
      });
    }
    this.configured = configured;
    this.compiled = compiled;
    this.grants = grants;
    this.owners = owners;
    this.bindings = bindings;
  }

  /** Tenants that grant this user the operation on the kind. */
  tenantsFor(user: UserInfo, kind: string, op: Operation = "List"): CompiledTenant[] {
    this.rebuild();
    const out = new Map<string, CompiledTenant>();
    for (const key of keysOf(user)) {
      for (const [tenant, byKind] of this.grants.get(key) ?? []) {
        if (byKind.get(kind)?.has(op)) {
          const t = this.compiled.get(tenant);
          if (t) out.set(tenant, t);
        }
      }
    }
    return [...out.values()];
  }

  /**
   * What one request may see: built once, then applied to every item, row and watch event. `granted`
   * is false when the tenancy model gives this user nothing of the kind, and the user's own RBAC should
   * answer instead.
   */
  visibility(user: UserInfo, kind: FilteredKind, op: Operation = "List"): Visibility {
    this.rebuild();
    const tenants = this.tenantsFor(user, kind.kind, op);
    const labelOf = (o: KubeObject, key: string | undefined) => (key ? o.metadata.labels?.[key] : undefined);
    switch (kind.selection) {
      case "namespace": {
        const owned = new Set(tenants.map((t) => t.name));
        // A RoleBinding or the team label lets a user see a namespace, never change or delete it: only
        // a tenant's explicit grant does that (issue #17, items 1 and 2).
        const named = new Set<string>();
        if (op === "List")
          for (const key of keysOf(user)) for (const ns of this.bindings.get(key) ?? []) named.add(ns);
        // The team label is read from each object, not from the index at the start: a watch must show a
        // team namespace created after it opened.
        const teamLabel = op === "List" ? this.options.teamLabel : undefined;
        const groups = new Set(user.groups);
        const inTeam = teamLabel !== undefined && user.groups.some((g) => this.teams.has(g));
        const { tenantLabel } = this.options;
        return {
          granted: owned.size > 0 || named.size > 0 || inTeam,
          visible: (o) => {
            const tenant = labelOf(o, tenantLabel);
            if (tenant !== undefined && owned.has(tenant)) return true;
            if (named.has(o.metadata.name)) return true;
            const team = labelOf(o, teamLabel);
            return team !== undefined && groups.has(team);
          },
        };
      }
      case "nodeSelector": {
        const selectors = tenants
          .map((t) => t.nodeSelector)
          .filter((s): s is Record<string, string> => s !== undefined);
        return {
          granted: tenants.length > 0,
          visible: (o) =>
            selectors.some((sel) => Object.entries(sel).every(([k, v]) => o.metadata.labels?.[k] === v)),
        };
      }
      case "classes": {
        const field = kind.specField as NonNullable<FilteredKind["specField"]>;
        const selections = tenants
          .map((t) => t.classes[field])
          .filter((c): c is CompiledClasses => c !== undefined);
        return {
          granted: tenants.length > 0,
          visible: (o) => selections.some((c) => selects(c, o)),
        };
      }
      case "configured": {
        const selections = tenants.flatMap((t) =>
          (t.resources.get(kind.kind) ?? []).filter((e) => e.operations.has(op)).map((e) => e.selection),
        );
        return {
          granted: tenants.length > 0,
          visible: (o) => selections.some((c) => selects(c, o)),
        };
      }
      case "ownTenant": {
        // Owning a tenant shows its Tenant object; nothing lets anyone change one here.
        const owned = new Set(op === "List" ? this.ownedTenants(user) : []);
        return { granted: owned.size > 0, visible: (o) => owned.has(o.metadata.name) };
      }
      case "tenantLabel": {
        const owned = new Set(tenants.map((t) => t.name));
        return {
          granted: tenants.length > 0,
          visible: (o) => {
            const tenant = labelOf(o, this.options.tenantLabel);
            return tenant !== undefined && owned.has(tenant);
          },
        };
      }
    }
  }
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key) ?? new Set<string>();
  set.add(value);
  map.set(key, set);
}

function removeFrom(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

/** Orders namespace names as their objects' keys "namespace/..." sort, byte by byte. */
export function byListKey(a: string, b: string): number {
  const x = `${a}/`;
  const y = `${b}/`;
  return x < y ? -1 : x > y ? 1 : 0;
}

export { FILTERED_KINDS };
