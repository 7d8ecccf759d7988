import type { UserInfo } from "../authn/user.ts";
import type { Table } from "../kube/table.ts";
import { GROUP_VERSION } from "./discovery.ts";

/** The caller exactly as the aggregation layer presented it (kind WhoAmI, like a SelfSubjectReview). */
export function whoAmI(user: UserInfo) {
  return {
    kind: "WhoAmI",
    apiVersion: GROUP_VERSION,
    metadata: { name: user.name },
    status: {
      userInfo: {
        username: user.name,
        ...(user.uid ? { uid: user.uid } : {}),
        groups: user.groups,
        ...(Object.keys(user.extra).length ? { extra: user.extra } : {}),
      },
    },
  };
}

/**
 * The seed's debugging answer, kept for scripts written against it: a NamespaceList whose items name
 * the user and each group (`?view=namespacelist`).
 */
export function whoAmINamespaceList(user: UserInfo) {
  const item = (name: string, role: "user" | "group") => ({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { "custom.api.local/identity": role } },
  });
  return {
    kind: "NamespaceList",
    apiVersion: "v1",
    metadata: {},
    items: [item(user.name, "user"), ...user.groups.map((g) => item(g, "group"))],
  };
}

export function whoAmITable(user: UserInfo): Table {
  const w = whoAmI(user);
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: {},
    columnDefinitions: [
      { name: "Username", type: "string", format: "name", description: "The user name", priority: 0 },
      { name: "UID", type: "string", format: "", description: "The user's UID", priority: 0 },
      { name: "Groups", type: "string", format: "", description: "The user's groups", priority: 0 },
      { name: "Extra", type: "string", format: "", description: "Extra attributes", priority: 1 },
    ],
    rows: [
      {
        cells: [
          user.name,
          user.uid ?? "",
          `[${user.groups.join(" ")}]`,
          Object.entries(user.extra)
            .map(([k, v]) => `${k}=[${v.join(" ")}]`)
            .join(" "),
        ],
        object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: w.metadata },
      },
    ],
  };
}
