/** The API kubegate's aggregated server serves, and the discovery documents that describe it. */
export const GROUP = "custom.api.local";
export const VERSION = "v1";
export const GROUP_VERSION = `${GROUP}/${VERSION}`;

export const RESOURCES = [
  {
    name: "whoami",
    singularName: "whoami",
    namespaced: false,
    kind: "WhoAmI",
    verbs: ["get", "list"],
  },
  {
    name: "mynamespace",
    singularName: "mynamespace",
    namespaced: false,
    kind: "Namespace",
    verbs: ["get", "list"],
  },
] as const;

export function apiResourceList() {
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: GROUP_VERSION, resources: RESOURCES };
}

const versionEntry = { groupVersion: GROUP_VERSION, version: VERSION };

export function apiGroup() {
  return {
    kind: "APIGroup",
    apiVersion: "v1",
    name: GROUP,
    versions: [versionEntry],
    preferredVersion: versionEntry,
  };
}

export function apiGroupList() {
  return { kind: "APIGroupList", apiVersion: "v1", groups: [apiGroup()] };
}

/** The aggregated form (apidiscovery.k8s.io/v2) the aggregator asks for first. */
export function apiGroupDiscoveryList() {
  return {
    kind: "APIGroupDiscoveryList",
    apiVersion: "apidiscovery.k8s.io/v2",
    metadata: {},
    items: [
      {
        metadata: { name: GROUP },
        versions: [
          {
            version: VERSION,
            freshness: "Current",
            resources: RESOURCES.map((r) => ({
              resource: r.name,
              responseKind: { group: r.kind === "Namespace" ? "" : GROUP, version: VERSION, kind: r.kind },
              scope: "Cluster",
              singularResource: r.singularName,
              verbs: r.verbs,
            })),
          },
        ],
      },
    ],
  };
}

export const AGGREGATED_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/** True when an Accept header asks for the aggregated discovery form first. */
export function wantsAggregatedDiscovery(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept
    .split(",")
    .map((part) => part.replace(/\s+/g, "").toLowerCase())
    .some(
      (part) =>
        part.includes("g=apidiscovery.k8s.io") &&
        part.includes("as=apigroupdiscoverylist") &&
        part.includes("v=v2"),
    );
}
