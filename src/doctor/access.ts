import type { UserInfo } from "../authn/user.ts";
import type { ResourceAttributes } from "../kube/reviews.ts";
import { getObject } from "./kube-api.ts";
import { serviceAccountUser } from "./names.ts";
import { type DoctorContext, type Finding, ok, problem, skipped } from "./types.ts";

export interface Identity {
  user: UserInfo;
  /** For kubectl create (cluster)rolebinding: --serviceaccount=ns:name or --user=name. */
  subjectFlag: string;
}

/**
 * The identity whose RBAC is checked: the one the operator named, or the deployment's service account
 * (with the groups kube-apiserver gives every service account, since bindings may name those).
 */
export async function resolveIdentity(
  ctx: DoctorContext,
  override: string | undefined,
  serviceAccount: string,
  flag: string,
): Promise<Identity | Finding> {
  if (override) {
    const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(override);
    if (sa) return serviceAccountIdentity(sa[1] as string, sa[2] as string);
    return {
      user: { name: override, groups: ["system:authenticated"], extra: {} },
      subjectFlag: `--user=${override}`,
    };
  }
  const found = await getObject(
    ctx.upstream,
    `/api/v1/namespaces/${encodeURIComponent(ctx.namespace)}/serviceaccounts/${serviceAccount}`,
  );
  if (!found) {
    return skipped(
      `no ServiceAccount ${ctx.namespace}/${serviceAccount}: not deployed in this namespace`,
      `for an identity that is not this service account, give ${flag} NAME`,
    );
  }
  return serviceAccountIdentity(ctx.namespace, serviceAccount);
}

function serviceAccountIdentity(namespace: string, name: string): Identity {
  return {
    user: {
      name: serviceAccountUser(namespace, name),
      groups: ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"],
      extra: {},
    },
    subjectFlag: `--serviceaccount=${namespace}:${name}`,
  };
}

export interface Permission {
  /** "impersonate users" */
  label: string;
  attributes: ResourceAttributes;
  /** What breaks without it, so the operator knows why it matters. */
  consequence: string;
  fix: (identity: Identity) => string;
}

/** One SubjectAccessReview per permission; the allowed ones are summed up in one line. */
export async function checkPermissions(
  ctx: DoctorContext,
  identity: Identity,
  permissions: readonly Permission[],
): Promise<Finding[]> {
  const decisions = await Promise.all(
    permissions.map((p) => ctx.reviews.subjectAccessReview(identity.user, { resource: p.attributes })),
  );
  const findings: Finding[] = [];
  const allowed: string[] = [];
  permissions.forEach((p, i) => {
    const d = decisions[i];
    if (d?.allowed) {
      allowed.push(p.label);
      return;
    }
    findings.push(
      problem(
        `"${identity.user.name}" may not ${p.label}${d?.reason ? ` (${d.reason})` : ""}: ${p.consequence}`,
        p.fix(identity),
      ),
    );
  });
  if (allowed.length > 0) findings.unshift(ok(`"${identity.user.name}" may ${allowed.join(", ")}`));
  return findings;
}
