import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { UserInfo } from "../authn/user.ts";
import type { KubeObject, WatchEventType } from "../kube/informer.ts";
import { type FilteredKind, filteredKind } from "../resources/kinds.ts";
import { byListKey, TenancyIndex } from "./index.ts";
import { StaticSource } from "./static-source.ts";
import type { ProxySetting, RoleBinding, Tenant } from "./types.ts";

const LABEL = "kubegate.dev/tenant";
const kind = (group: string, resource: string) => filteredKind(group, resource) as FilteredKind;
const NAMESPACES = kind("", "namespaces");
const NODES = kind("", "nodes");
const STORAGE = kind("storage.k8s.io", "storageclasses");
const PVS = kind("", "persistentvolumes");

const user = (name: string, groups: string[] = []): UserInfo => ({ name, groups, extra: {} });
const obj = (name: string, labels: Record<string, string> = {}, namespace?: string): KubeObject => ({
  metadata: { name, labels, ...(namespace ? { namespace } : {}) },
});
const tenant = (name: string, spec: Tenant["spec"]): Tenant => ({ metadata: { name }, spec });

function fixture(
  tenants: Tenant[],
  extra: { ps?: ProxySetting[]; rb?: RoleBinding[]; ns?: KubeObject[] } = {},
) {
  const sources = {
    tenants: new StaticSource<Tenant>(tenants),
    proxySettings: new StaticSource<ProxySetting>(extra.ps ?? []),
    roleBindings: new StaticSource<RoleBinding>(extra.rb ?? []),
    namespaces: new StaticSource<KubeObject>(
      extra.ns ?? [obj("oil-dev", { [LABEL]: "oil" }), obj("gas-dev", { [LABEL]: "gas" })],
    ),
    nodes: () => new StaticSource<KubeObject>([obj("n1", { pool: "oil" }), obj("n2", { pool: "gas" })]),
  };
  const index = new TenancyIndex(sources, { tenantLabel: LABEL, teamLabel: "team" });
  return { index, sources };
}

const seen = (
  index: TenancyIndex,
  u: UserInfo,
  k: FilteredKind,
  objects: KubeObject[],
  op?: "List" | "Update" | "Delete",
) => {
  const v = index.visibility(u, k, op);
  return { granted: v.granted, names: objects.filter(v.visible).map((o) => o.metadata.name) };
};

describe("TenancyIndex owners", () => {
  const { index } = fixture([
    tenant("oil", {
      owners: [
        { kind: "User", name: "alice", proxySettings: [{ kind: "Nodes" }] },
        { kind: "Group", name: "oil-admins" },
        {
          kind: "ServiceAccount",
          name: "ci",
          namespace: "oil-dev",
          proxySettings: [{ kind: "PersistentVolumes" }],
        },
      ],
      nodeSelector: { pool: "oil" },
    }),
    tenant("gas", { owners: [{ kind: "User", name: "gus" }] }),
  ]);
  const namespaces = [obj("oil-dev", { [LABEL]: "oil" }), obj("gas-dev", { [LABEL]: "gas" }), obj("free")];

  it("a User owner sees the tenant's namespaces and nothing else", () => {
    assert.deepEqual(seen(index, user("alice"), NAMESPACES, namespaces), {
      granted: true,
      names: ["oil-dev"],
    });
    assert.deepEqual(index.ownedTenants(user("alice")), ["oil"]);
  });

  it("a Group owner is matched through any of the user's groups", () => {
    assert.deepEqual(seen(index, user("carl", ["x", "oil-admins"]), NAMESPACES, namespaces).names, [
      "oil-dev",
    ]);
    assert.deepEqual(index.ownedTenants(user("carl", ["oil-admins"])), ["oil"]);
  });

  it("a ServiceAccount owner is matched by its user name, namespace included", () => {
    const sa = user("system:serviceaccount:oil-dev:ci");
    assert.deepEqual(index.ownedTenants(sa), ["oil"]);
    assert.deepEqual(index.ownedTenants(user("system:serviceaccount:gas-dev:ci")), []);
    const pvs = [obj("pv1", { [LABEL]: "oil" }), obj("pv2", { [LABEL]: "gas" }), obj("pv3")];
    assert.deepEqual(seen(index, sa, PVS, pvs), { granted: true, names: ["pv1"] });
  });

  it("kinds come only from proxySettings; nodes follow the nodeSelector", () => {
    const nodes = [obj("n1", { pool: "oil" }), obj("n2", { pool: "gas" })];
    assert.deepEqual(seen(index, user("alice"), NODES, nodes), { granted: true, names: ["n1"] });
    assert.equal(index.visibility(user("carl", ["oil-admins"]), NODES).granted, false);
    assert.equal(index.visibility(user("alice"), NODES, "Delete").granted, false, "List only by default");
  });

  it("a stranger is granted nothing", () => {
    assert.equal(index.visibility(user("eve", ["oil"]), NAMESPACES).granted, false);
    assert.deepEqual(index.ownedTenants(user("eve")), []);
  });

  it("the node source is started on first use only", async () => {
    const { index: lazy, sources } = fixture([]);
    let made = 0;
    const make = sources.nodes;
    (sources as { nodes: () => StaticSource<KubeObject> }).nodes = () => {
      made++;
      return make();
    };
    const fresh = new TenancyIndex(sources, { tenantLabel: LABEL });
    assert.equal(made, 0);
    assert.equal((await fresh.allNodes()).get("n1")?.metadata.name, "n1");
    await fresh.allNodes();
    assert.equal(made, 1);
    lazy.stop();
  });
});

