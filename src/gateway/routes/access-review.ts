// `kubectl auth can-i` through the gateway. The apiserver only knows the user's RBAC; the gateway adds
// what the tenancy model grants (list/get/watch for List, update/patch for Update, delete for Delete
// on the filtered kinds, create for namespaces by tenant owners, list/watch of a namespaced kind in all
// namespaces when the merged view would show some). The review always goes to the
// apiserver first, impersonated, which also decodes whatever encoding kubectl used; the gateway then
// only ever turns a "no" into a "yes" it can back, and leaves every other answer untouched.
import type { UserInfo } from "../../authn/user.ts";
import type { RequestInfo } from "../../kube/request-info.ts";
import { FILTERED_KINDS, type FilteredKind, filteredKind, type Operation } from "../../resources/kinds.ts";
import { sendAnswer, sendJson } from "../respond.ts";
import type { TenancyContext, TenantRequest } from "../types.ts";
import { mergedViewNamespaces } from "./all-namespaces.ts";
import { filterBody } from "./filter-body.ts";
import { readBody, tenancyRoute } from "./tenancy.ts";

const REVIEWS = "authorization.k8s.io";

interface ResourceAttributes {
  verb?: string;
  namespace?: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}

interface ResourceRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

const VERBS: Record<Operation, string[]> = {
  List: ["get", "list", "watch"],
  Update: ["update", "patch"],
  Delete: ["delete"],
};

export function operationOf(verb: string): Operation | undefined {
  for (const [op, verbs] of Object.entries(VERBS)) if (verbs.includes(verb)) return op as Operation;
  return undefined;
}

function isNamespaceCreation(a: ResourceAttributes): boolean {
  return a.verb === "create" && (a.group ?? "") === "" && a.resource === "namespaces" && !a.name;
}

/** Why the gateway allows what the attributes describe, or undefined when it grants nothing. */
async function grantReason(r: TenantRequest, a: ResourceAttributes): Promise<string | undefined> {
  const { tenancy: t, user } = r;
  if (a.subresource) return undefined;
  if (isNamespaceCreation(a)) {
    const owned = t.index.ownedTenants(user);
    return owned.length ? `kubegate: owner of tenant ${owned.join(", ")} creates namespaces` : undefined;
  }
  const group = a.group ?? "";
  const kind = filteredKind(group, a.resource ?? "") ?? (await configuredKind(r, group, a));
  const op = operationOf(a.verb ?? "");
  if (!kind || !op) return undefined;
  const tenants = t.index.tenantsFor(user, kind.kind, op);
  if (tenants.length === 0) return undefined;
  if (a.name && !(await objectVisible(r, kind, op, a.name))) return undefined;
  return `kubegate: ${kind.kind} ${op} granted by tenant ${tenants.map((x) => x.name).join(", ")}`;
}

/**
 * A list or watch of a namespaced kind in all namespaces, which k9s asks about before its `-A` views.
 * The gateway serves those from the namespaces the user sees, each read as the user (all-namespaces.ts),
 * so the answer is the merged view's: yes when RBAC lets the user do it in at least one of them.
 */
async function allNamespacesReason(r: TenantRequest, a: ResourceAttributes): Promise<string | undefined> {
  const { verb, namespace, name } = a;
  if ((verb !== "list" && verb !== "watch") || namespace || name || a.subresource) return undefined;
  const group = a.group ?? "";
  const resource = a.resource ?? "";
  if (!resource || resource === "*" || filteredKind(group, resource)) return undefined;
  const { discovery, reviews, fanOutConcurrency } = r.tenancy;
  const version = a.version || (await discovery.namespacedVersion(group, resource));
  if (!version) return undefined;
  // The namespaces the all-namespaces routes would read, by the same rule (the apiserver has just
  // said no cluster-wide, so that question is not asked again).
  const namespaces = await mergedViewNamespaces(r, { group, version, resource, verb });
  if (!namespaces) return undefined;
  // A few reviews at a time (cached by Reviews), stopping at the first namespace that allows it.
  const step = Math.max(1, fanOutConcurrency);
  for (let i = 0; i < namespaces.length; i += step) {
    const batch = namespaces.slice(i, i + step);
    const decisions = await Promise.all(
      batch.map((ns) =>
        reviews.subjectAccessReview(r.user, { resource: { verb, group, resource, namespace: ns } }),
      ),
    );
    const at = decisions.findIndex((d) => d.allowed);
    if (at >= 0)
      return `kubegate: ${resource} ${verb} in all namespaces, served from the user's (${batch[at]} allows it)`;
  }
  return undefined;
}

