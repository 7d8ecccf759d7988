// Namespace creation by tenant owners. Owners have no RBAC to create namespaces: the gateway creates
// them with its own identity, with the tenant label set, so they land in the owner's tenant. Whoever
// owns no tenant is left to the apiserver (an impersonated passthrough, normally a 403).
//
// Covered: POST /api/v1/namespaces (kubectl create ns, client-side apply) in any encoding the
// apiserver takes — a dry run as the gateway decodes it to JSON, so protobuf needs no codec here —
// and server-side apply (PATCH application/apply-patch+yaml) of a namespace that does not exist yet.
//
// Creation is always a POST, which the apiserver refuses (409) when the name exists: a namespace that
// appears between the check and the write, another tenant's or nobody's, is never relabelled into the
// user's tenant (issue #17, item 4). What the new namespace may carry is the write policy's to say
// (tenancy/write-policy.ts): no reserved labels or annotations, no ownerReferences, no finalizers.
import { parse as parseYaml } from "yaml";
import type { KubeObject } from "../../kube/informer.ts";
import { isClusterScopedTarget, type RequestInfo } from "../../kube/request-info.ts";
import { FILTERED_KINDS, type FilteredKind } from "../../resources/kinds.ts";
import { badRequest, forbidden, StatusError } from "../../status/status.ts";
import { type OwnKeys, writeViolation } from "../../tenancy/write-policy.ts";
import { sendAnswer } from "../respond.ts";
import type { Answer, TenantRequest } from "../types.ts";
import { readBody, tenancyRoute, withQuery } from "./tenancy.ts";

const APPLY_PATCH = "application/apply-patch+yaml";

interface NamespaceBody extends KubeObject {
  metadata: KubeObject["metadata"] & Record<string, unknown>;
}

function contentType(r: TenantRequest): string {
  const v = r.req.headers["content-type"];
  return (Array.isArray(v) ? v[0] : v) ?? "application/json";
}

function isNamespacesRequest(info: RequestInfo): boolean {
  return (
    info.isResourceRequest &&
    info.apiGroup === "" &&
    info.resource === "namespaces" &&
    !info.subresource &&
    isClusterScopedTarget(info)
  );
}

/**
 * The tenant a new namespace goes to: the one its label names, which the user must own, or the only
 * tenant the user owns. Several tenants and no label: the user must say which.
 */
export function chooseTenant(
  owned: string[],
  requested: string | undefined,
  label: string,
  user: string,
): string {
  if (requested !== undefined) {
    if (owned.includes(requested)) return requested;
    throw forbidden(
      `namespaces is forbidden: User "${user}" does not own tenant "${requested}" named by label ${label}`,
    );
  }
  if (owned.length === 1) return owned[0] as string;
  throw badRequest(
    `User "${user}" owns several tenants (${owned.join(", ")}): set the label ${label} to one of them`,
  );
}

/** The body the gateway sends: the client's namespace with the tenant label, and nothing server-set. */
export function labelled(ns: NamespaceBody, label: string, tenant: string): NamespaceBody {
  const { uid: _u, resourceVersion: _r, creationTimestamp: _c, managedFields: _m, ...metadata } = ns.metadata;
  return {
    ...ns,
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { ...metadata, labels: { ...(ns.metadata.labels ?? {}), [label]: tenant } },
  };
}

const NAMESPACES = FILTERED_KINDS.find((k) => k.resource === "namespaces") as FilteredKind;

/** A 403 when the namespace the apiserver would create carries what a tenant may not set. */
function checkPolicy(ns: NamespaceBody, user: string, own: OwnKeys): void {
  const finalizers = (ns as { spec?: { finalizers?: unknown[] } }).spec?.finalizers ?? [];
  const violation =
    writeViolation(NAMESPACES, undefined, ns, own) ??
    (finalizers.some((f) => f !== "kubernetes") ? "may not set spec.finalizers" : undefined);
  if (violation)
    throw forbidden(
      `namespaces "${ns.metadata.name}" is forbidden: User "${user}" ${violation} on a namespace of their tenant`,
      "KUBEGATE_TENANCY_RULE",
    );
}