describe("TenancyIndex class selections", () => {
  const classes = [
    obj("cephfs", { tier: "slow" }),
    obj("glusterfs", { tier: "slow" }),
    obj("local-ssd", { tier: "fast" }),
    obj("xfs-old", { tier: "slow" }),
  ];
  const owner = (name: string, storageClasses: Tenant["spec"]["storageClasses"]) =>
    tenant(name, {
      owners: [
        {
          kind: "User",
          name: `${name}-owner`,
          proxySettings: [{ kind: "StorageClasses", operations: ["List", "Update"] }],
        },
      ],
      ...(storageClasses ? { storageClasses } : {}),
    });
  const { index } = fixture([
    owner("names", { allowed: ["cephfs"], allowedRegex: "\\w+fs" }),
    owner("selector", { allowed: ["cephfs"], selector: { matchLabels: { tier: "fast" } } }),
    owner("broken", { allowedRegex: "(" }),
  ]);

  it("names and the regex add up; the regex is anchored", () => {
    assert.deepEqual(seen(index, user("names-owner"), STORAGE, classes).names, ["cephfs", "glusterfs"]);
  });

  it("a label selector wins over names", () => {
    assert.deepEqual(seen(index, user("selector-owner"), STORAGE, classes).names, ["local-ssd"]);
  });

  it("an invalid regex grants nothing rather than everything", () => {
    assert.deepEqual(seen(index, user("broken-owner"), STORAGE, classes).names, []);
  });

  it("operations are granted as listed", () => {
    assert.equal(index.visibility(user("names-owner"), STORAGE, "Update").granted, true);
    assert.equal(index.visibility(user("names-owner"), STORAGE, "Delete").granted, false);
  });
});

