/** The demo's people: each gets a client certificate from the users CA and a kubeconfig for the gateway. */
export interface DemoUser {
  name: string;
  groups: string[];
  /** What they should try first; printed by `dev up`. */
  tryThis: string[];
  role: string;
}

export const ADMIN_GROUP = "platform-admins";

export const DEMO_USERS: readonly DemoUser[] = [
  {
    name: "alice",
    groups: ["team-a"],
    role: "owner of tenant team-a (its namespaces, the ssd storage class, the team-a node)",
    tryThis: ["get namespaces", "get storageclasses", "get nodes", "create namespace team-a-staging"],
  },
  {
    name: "bob",
    groups: ["contractors"],
    role: "edits team-a-dev; a ProxySetting there lets him list team-a's storage classes",
    tryThis: ["get namespaces", "get storageclasses", "auth can-i list storageclasses"],
  },
  {
    name: "carol",
    groups: [ADMIN_GROUP],
    role: "platform admin: an ignored group, so the gateway passes her requests through unfiltered",
    tryThis: ["get namespaces", "get nodes"],
  },
];

/**
 * Tenants, namespaces, bindings and cluster-scoped objects that make the filtering visible: alice and
 * bob each see a different slice of the same cluster; carol sees all of it.
 */
export const DEMO_OBJECTS = `
apiVersion: v1
kind: Namespace
metadata: { name: team-a-dev, labels: { kubegate.dev/tenant: team-a } }
---
apiVersion: v1
kind: Namespace
metadata: { name: team-a-prod, labels: { kubegate.dev/tenant: team-a } }
---
apiVersion: v1
kind: Namespace
metadata: { name: team-b-dev, labels: { kubegate.dev/tenant: team-b } }
---
apiVersion: v1
kind: Namespace
metadata: { name: platform-tools }
---
# Pods need their namespace's default service account, which the controller manager would make.
apiVersion: v1
kind: ServiceAccount
metadata: { name: default, namespace: team-a-dev }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: default, namespace: team-a-prod }
---
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: team-a }
spec:
  owners:
    - kind: User
      name: alice
      proxySettings:
        - { kind: Nodes, operations: [List] }
        - { kind: StorageClasses, operations: [List, Update] }
  nodeSelector: { pool: team-a }
  storageClasses: { allowedRegex: "team-a-.+" }
---
apiVersion: tenancy.kubegate.dev/v1beta1
kind: Tenant
metadata: { name: team-b }
spec:
  owners:
    - kind: Group
      name: team-b
      proxySettings: [{ kind: StorageClasses }]
  storageClasses: { allowed: [team-b-hdd] }
---
apiVersion: tenancy.kubegate.dev/v1beta1
kind: ProxySetting
metadata: { name: bob-storage, namespace: team-a-dev }
spec:
  subjects: [{ kind: User, name: bob }]
  proxySettings: [{ kind: StorageClasses, operations: [List] }]
---
# The built-in admin/edit roles get their rules from the controller manager's aggregation, which the
# dev cluster does not run: the demo brings its own.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: kubegate-demo-namespace-admin }
rules:
  - { apiGroups: ["*"], resources: ["*"], verbs: ["*"] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: kubegate-demo-namespace-editor }
rules:
  - apiGroups: ["", apps, batch]
    resources: [pods, pods/log, services, configmaps, deployments, replicasets, jobs, cronjobs]
    verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: alice-admin, namespace: team-a-dev }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kubegate-demo-namespace-admin }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: alice }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: alice-admin, namespace: team-a-prod }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kubegate-demo-namespace-admin }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: alice }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: bob-edit, namespace: team-a-dev }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kubegate-demo-namespace-editor }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: bob }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: kubegate-demo-platform-admins }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: Group, name: ${ADMIN_GROUP} }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: kubegate-demo-custom-api-readers }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: custom-api-local-reader }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:authenticated" }]
---
apiVersion: v1
kind: Node
metadata: { name: node-team-a, labels: { pool: team-a } }
---
apiVersion: v1
kind: Node
metadata: { name: node-team-b, labels: { pool: team-b } }
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: { name: team-a-ssd }
provisioner: example.com/ssd
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: { name: team-b-hdd }
provisioner: example.com/hdd
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: { name: standard }
provisioner: example.com/standard
`;
