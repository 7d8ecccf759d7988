import { AUTH_CONFIGMAP } from "../aggregated/auth-config.ts";
import { checkPermissions, type Identity, type Permission, resolveIdentity } from "./access.ts";
import { APISERVER_SERVICE_ACCOUNT } from "./names.ts";
import type { Check, Finding } from "./types.ts";

const reader = (i: Identity) =>
  `kubectl -n kube-system create rolebinding kubegate-apiserver:extension-apiserver-authentication-reader --role=extension-apiserver-authentication-reader ${i.subjectFlag}`;
const delegator = (i: Identity) =>
  `kubectl create clusterrolebinding kubegate-apiserver:system:auth-delegator --clusterrole=system:auth-delegator ${i.subjectFlag}`;

const readConfigMap = (verb: string): Permission => ({
  label: `${verb} configmap ${AUTH_CONFIGMAP.namespace}/${AUTH_CONFIGMAP.name}`,
  attributes: {
    verb,
    group: "",
    resource: "configmaps",
    namespace: AUTH_CONFIGMAP.namespace,
    name: AUTH_CONFIGMAP.name,
  },
  consequence:
    "it cannot learn which CA signs kube-apiserver's front-proxy certificate, so it cannot authenticate any aggregated request",
  fix: reader,
});

// The server watches the ConfigMap (list + watch by name), so all three verbs matter.
const PERMISSIONS: Permission[] = [
  readConfigMap("get"),
  readConfigMap("list"),
  readConfigMap("watch"),
  {
    label: "create tokenreviews",
    attributes: { verb: "create", group: "authentication.k8s.io", resource: "tokenreviews" },
    consequence: "callers with bearer tokens cannot be authenticated (system:auth-delegator)",
    fix: delegator,
  },
  {
    label: "create subjectaccessreviews",
    attributes: { verb: "create", group: "authorization.k8s.io", resource: "subjectaccessreviews" },
    consequence: "it cannot authorize any request, so every one is refused (system:auth-delegator)",
    fix: delegator,
  },
];

export const apiserverRbacCheck: Check = {
  id: "apiserver-rbac",
  title: "aggregated server identity may read the authentication config and review",
  async run(ctx): Promise<Finding[]> {
    const identity = await resolveIdentity(
      ctx,
      ctx.apiserverUser,
      APISERVER_SERVICE_ACCOUNT,
      "--apiserver-user",
    );
    if ("outcome" in identity) return [identity];
    return checkPermissions(ctx, identity, PERMISSIONS);
  },
};