describe("TenancyIndex ProxySettings, team label, RoleBindings and changes", () => {
  const ps: ProxySetting = {
    metadata: { name: "grant", namespace: "oil-dev" },
    spec: {
      subjects: [
        { kind: "User", name: "bob" },
        { kind: "ServiceAccount", name: "robot" },
      ],
      proxySettings: [{ kind: "Nodes", operations: ["List"] }],
    },
  };
  const stray: ProxySetting = {
    metadata: { name: "stray", namespace: "free" },
    spec: { subjects: [{ kind: "User", name: "mallory" }], proxySettings: [{ kind: "Nodes" }] },
  };
  const greedy: ProxySetting = {
    metadata: { name: "greedy", namespace: "oil-dev" },
    spec: {
      subjects: [
        { kind: "User", name: "eve" },
        { kind: "User", name: "alice" },
      ],
      proxySettings: [
        { kind: "Nodes", operations: ["List", "Update", "Delete"] },
        { kind: "PersistentVolumes", operations: ["List"] },
      ],
    },
  };
  const rb: RoleBinding = {
    metadata: { name: "view", namespace: "bound" },
    subjects: [
      { kind: "User", name: "rob" },
      { kind: "Group", name: "auditors" },
    ],
  };
  const namespaces = [
    obj("oil-dev", { [LABEL]: "oil" }),
    obj("team-ns", { team: "blue" }),
    obj("bound"),
    obj("free"),
  ];
  const nodes = [obj("n1", { pool: "oil" }), obj("n2", { pool: "gas" })];
  const make = () =>
    fixture(
      [
        tenant("oil", {
          owners: [{ kind: "User", name: "alice", proxySettings: [{ kind: "Nodes" }] }],
          nodeSelector: { pool: "oil" },
        }),
      ],
      {
        ps: [ps, stray, greedy],
        rb: [rb],
        ns: namespaces,
      },
    );

  it("a ProxySetting shares only what the tenant itself holds, never more (issue #17, item 3)", () => {
    const { index } = make();
    // greedy asks for Update and Delete on nodes and List on volumes; the tenant holds Nodes List only.
    assert.equal(index.visibility(user("eve"), NODES, "List").granted, true);
    assert.equal(index.visibility(user("eve"), NODES, "Update").granted, false);
    assert.equal(index.visibility(user("eve"), NODES, "Delete").granted, false);
    assert.equal(index.visibility(user("eve"), PVS, "List").granted, false);
    // Even naming the owner herself as its subject adds nothing to her own rights.
    assert.equal(index.visibility(user("alice"), NODES, "Update").granted, false);
  });

  it("a RoleBinding shows its namespace, and never lets the gateway change or delete it (items 1, 2)", () => {
    const { index } = make();
    assert.equal(index.visibility(user("rob"), NAMESPACES, "List").granted, true);
    assert.deepEqual(seen(index, user("rob"), NAMESPACES, namespaces, "Update"), {
      granted: false,
      names: [],
    });
    assert.deepEqual(seen(index, user("rob"), NAMESPACES, namespaces, "Delete"), {
      granted: false,
      names: [],
    });
    // An owner without an Update grant on Namespaces cannot change her own namespaces through the gateway.
    assert.equal(index.visibility(user("alice"), NAMESPACES, "Update").granted, false);
  });

  it("a ProxySetting grants its kinds (in its tenant) to its subjects, not the namespaces", () => {
    const { index } = make();
    assert.deepEqual(seen(index, user("bob"), NODES, nodes), { granted: true, names: ["n1"] });
    assert.equal(index.visibility(user("bob"), NAMESPACES).granted, false);
    assert.deepEqual(index.ownedTenants(user("bob")), []);
    // A ServiceAccount subject without a namespace is the ProxySetting's namespace's.
    assert.equal(index.visibility(user("system:serviceaccount:oil-dev:robot"), NODES).granted, true);
  });

  it("a ProxySetting outside any tenant's namespaces grants nothing", () => {
    assert.equal(make().index.visibility(user("mallory"), NODES).granted, false);
  });

  it("the team label shows namespaces to the group it names, for listing only", () => {
    const { index } = make();
    assert.deepEqual(seen(index, user("tina", ["blue"]), NAMESPACES, namespaces).names, ["team-ns"]);
    assert.equal(index.visibility(user("tina", ["blue"]), NAMESPACES, "Delete").granted, false);
  });

  it("the team label is read from each object, so a watch sees team namespaces created after it opened", () => {
    const { index } = make();
    const { visible } = index.visibility(user("tina", ["blue"]), NAMESPACES);
    assert.equal(visible(obj("team-later", { team: "blue" })), true);
    assert.equal(visible(obj("other-later", { team: "green" })), false);
    assert.equal(visible(obj("unlabelled-later")), false);
  });

  it("RoleBindings show their namespace to users and groups they name", () => {
    const { index } = make();
    assert.deepEqual(seen(index, user("rob"), NAMESPACES, namespaces).names, ["bound"]);
    assert.deepEqual(seen(index, user("amy", ["auditors"]), NAMESPACES, namespaces).names, ["bound"]);
    assert.equal(index.namespaceVisible(user("rob"))("bound"), true);
    assert.equal(index.namespaceVisible(user("rob"))("free"), false);
  });

  it("deletions and changes are seen at the next question", () => {
    const { index, sources } = make();
    assert.equal(index.visibility(user("bob"), NODES).granted, true);
    sources.proxySettings.delete(ps);
    assert.equal(index.visibility(user("bob"), NODES).granted, false);
    sources.roleBindings.delete(rb);
    assert.equal(index.visibility(user("rob"), NAMESPACES).granted, false);
    // Relabelling the namespace moves the ProxySetting out of the tenant.
    sources.proxySettings.put(ps);
    sources.namespaces.put(obj("oil-dev", {}));
    assert.equal(index.visibility(user("bob"), NODES).granted, false);
    sources.tenants.delete(obj("oil"));
    assert.deepEqual(index.ownedTenants(user("alice")), []);
  });
});

