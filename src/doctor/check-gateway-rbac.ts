import { checkPermissions, type Identity, type Permission, resolveIdentity } from "./access.ts";
import { GATEWAY_SERVICE_ACCOUNT } from "./names.ts";
import type { Check, Finding } from "./types.ts";

const bind = (i: Identity) =>
  `bind the ClusterRole kubegate-gateway (deploy/base/gateway-rbac.yaml): kubectl create clusterrolebinding kubegate-gateway --clusterrole=kubegate-gateway ${i.subjectFlag}`;

const impersonate = (resource: string, header: string, group = "", subresource?: string): Permission => ({
  label: `impersonate ${resource}`,
  attributes: { verb: "impersonate", group, resource, ...(subresource ? { subresource } : {}) },
  consequence: `kube-apiserver refuses every request the gateway forwards with ${header}`,
  fix: bind,
});

// userextras are authorized per key (userextras/<key>): any key stands for "every key" here, since the
// gateway forwards whatever extras the user's authentication produced.
const PERMISSIONS: Permission[] = [
  impersonate("users", "Impersonate-User"),
  impersonate("groups", "Impersonate-Group"),
  impersonate("uids", "Impersonate-Uid", "authentication.k8s.io"),
  impersonate("userextras", "Impersonate-Extra-*", "authentication.k8s.io", "scopes"),
  {
    label: "create tokenreviews",
    attributes: { verb: "create", group: "authentication.k8s.io", resource: "tokenreviews" },
    consequence: "bearer tokens presented to the gateway cannot be checked",
    fix: bind,
  },
  {
    label: "create subjectaccessreviews",
    attributes: { verb: "create", group: "authorization.k8s.io", resource: "subjectaccessreviews" },
    consequence: "the gateway cannot ask what a user may do (tenancy filtering)",
    fix: bind,
  },
];

export const gatewayRbacCheck: Check = {
  id: "gateway-rbac",
  title: "gateway identity may impersonate and review",
  async run(ctx): Promise<Finding[]> {
    const identity = await resolveIdentity(ctx, ctx.gatewayUser, GATEWAY_SERVICE_ACCOUNT, "--gateway-user");
    if ("outcome" in identity) return [identity];
    return checkPermissions(ctx, identity, PERMISSIONS);
  },
};
