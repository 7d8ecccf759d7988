import type { Operation } from "rfc6902";

export const ENV_NAME = "KUBERNETES_SERVICE_HOST";
/** A Pod carrying this label (or in a Namespace carrying it) with value "disable" is left alone. */
export const OPT_OUT_LABEL = "kubegate.dev/inject-apiserver-env";

interface Container {
  name?: string;
  env?: { name?: string }[] | null;
}

export interface Pod {
  metadata?: { labels?: Record<string, string> | null } | null;
  spec?: {
    containers?: Container[] | null;
    initContainers?: Container[] | null;
    ephemeralContainers?: Container[] | null;
  } | null;
}

export const ALL_LISTS = ["initContainers", "containers", "ephemeralContainers"] as const;
export type ContainerList = (typeof ALL_LISTS)[number];

export function optedOut(labels: Record<string, string> | null | undefined): boolean {
  return labels?.[OPT_OUT_LABEL] === "disable";
}

/**
 * The JSON Patch that gives every container (init, regular and ephemeral) a KUBERNETES_SERVICE_HOST
 * pointing at the apiserver's FQDN, unless it already sets one, whatever its value. Containers without
 * env get the array created; the others get an append. No change, no operations.
 */
export function podPatch(pod: Pod, fqdn: string, lists: readonly ContainerList[] = ALL_LISTS): Operation[] {
  if (optedOut(pod.metadata?.labels)) return [];
  const ops: Operation[] = [];
  const variable = { name: ENV_NAME, value: fqdn };
  for (const list of lists) {
    const containers = pod.spec?.[list];
    if (!Array.isArray(containers)) continue;
    containers.forEach((c, i) => {
      const env = c?.env;
      if (Array.isArray(env)) {
        if (env.some((e) => e?.name === ENV_NAME)) return;
        ops.push({ op: "add", path: `/spec/${list}/${i}/env/-`, value: variable });
      } else {
        ops.push({ op: "add", path: `/spec/${list}/${i}/env`, value: [variable] });
      }
    });
  }
  return ops;
}