describe("TenancyIndex own Tenants", () => {
  const TENANTS = kind("tenancy.kubegate.dev", "tenants");
  it("an owner sees its own Tenant objects, never another's, and may never change one", () => {
    const { index } = fixture([
      tenant("oil", { owners: [{ kind: "User", name: "alice" }] }),
      tenant("gas", { owners: [{ kind: "Group", name: "gassers" }] }),
    ] as Tenant[]);
    const all = [obj("oil"), obj("gas"), obj("other")];
    assert.deepEqual(seen(index, user("alice"), TENANTS, all), { granted: true, names: ["oil"] });
    assert.deepEqual(seen(index, user("gus", ["gassers"]), TENANTS, all).names, ["gas"]);
    assert.equal(index.visibility(user("bob"), TENANTS).granted, false);
    for (const op of ["Update", "Delete"] as const)
      assert.equal(index.visibility(user("alice"), TENANTS, op).granted, false, op);
  });
});

describe("TenancyIndex visible namespaces (all-namespaces views)", () => {
  const namespaces = [
    obj("oil-dev", { [LABEL]: "oil" }),
    obj("oil", { [LABEL]: "oil" }),
    obj("oil-a", { [LABEL]: "oil" }),
    obj("gas-dev", { [LABEL]: "gas" }),
    obj("team-ns", { team: "blue" }),
    obj("bound"),
  ];
  const make = () =>
    fixture([tenant("oil", { owners: [{ kind: "User", name: "alice" }] }), tenant("gas", { owners: [] })], {
      ns: namespaces,
      rb: [{ metadata: { name: "view", namespace: "bound" }, subjects: [{ kind: "User", name: "alice" }] }],
    });

  it("equals what namespaceVisible says of every namespace, in the apiserver's key order", () => {
    const { index } = make();
    for (const u of [user("alice"), user("tina", ["blue"]), user("bob"), user("alice", ["blue"])]) {
      const visible = index.namespaceVisible(u);
      const expected = namespaces
        .map((n) => n.metadata.name)
        .filter(visible)
        .sort(byListKey);
      assert.deepEqual(index.visibleNamespaces(u), expected, u.name);
    }
    // "oil-a/…" and "oil-dev/…" sort before "oil/…": '-' is below '/'.
    assert.deepEqual(index.visibleNamespaces(user("alice")), ["bound", "oil-a", "oil-dev", "oil"]);
    assert.deepEqual(index.visibleNamespaces(user("bob")), []);
  });

  it("a read plan whose selections hold every visible namespace, dropping what cannot be a label value", () => {
    const { index } = make();
    assert.deepEqual(index.namespaceReadPlan(user("alice", ["blue", "system:authenticated", ""])), {
      labelSelectors: [`${LABEL} in (oil)`, "team in (blue)"],
      names: ["bound"],
    });
    assert.deepEqual(index.namespaceReadPlan(user("bob", ["system:authenticated"])), {
      labelSelectors: [],
      names: [],
    });
    // Every namespace a plan selects, filtered by visibility, is what the index says is visible.
    const matches = (sel: string, labels: Record<string, string>) => {
      const [key, values] = sel.split(" in ");
      return (values ?? "")
        .slice(1, -1)
        .split(",")
        .includes(labels[key ?? ""] ?? "\u0000");
    };
    for (const u of [user("alice"), user("tina", ["blue"]), user("alice", ["blue"])]) {
      const plan = index.namespaceReadPlan(u);
      const visible = index.namespaceVisible(u);
      const selected = namespaces
        .filter(
          (n) =>
            plan.names.includes(n.metadata.name) ||
            plan.labelSelectors.some((s) => matches(s, n.metadata.labels ?? {})),
        )
        .map((n) => n.metadata.name)
        .filter(visible);
      assert.deepEqual(selected.sort(byListKey), index.visibleNamespaces(u), u.name);
    }
  });

  it("follows changes, and tells its listeners once per burst", async () => {
    const { index, sources } = make();
    let calls = 0;
    const off = index.onAccessChange(() => calls++);
    sources.namespaces.put(obj("oil-new", { [LABEL]: "oil" }));
    sources.roleBindings.delete({ metadata: { name: "view", namespace: "bound" } });
    assert.deepEqual(index.visibleNamespaces(user("alice")), ["oil-a", "oil-dev", "oil-new", "oil"]);
    await new Promise((r) => setImmediate(r));
    assert.equal(calls, 1);
    off();
    sources.namespaces.delete(obj("oil-new"));
    await new Promise((r) => setImmediate(r));
    assert.equal(calls, 1);
    assert.deepEqual(index.visibleNamespaces(user("alice")), ["oil-a", "oil-dev", "oil"]);
  });
});