/** POST /api/v1/namespaces by a tenant owner. */
async function create(r: TenantRequest, owned: string[]): Promise<number> {
  const { tenancy: t, req } = r;
  const body = await readBody(req);
  const url = req.url ?? "/";
  // The apiserver decodes whatever the client sent (protobuf, YAML, JSON) and validates it.
  const dry = await r.upstream.whole("gateway", {
    method: "POST",
    path: withQuery("/api/v1/namespaces", url, { dryRun: "All" }),
    contentType: contentType(r),
    body,
  });
  if (dry.code !== 200 && dry.code !== 201) return sendAnswer(r.res, dry);
  const ns = JSON.parse(dry.text) as NamespaceBody;
  const label = t.index.options.tenantLabel;
  const tenant = chooseTenant(owned, ns.metadata.labels?.[label], label, r.user.name);
  checkPolicy(ns, r.user.name, t.index.options);
  const made = await r.upstream.whole("gateway", {
    method: "POST",
    path: withQuery("/api/v1/namespaces", url),
    contentType: "application/json",
    body: JSON.stringify(labelled(ns, label, tenant)),
  });
  return sendAnswer(r.res, await seen(r, made));
}

/**
 * Server-side apply of a namespace that does not exist yet, as a create: undefined when it exists
 * (then it is changed as any other object is: the filter or the user's RBAC decides).
 */
async function apply(r: TenantRequest, owned: string[]): Promise<number | undefined> {
  const { tenancy: t, req, info } = r;
  const path = `/api/v1/namespaces/${encodeURIComponent(info.name)}`;
  const current = await r.upstream.whole("gateway", { method: "GET", path });
  if (current.code !== 404) return undefined;
  let ns: NamespaceBody;
  try {
    ns = parseYaml((await readBody(req)).toString("utf8")) as NamespaceBody;
  } catch (err) {
    if (err instanceof StatusError) throw err;
    throw badRequest(`the apply patch is not valid YAML: ${(err as Error).message}`);
  }
  if (!ns || typeof ns !== "object" || typeof ns.metadata !== "object" || ns.kind !== "Namespace")
    throw badRequest("the apply patch must be a Namespace");
  if (ns.metadata.name !== info.name)
    throw badRequest(
      `the name in the apply patch (${String(ns.metadata.name)}) does not match the URL (${info.name})`,
    );
  const label = t.index.options.tenantLabel;
  const tenant = chooseTenant(owned, ns.metadata.labels?.[label], label, r.user.name);
  const query = new URLSearchParams();
  const client = info.query;
  for (const k of ["dryRun", "fieldManager", "fieldValidation", "pretty"]) {
    const v = client.get(k);
    if (v !== null) query.set(k, v);
  }
  const target = `/api/v1/namespaces${query.size ? `?${query}` : ""}`;
  const body = JSON.stringify(labelled(ns, label, tenant));
  const post = (path: string) =>
    r.upstream.whole("gateway", { method: "POST", path, contentType: "application/json", body });
  const dry = await post(withQuery("/api/v1/namespaces", target, { dryRun: "All" }));
  if (dry.code !== 200 && dry.code !== 201) return sendAnswer(r.res, dry);
  checkPolicy(JSON.parse(dry.text) as NamespaceBody, r.user.name, t.index.options);
  // A POST, not an apply: if the name was taken since the check, this is a 409 and nothing changes.
  return sendAnswer(r.res, await seen(r, await post(target)));
}

/**
 * A namespace made: answered once the gateway's own informer holds it, so that the owner's next list
 * (served from the informer) shows it (issue #20). A dry run made nothing to wait for.
 */
async function seen(r: TenantRequest, made: Answer): Promise<Answer> {
  if ((made.code !== 200 && made.code !== 201) || r.info.query.has("dryRun")) return made;
  let rv: unknown;
  try {
    rv = (JSON.parse(made.text) as NamespaceBody).metadata?.resourceVersion;
  } catch {
    // Not JSON: nothing to wait for.
  }
  if (typeof rv === "string") await r.tenancy.index.seenNamespaces(rv);
  return made;
}

/** POST /api/v1/namespaces, or a server-side apply of one namespace, by a tenant owner. */
export const namespaceCreation = tenancyRoute({
  name: "namespace-create",
  match: (info) => {
    if (!isNamespacesRequest(info)) return undefined;
    if (info.verb === "create" && info.name === "") return "create" as const;
    return info.verb === "patch" && info.name !== "" ? ("apply" as const) : undefined;
  },
  async handle(r, how) {
    // Only a server-side apply may create; other patches change an existing namespace.
    if (how === "apply" && contentType(r).split(";")[0]?.trim() !== APPLY_PATCH) return undefined;
    const owned = r.tenancy.index.ownedTenants(r.user);
    if (owned.length === 0) return undefined;
    return how === "create" ? create(r, owned) : apply(r, owned);
  },
});
