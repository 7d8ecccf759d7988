// All-namespaces lists and watches of namespaced kinds (`kubectl get pods -A`, k9s's default view) for a
// tenant whose RBAC stops at namespaces: answered from the namespaces the tenancy index says the user
// may see, each read with the user's own impersonated identity, so that RBAC decides per namespace and
// the gateway's rights never show anything. A user RBAC lets list the kind cluster-wide gets the
// apiserver's answer as it is; a kind no visible namespace lets the user list gets the apiserver's 403.
import type { RequestInfo } from "../../kube/request-info.ts";
import { filteredKind } from "../../resources/kinds.ts";
import type { TenantRequest } from "../types.ts";

export interface AllNamespacesTarget {
  group: string;
  version: string;
  resource: string;
  verb: "list" | "watch";
}

/** A list or watch of a resource at the cluster scope that is not one of the filtered cluster kinds. */
export function allNamespacesTarget(
  info: RequestInfo,
  verb: "list" | "watch",
): AllNamespacesTarget | undefined {
  if (!info.isResourceRequest || info.verb !== verb || info.namespace !== "" || info.subresource !== "")
    return undefined;
  // Only the collection itself: `/api/v1/pods`, never `/api/v1/pods/x` (the apiserver's 404 for that).
  if (info.parts.length !== 1 || filteredKind(info.apiGroup, info.resource)) return undefined;
  return { group: info.apiGroup, version: info.apiVersion, resource: info.resource, verb };
}

/** The path of the resource in one namespace. */
export function namespacedPath(t: AllNamespacesTarget, namespace: string): string {
  const prefix = t.group === "" ? `/api/${t.version}` : `/apis/${t.group}/${t.version}`;
  return `${prefix}/namespaces/${namespace}/${t.resource}`;
}

/**
 * The namespaces a merged view of the kind reads, or undefined when there is none to make: the resource
 * is cluster-scoped, unknown or lacks the verb, or the user sees no namespace.
 */
export async function mergedViewNamespaces(
  ctx: Pick<TenantRequest, "tenancy" | "user">,
  t: AllNamespacesTarget,
): Promise<readonly string[] | undefined> {
  const found = await ctx.tenancy.discovery.resource(t.group, t.version, t.resource);
  if (!found?.namespaced || !found.verbs.includes(t.verb)) return undefined;
  const namespaces = ctx.tenancy.index.visibleNamespaces(ctx.user);
  return namespaces.length === 0 ? undefined : namespaces;
}

/**
 * The namespaces to answer from, or undefined when the request is not this route's business: the
 * resource is cluster-scoped or unknown (the apiserver answers), the user may list it cluster-wide (the
 * apiserver answers, unfiltered), or the user sees no namespace (the apiserver's 403).
 */
export async function fanOutNamespaces(
  ctx: TenantRequest,
  t: AllNamespacesTarget,
): Promise<readonly string[] | undefined> {
  const { tenancy, user } = ctx;
  const namespaces = await mergedViewNamespaces(ctx, t);
  if (!namespaces) return undefined;
  const cluster = await tenancy.reviews.subjectAccessReview(user, {
    resource: { verb: t.verb, group: t.group, resource: t.resource },
  });
  return cluster.allowed ? undefined : namespaces;
}