describe("TenancyIndex namespace maps follow events one by one (issue #20, part 4)", () => {
  const owners = [
    tenant("oil", { owners: [{ kind: "User", name: "alice" }] }),
    tenant("gas", { owners: [{ kind: "Group", name: "gassy" }] }),
  ];
  const users = [user("alice"), user("gina", ["gassy"]), user("tina", ["blue"]), user("alice", ["red"])];
  const step = fc.record({
    name: fc.constantFrom("a", "b", "c", "d", "e"),
    tenant: fc.constantFrom(undefined, "oil", "gas", "other"),
    team: fc.constantFrom(undefined, "blue", "red"),
    remove: fc.boolean(),
  });

  it("answers after any sequence of creates, relabels and deletes as an index built from scratch", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const { index, sources } = fixture(owners, { ns: [] });
        index.visibleNamespaces(users[0] as UserInfo); // built once: later changes are incremental
        for (const s of steps) {
          const labels: Record<string, string> = {};
          if (s.tenant) labels[LABEL] = s.tenant;
          if (s.team) labels.team = s.team;
          if (s.remove) sources.namespaces.delete(obj(s.name));
          else sources.namespaces.put(obj(s.name, labels));
          const fresh = fixture(owners, { ns: [...sources.namespaces.list()] }).index;
          for (const u of users) assert.deepEqual(index.visibleNamespaces(u), fresh.visibleNamespaces(u));
        }
      }),
    );
  });

  it("a relabelled namespace leaves its old tenant's list at once", () => {
    const { index, sources } = fixture(owners);
    assert.deepEqual(index.visibleNamespaces(user("alice")), ["oil-dev"]);
    sources.namespaces.put(obj("oil-dev", { [LABEL]: "gas" }));
    assert.deepEqual(index.visibleNamespaces(user("alice")), []);
    assert.deepEqual(index.visibleNamespaces(user("gina", ["gassy"])), ["gas-dev", "oil-dev"]);
    assert.deepEqual(
      index.visibleNamespaceSnapshot(user("gina", ["gassy"])).items.map((o) => o.metadata.name),
      ["gas-dev", "oil-dev"],
    );
  });
});

