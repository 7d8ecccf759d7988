// Namespace creation by tenant owners. Owners have no RBAC to create namespaces: the gateway creates
// them with its own identity, with the tenant label set, so they land in the owner's tenant. Whoever
// owns no tenant is left to the apiserver (an impersonated passthrough, normally a 403).
//
// Covered: POST /api/v1/namespaces (kubectl create ns, client-side apply) in any encoding the
// apiserver takes — a dry run as the gateway decodes it to JSON, so protobuf needs no codec here —
// and server-side apply (PATCH application/apply-patch+yaml) of a namespace that does not exist yet.
import { parse as parseYaml } from "yaml";
import type { UserInfo } from "../authn/user.ts";
import type { KubeObject } from "../kube/informer.ts";
import { badRequest, forbidden, StatusError } from "../status/status.ts";
import { awaitIndex, ignored, type TenancyContext } from "./filter.ts";
import type { Route, RouteRequest } from "./route.ts";
import { asGateway, readBody, relay, withQuery } from "./upstream-call.ts";

const APPLY_PATCH = "application/apply-patch+yaml";

interface NamespaceBody extends KubeObject {
  metadata: KubeObject["metadata"] & Record<string, unknown>;
}

function contentType(r: RouteRequest): string {
  const v = r.req.headers["content-type"];
  return (Array.isArray(v) ? v[0] : v) ?? "application/json";
}

function isNamespacesRequest(r: RouteRequest): boolean {
  const { info } = r;
  return (
    info.isResourceRequest && info.apiGroup === "" && info.resource === "namespaces" && !info.subresource
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

function ownedBy(t: TenancyContext, user: UserInfo): string[] {
  return ignored(t, user) ? [] : t.index.ownedTenants(user);
}

/** POST /api/v1/namespaces by a tenant owner. */
async function create(r: RouteRequest, owned: string[]): Promise<number> {
  const { tenancy: t, upstream, req } = r;
  const body = await readBody(req);
  const url = req.url ?? "/";
  // The apiserver decodes whatever the client sent (protobuf, YAML, JSON) and validates it.
  const dry = await asGateway(upstream, "POST", withQuery("/api/v1/namespaces", url, { dryRun: "All" }), {
    contentType: contentType(r),
    data: body,
  });
  if (dry.code !== 200 && dry.code !== 201) return relay(r.res, dry);
  const ns = JSON.parse(dry.text) as NamespaceBody;
  const label = t.index.options.tenantLabel;
  const tenant = chooseTenant(owned, ns.metadata.labels?.[label], label, r.user.name);
  const made = await asGateway(upstream, "POST", withQuery("/api/v1/namespaces", url), {
    contentType: "application/json",
    data: JSON.stringify(labelled(ns, label, tenant)),
  });
  return relay(r.res, made);
}

/** Server-side apply of a namespace that does not exist yet; undefined when it exists. */
async function apply(r: RouteRequest, owned: string[]): Promise<number | undefined> {
  const { tenancy: t, upstream, req, info } = r;
  const path = `/api/v1/namespaces/${encodeURIComponent(info.name)}`;
  const current = await asGateway(upstream, "GET", path);
  // An existing namespace is changed as any other object is: the filter or the user's RBAC decides.
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
  const label = t.index.options.tenantLabel;
  const tenant = chooseTenant(owned, ns.metadata.labels?.[label], label, r.user.name);
  const made = await asGateway(upstream, "PATCH", withQuery(path, req.url ?? "/"), {
    contentType: APPLY_PATCH,
    data: JSON.stringify(labelled(ns, label, tenant)),
  });
  return relay(r.res, made);
}

/** The pipeline step: creation of a namespace by a tenant owner, in the owner's tenant. */
export const namespaceCreation: Route = async (r) => {
  if (!isNamespacesRequest(r)) return undefined;
  const creating = r.info.verb === "create" && r.info.name === "";
  const applying =
    r.info.verb === "patch" && r.info.name !== "" && contentType(r).split(";")[0]?.trim() === APPLY_PATCH;
  if (!creating && !applying) return undefined;
  await awaitIndex(r.tenancy);
  const owned = ownedBy(r.tenancy, r.user);
  if (owned.length === 0) return undefined;
  return creating ? create(r, owned) : apply(r, owned);
};
