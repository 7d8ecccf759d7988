// Tenant filtering of cluster-scoped kinds (namespaces, nodes, classes, persistent volumes): the
// gateway reads them with its own identity and lets through only what the tenancy index says the
// user may see, in lists, Tables, watches and gets. Anything it would not show is left to the
// user's own RBAC (an impersonated passthrough), so filtering can only add visibility RBAC lacks for
// lists, never reveal an object RBAC would refuse and the index does not grant.
// This file holds what the list, get, watch and write routes of those kinds share.
import type { KubeObject } from "../../kube/informer.ts";
import { isClusterScopedTarget, type RequestInfo } from "../../kube/request-info.ts";
import { type FilteredKind, filteredKind, UNCONFIGURABLE_GROUPS } from "../../resources/kinds.ts";
import { StatusError, status } from "../../status/status.ts";
import type { RequestContext, Route, TenantRequest } from "../types.ts";
import { isObject } from "./filter-body.ts";
import { noSuchPath, parseJson, rawPath, tenancyRoute } from "./tenancy.ts";

/**
 * What a filtered route's match found: a kind of the table, or a cluster-scoped path of an API group
 * that some Tenant's clusterResources may name (resolveKind decides, with the index and discovery).
 */
export type KindRef = { kind: FilteredKind } | { group: string; version: string; resource: string };

/**
 * The filtered kind a request may be about, when its verb is one of `verbs` on the kind itself (and it
 * names an object, or not, as `named` says).
 */
export function filteredTarget(
  info: RequestInfo,
  verbs: readonly string[],
  named?: boolean,
): KindRef | undefined {
  if (!info.isResourceRequest || info.subresource !== "" || !verbs.includes(info.verb)) return undefined;
  if (named !== undefined && named !== (info.name !== "")) return undefined;
  if (!isClusterScopedTarget(info)) return undefined;
  const kind = filteredKind(info.apiGroup, info.resource);
  if (kind) return { kind };
  return UNCONFIGURABLE_GROUPS.has(info.apiGroup)
    ? undefined
    : { group: info.apiGroup, version: info.apiVersion, resource: info.resource };
}

/**
 * The kind of a matched request, or undefined when it is not one: no Tenant names it, or the cluster
 * does not serve it cluster-scoped with this verb (a namespaced kind's all-namespaces list, a made-up
 * path). Undefined hands the request to the next route, as if this one had not matched.
 */
export async function resolveKind(ctx: TenantRequest, ref: KindRef): Promise<FilteredKind | undefined> {
  if ("kind" in ref) return ref.kind;
  const kind = ctx.tenancy.index.configuredKind(ref.group, ref.resource);
  if (!kind) return undefined;
  const served = await ctx.tenancy.discovery.resource(ref.group, ref.version, ref.resource);
  if (!served || served.namespaced || !served.verbs.includes(ctx.info.verb)) return undefined;
  return { ...kind, version: ref.version };
}

/** A route of filtered kinds: matched on the path, then on the kind it resolves to. */
export function filteredRoute(r: {
  name: string;
  verbs: readonly string[];
  named?: boolean;
  handle(ctx: TenantRequest, kind: FilteredKind): Promise<number | undefined>;
}): Route<KindRef> {
  return tenancyRoute<KindRef>({
    name: r.name,
    match: (info) => filteredTarget(info, r.verbs, r.named),
    async handle(ctx, ref) {
      const kind = await resolveKind(ctx, ref);
      return kind ? r.handle(ctx, kind) : undefined;
    },
  });
}

/** A cluster-scoped kind under a namespace is no API path: the apiserver's own 404, for everyone. */
export const notAPath: Route<true> = {
  name: "filtered-kind-under-namespace",
  match: (info) =>
    info.isResourceRequest && filteredKind(info.apiGroup, info.resource) && !isClusterScopedTarget(info)
      ? true
      : undefined,
  handle: () => Promise.reject(noSuchPath()),
};

/** Names an object of a cluster-scoped kind can have (DNS-1123 subdomains, as every kind here uses). */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * The named object as stored, read by the gateway as plain JSON with none of the client's query or
 * Accept (a Table or a bad option must not stand in for the object): undefined when it does not
 * exist; a Status error when the read fails otherwise.
 */
export async function storedObject(ctx: RequestContext): Promise<KubeObject | undefined> {
  const { name } = ctx.info;
  if (name.length > 253 || !OBJECT_NAME.test(name)) return undefined;
  const up = await ctx.upstream.whole("gateway", { method: "GET", path: rawPath(ctx.req) });
  if (up.code === 404) return undefined;
  if (up.code !== 200)
    throw new StatusError(status(up.code >= 500 ? up.code : 503, "the object could not be read"));
  const o = parseJson(up.text);
  const m = isObject(o.metadata) ? o.metadata : undefined;
  return m && m.name === name ? (o as unknown as KubeObject) : undefined;
}