describe("TenancyIndex grant listeners", () => {
  it("hear grant changes, and a namespace's only when ProxySettings take their tenant from it", async () => {
    const { index, sources } = fixture([tenant("oil", { owners: [{ kind: "User", name: "alice" }] })]);
    // Changes before anyone listens (the informers' first lists) are no news to later listeners.
    sources.tenants.put(tenant("gas", { owners: [{ kind: "User", name: "bob" }] }));
    let all = 0;
    let grants = 0;
    index.onAccessChange(() => all++);
    index.onAccessChange(() => grants++, { grantsOnly: true });
    const settle = () => new Promise((r) => setImmediate(r));
    // A namespace created or relabelled: each watch judges it on the object; grants are the same.
    sources.namespaces.put(obj("oil-new", { [LABEL]: "oil" }));
    await settle();
    assert.deepEqual([all, grants], [1, 0]);
    // A ProxySetting: grants change.
    sources.proxySettings.put({
      metadata: { name: "share", namespace: "oil-new" },
      spec: { subjects: [{ kind: "User", name: "carol" }], proxySettings: [{ kind: "Nodes" }] },
    });
    await settle();
    assert.deepEqual([all, grants], [2, 1]);
    // Now the namespace decides which tenant that ProxySetting shares: its change is a grant change.
    sources.namespaces.put(obj("oil-new", { [LABEL]: "gas" }));
    await settle();
    assert.deepEqual([all, grants], [3, 2]);
    sources.namespaces.put(obj("gas-new", { [LABEL]: "gas" }));
    sources.roleBindings.put({ metadata: { name: "rb", namespace: "gas-new" }, subjects: [] });
    await settle();
    assert.deepEqual([all, grants], [4, 3], "one burst, and it touched grants");
  });
});

