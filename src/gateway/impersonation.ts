import type { UserInfo } from "../authn/user.ts";
import type { ResourceAttributes, Reviews } from "../kube/reviews.ts";
import { badRequest, forbidden } from "../status/status.ts";
import type { ImpersonationRequest } from "./headers.ts";

const SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * The service account a user name denotes, as kube's serviceaccount.SplitUsername reads it: exactly
 * "system:serviceaccount:NS:NAME" with a valid namespace and name. Anything else is a plain user name,
 * for which the apiserver checks `impersonate users`, so the gateway must check the same.
 */
export function serviceAccountOf(user: string): { namespace: string; name: string } | undefined {
  if (!user.startsWith(SERVICE_ACCOUNT_PREFIX)) return undefined;
  const parts = user.slice(SERVICE_ACCOUNT_PREFIX.length).split(":");
  if (parts.length !== 2) return undefined;
  const [namespace, name] = parts as [string, string];
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) return undefined;
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) return undefined;
  return { namespace, name };
}

/** The checks kube-apiserver's own impersonation filter makes, one SubjectAccessReview each. */
function checksFor(req: ImpersonationRequest & { user: string }): ResourceAttributes[] {
  const checks: ResourceAttributes[] = [];
  const sa = serviceAccountOf(req.user);
  if (sa) {
    checks.push({ verb: "impersonate", group: "", resource: "serviceaccounts", ...sa });
  } else {
    checks.push({ verb: "impersonate", group: "", resource: "users", name: req.user });
  }
  for (const group of req.groups)
    checks.push({ verb: "impersonate", group: "", resource: "groups", name: group });
  if (req.uid !== undefined) {
    checks.push({ verb: "impersonate", group: "authentication.k8s.io", resource: "uids", name: req.uid });
  }
  for (const [key, values] of Object.entries(req.extra)) {
    for (const value of values) {
      checks.push({
        verb: "impersonate",
        group: "authentication.k8s.io",
        resource: "userextras",
        subresource: key,
        name: value,
      });
    }
  }
  return checks;
}

function describe(a: ResourceAttributes): string {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : "at the cluster scope";
  return `cannot impersonate resource "${resource}" in API group "${a.group ?? ""}" ${scope}`;
}

/**
 * `kubectl --as`: the authenticated requester asks to act as someone else. Allowed only when RBAC lets
 * the requester impersonate every part of the target identity; the result replaces the requester's
 * identity entirely (headers are never merged).
 */
export async function authorizeImpersonation(
  reviews: Reviews,
  requester: UserInfo,
  req: ImpersonationRequest,
): Promise<UserInfo> {
  if (req.user === undefined || req.user === "") {
    throw badRequest("requested impersonation of groups, uid or extra without impersonating a user");
  }
  const target = { ...req, user: req.user };
  const checks = checksFor(target);
  const decisions = await Promise.all(
    checks.map((resource) => reviews.subjectAccessReview(requester, { resource })),
  );
  const denied = decisions.findIndex((d) => !d.allowed);
  if (denied !== -1) {
    const check = checks[denied] as ResourceAttributes;
    throw forbidden(
      `${check.name ? `${check.resource} "${check.name}"` : check.resource} is forbidden: User "${requester.name}" ${describe(check)}`,
    );
  }
  const user: UserInfo = { name: target.user, groups: target.groups, extra: target.extra };
  if (target.uid !== undefined) user.uid = target.uid;
  return user;
}