/**
 * A kind a Tenant configures, at the version the review names or else the cluster's preferred one,
 * when the cluster serves it cluster-scoped (as the routes check it: see filtered.ts).
 */
async function configuredKind(
  r: TenantRequest,
  group: string,
  a: ResourceAttributes,
): Promise<FilteredKind | undefined> {
  const kind = r.tenancy.index.configuredKind(group, a.resource ?? "");
  if (!kind) return undefined;
  const version = a.version || (await r.tenancy.discovery.clusterScopedVersion(group, kind.resource));
  if (!version) return undefined;
  const served = await r.tenancy.discovery.resource(group, version, kind.resource);
  return served && !served.namespaced && served.verbs.includes(a.verb ?? "")
    ? { ...kind, version }
    : undefined;
}

async function objectVisible(r: TenantRequest, kind: FilteredKind, op: Operation, name: string) {
  const version = kind.version ?? "v1";
  const base = kind.group ? `/apis/${kind.group}/${version}` : `/api/${version}`;
  const path = `${base}/${kind.resource}/${encodeURIComponent(name)}`;
  const got = await r.upstream.whole("gateway", { method: "GET", path });
  if (got.code !== 200) return false;
  const { visible } = r.tenancy.index.visibility(r.user, kind, op);
  return filterBody(JSON.parse(got.text) as Record<string, unknown>, visible) !== undefined;
}

/** The rules the tenancy model adds for this user, one per kind with the verbs of its operations. */
export function grantedRules(t: TenancyContext, user: UserInfo): ResourceRule[] {
  const rules: ResourceRule[] = [];
  for (const kind of [...FILTERED_KINDS, ...t.index.configuredKinds()]) {
    const verbs = (Object.keys(VERBS) as Operation[])
      .filter((op) => t.index.tenantsFor(user, kind.kind, op).length > 0)
      .flatMap((op) => VERBS[op]);
    if (kind.kind === "Namespaces" && t.index.ownedTenants(user).length > 0) verbs.push("create");
    if (kind.selection === "ownTenant" && t.index.ownedTenants(user).length > 0) verbs.push(...VERBS.List);
    if (verbs.length) rules.push({ verbs, apiGroups: [kind.group], resources: [kind.resource] });
  }
  return rules;
}

function reviewKind(info: RequestInfo): "selfsubjectaccessreviews" | "selfsubjectrulesreviews" | undefined {
  // Self reviews are cluster-scoped: a namespaced path is no API path (the apiserver's 404).
  if (
    !info.isResourceRequest ||
    info.apiGroup !== REVIEWS ||
    info.verb !== "create" ||
    info.name ||
    info.namespace
  )
    return undefined;
  return info.resource === "selfsubjectaccessreviews" || info.resource === "selfsubjectrulesreviews"
    ? info.resource
    : undefined;
}

/** Self reviews that also reflect what the gateway grants. */
export const accessReviews = tenancyRoute({
  name: "self-review",
  match: reviewKind,
  async handle(r, resource) {
    // As the user, the client's own body in whatever encoding it chose; the answer read back as JSON.
    const answer = await r.upstream.whole("user", {
      body: await readBody(r.req),
      accept: "application/json",
      timeouts: "pool",
    });
    if (answer.code !== 201 && answer.code !== 200) return sendAnswer(r.res, answer);
    const review = JSON.parse(answer.text) as {
      spec?: { resourceAttributes?: ResourceAttributes };
      status?: { allowed?: boolean; denied?: boolean; reason?: string; resourceRules?: ResourceRule[] };
    };
    if (resource === "selfsubjectrulesreviews") {
      const added = grantedRules(r.tenancy, r.user);
      if (added.length === 0) return sendAnswer(r.res, answer);
      review.status = {
        ...review.status,
        resourceRules: [...(review.status?.resourceRules ?? []), ...added],
      };
      return sendJson(r.res, answer.code, review);
    }
    const attributes = review.spec?.resourceAttributes;
    if (review.status?.allowed || review.status?.denied || !attributes) return sendAnswer(r.res, answer);
    const reason = (await grantReason(r, attributes)) ?? (await allNamespacesReason(r, attributes));
    if (!reason) return sendAnswer(r.res, answer);
    review.status = { allowed: true, reason };
    return sendJson(r.res, answer.code, review);
  },
});