describe("TenancyIndex namespace snapshot", () => {
  /** An informer's store: whole objects and the resourceVersion they are current at. */
  class Versioned extends StaticSource<KubeObject> {
    resourceVersion: string | undefined = "42";
  }

  it("hands out the informer's whole namespaces and its resourceVersion", () => {
    const full = { ...obj("oil-dev", { [LABEL]: "oil" }), status: { phase: "Active" } } as KubeObject;
    const namespaces = new Versioned([full, obj("gas-dev", { [LABEL]: "gas" })]);
    const index = new TenancyIndex(
      {
        tenants: new StaticSource<Tenant>([tenant("oil", { owners: [{ kind: "User", name: "alice" }] })]),
        proxySettings: new StaticSource<ProxySetting>([]),
        roleBindings: new StaticSource<RoleBinding>([]),
        namespaces,
        nodes: () => new StaticSource<KubeObject>([]),
      },
      { tenantLabel: LABEL },
    );
    const snap = index.namespaceSnapshot();
    assert.equal(snap.resourceVersion, "42");
    const { visible } = index.visibility(user("alice"), NAMESPACES);
    assert.deepEqual([...snap.items].filter(visible), [full]);
    namespaces.resourceVersion = undefined;
    assert.equal(index.namespaceSnapshot().resourceVersion, undefined);
  });

  it("seenNamespaces waits until the informer holds a write's resourceVersion, or the deadline", async () => {
    /** An informer that hears events: its resourceVersion moves with each, handlers get them. */
    class Hearing extends Versioned {
      private readonly heard = new Set<(...a: unknown[]) => void>();
      override onChange(h: (type: WatchEventType, o: KubeObject, old?: KubeObject) => void): this {
        this.heard.add(h as (...a: unknown[]) => void);
        return this;
      }
      offChange(h: unknown) {
        this.heard.delete(h as (...a: unknown[]) => void);
      }
      hear(rv: string) {
        this.resourceVersion = rv;
        for (const h of [...this.heard]) h("ADDED", obj(`ns-${rv}`));
      }
      get listeners() {
        return this.heard.size;
      }
    }
    const namespaces = new Hearing([]);
    const index = new TenancyIndex(
      {
        tenants: new StaticSource<Tenant>([]),
        proxySettings: new StaticSource<ProxySetting>([]),
        roleBindings: new StaticSource<RoleBinding>([]),
        namespaces,
        nodes: () => new StaticSource<KubeObject>([]),
      },
      { tenantLabel: LABEL },
    );
    const base = namespaces.listeners;
    assert.equal(await index.seenNamespaces("40"), true, "already there");
    const waiting = index.seenNamespaces("100", 1_000);
    namespaces.hear("99");
    let done = false;
    void waiting.then(() => {
      done = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false, "99 is not 100");
    namespaces.hear("100");
    assert.equal(await waiting, true);
    assert.equal(namespaces.listeners, base, "the wait stops listening");
    assert.equal(await index.seenNamespaces("500", 20), false, "the deadline");
    assert.equal(namespaces.listeners, base);
  });

  it("has no resourceVersion for sources that cannot vouch for one", () => {
    assert.equal(fixture([]).index.namespaceSnapshot().resourceVersion, undefined);
  });
});

describe("TenancyIndex cluster-scoped kinds a Tenant names (clusterResources)", () => {
  const widgets = (o: Partial<NonNullable<Tenant["spec"]["clusterResources"]>[number]>) => ({
    group: "example.com",
    resource: "widgets",
    ...o,
  });
  const objects = [obj("oil-a", { team: "oil" }), obj("oil-b"), obj("gas-a", { team: "gas" }), obj("shared")];

  it("owners see what the entry selects, by names, regex or label selector, and nothing by default", () => {
    const { index } = fixture([
      tenant("oil", {
        owners: [{ kind: "User", name: "alice" }],
        clusterResources: [widgets({ allowed: ["shared"], allowedRegex: "oil-.*" })],
      }),
      tenant("gas", {
        owners: [{ kind: "User", name: "bob" }],
        clusterResources: [widgets({ selector: { matchLabels: { team: "gas" } }, allowed: ["shared"] })],
      }),
      tenant("empty", { owners: [{ kind: "User", name: "eve" }], clusterResources: [widgets({})] }),
    ]);
    const k = index.configuredKind("example.com", "widgets") as FilteredKind;
    assert.equal(k.kind, "widgets.example.com");
    assert.equal(k.selection, "configured");
    assert.deepEqual(seen(index, user("alice"), k, objects), {
      granted: true,
      names: ["oil-a", "oil-b", "shared"],
    });
    // The label selector wins over the names, as for classes.
    assert.deepEqual(seen(index, user("bob"), k, objects), { granted: true, names: ["gas-a"] });
    assert.deepEqual(seen(index, user("eve"), k, objects), { granted: true, names: [] });
    assert.deepEqual(seen(index, user("mallory"), k, objects), { granted: false, names: [] });
    assert.equal(index.configuredKind("example.com", "gadgets"), undefined);
  });

  it("grants exactly the operations named (List by default), to owners only, never through a ProxySetting", () => {
    const { index } = fixture(
      [
        tenant("oil", {
          owners: [{ kind: "User", name: "alice" }],
          clusterResources: [widgets({ allowedRegex: ".*", operations: ["List", "Delete"] })],
        }),
      ],
      {
        ps: [
          {
            metadata: { name: "share", namespace: "oil-dev" },
            spec: { subjects: [{ kind: "User", name: "carol" }], proxySettings: [{ kind: "Nodes" }] },
          },
        ],
      },
    );
    const k = index.configuredKind("example.com", "widgets") as FilteredKind;
    assert.equal(index.visibility(user("alice"), k, "List").granted, true);
    assert.equal(index.visibility(user("alice"), k, "Delete").granted, true);
    assert.equal(index.visibility(user("alice"), k, "Update").granted, false);
    assert.equal(index.visibility(user("carol"), k, "List").granted, false);
  });

  it("one entry's operations reach only that entry's objects, when a Tenant names a kind twice", () => {
    const { index } = fixture([
      tenant("oil", {
        owners: [{ kind: "User", name: "alice" }],
        clusterResources: [
          widgets({ allowed: ["oil-a"], operations: ["List", "Update", "Delete"] }),
          widgets({ allowed: ["shared"] }),
        ],
      }),
    ]);
    const k = index.configuredKind("example.com", "widgets") as FilteredKind;
    assert.deepEqual(seen(index, user("alice"), k, objects, "List").names, ["oil-a", "shared"]);
    assert.deepEqual(seen(index, user("alice"), k, objects, "Delete").names, ["oil-a"]);
    assert.deepEqual(seen(index, user("alice"), k, objects, "Update").names, ["oil-a"]);
  });

  it("a ProxySetting never passes on a configured kind, even one that reached the index", () => {
    const { index } = fixture(
      [
        tenant("oil", {
          owners: [{ kind: "User", name: "alice" }],
          clusterResources: [widgets({ allowedRegex: ".*" })],
        }),
      ],
      {
        ps: [
          {
            metadata: { name: "share", namespace: "oil-dev" },
            spec: {
              subjects: [{ kind: "User", name: "carol" }],
              proxySettings: [{ kind: "widgets.example.com" as "Nodes" }],
            },
          },
        ],
      },
    );
    const k = index.configuredKind("example.com", "widgets") as FilteredKind;
    assert.equal(index.visibility(user("carol"), k).granted, false);
  });

  it("refuses the core group, the groups that rule the cluster, the table's kinds and malformed names", () => {
    const named = [
      { group: "", resource: "widgets" },
      { group: "rbac.authorization.k8s.io", resource: "clusterroles" },
      { group: "admissionregistration.k8s.io", resource: "validatingwebhookconfigurations" },
      { group: "apiextensions.k8s.io", resource: "customresourcedefinitions" },
      { group: "certificates.k8s.io", resource: "certificatesigningrequests" },
      { group: "tenancy.kubegate.dev", resource: "tenants" },
      { group: "storage.k8s.io", resource: "storageclasses" },
      { group: "example.com", resource: "Widgets" },
      { group: "example.com", resource: "widgets/status" },
      { group: "nodots", resource: "widgets" },
    ];
    const { index } = fixture([
      tenant("oil", {
        owners: [{ kind: "User", name: "alice" }],
        clusterResources: named.map((n) => ({
          ...n,
          allowedRegex: ".*",
          operations: ["List", "Update", "Delete"],
        })),
      }),
    ]);
    assert.deepEqual(index.configuredKinds(), []);
    for (const n of named)
      assert.equal(index.configuredKind(n.group, n.resource), undefined, JSON.stringify(n));
    // The table's storage classes stay the table's: the entry granted nothing there either.
    assert.equal(index.visibility(user("alice"), STORAGE).granted, false);
  });

  it("an invalid selection grants nothing rather than everything", () => {
    const { index } = fixture([
      tenant("oil", {
        owners: [{ kind: "User", name: "alice" }],
        clusterResources: [widgets({ allowedRegex: "(" })],
      }),
    ]);
    const k = index.configuredKind("example.com", "widgets");
    assert.equal(k, undefined);
  });

  it("writes reach only the paths every Tenant naming the kind lists; metadata only by labels or annotations", () => {
    const { index } = fixture([
      tenant("oil", {
        owners: [{ kind: "User", name: "alice" }],
        clusterResources: [
          widgets({
            allowedRegex: "oil-.*",
            operations: ["List", "Update"],
            writable: ["spec.size", "spec.color", "metadata.labels", "metadata.finalizers", "kind"],
          }),
        ],
      }),
      tenant("gas", {
        owners: [{ kind: "User", name: "bob" }],
        clusterResources: [
          widgets({
            allowedRegex: "gas-.*",
            operations: ["List", "Update"],
            writable: ["spec.size", "metadata.labels"],
          }),
        ],
      }),
      // Lists only: no say in what writes reach.
      tenant("water", {
        owners: [{ kind: "User", name: "carol" }],
        clusterResources: [widgets({ allowed: ["w"] })],
      }),
    ]);
    const k = index.configuredKind("example.com", "widgets") as FilteredKind;
    assert.deepEqual(k.writable, ["spec.size"]);
    assert.deepEqual(k.writableMetadata, ["labels"]);
  });
});
