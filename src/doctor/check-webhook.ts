import { serviceExists } from "./apiservice.ts";
import { describeError, getObject } from "./kube-api.ts";
import { serviceHost, WEBHOOK_CONFIGURATION, WEBHOOK_SERVICE } from "./names.ts";
import { checkEndpoint, decodeCaBundle, type Target } from "./service-endpoint.ts";
import { type Check, type DoctorContext, type Finding, ok, problem, skipped, warning } from "./types.ts";

interface WebhookEntry {
  name: string;
  clientConfig?: {
    service?: { name: string; namespace: string; port?: number; path?: string };
    url?: string;
    caBundle?: string;
  };
}
interface WebhookConfiguration {
  webhooks?: WebhookEntry[];
}

const ENV = "KUBERNETES_SERVICE_HOST";
const OPT_OUT = "kubegate.dev/inject-apiserver-env";

async function entryFindings(ctx: DoctorContext, w: WebhookEntry): Promise<Finding[]> {
  const cc = w.clientConfig ?? {};
  const target: Target | undefined = cc.service
    ? { service: cc.service }
    : cc.url
      ? { url: cc.url }
      : undefined;
  if (!target)
    return [problem(`webhook ${w.name} has neither a service nor a url`, "set clientConfig.service")];
  const caBundlePem = decodeCaBundle(cc.caBundle);
  const source = `webhook ${w.name} in MutatingWebhookConfiguration ${WEBHOOK_CONFIGURATION}`;
  if (caBundlePem.trim() === "") {
    return [
      problem(
        `${source} has an empty caBundle, so kube-apiserver trusts no certificate the webhook serves`,
        "set clientConfig.caBundle to the base64 PEM of the CA that signed the webhook's certificate (kubegate manifests does this)",
      ),
    ];
  }
  const host = cc.service
    ? serviceHost(cc.service.name, cc.service.namespace)
    : new URL(cc.url ?? "").hostname;
  return checkEndpoint(ctx, {
    what: "the webhook's serving certificate",
    target,
    ...(ctx.webhookAddress ? { override: ctx.webhookAddress } : {}),
    overrideFlag: "--webhook-address",
    caBundlePem,
    caBundleSource: source,
    reissue: `issue one for ${host}: kubegate certs server --cn ${host}${cc.service ? ` --service ${cc.service.name}.${cc.service.namespace}` : ""} ... (or kubegate manifests)`,
  });
}

interface PodObject {
  spec?: { containers?: { env?: { name: string; value?: string }[] }[] };
  message?: string;
  reason?: string;
}

/** A server-side dry-run pod create runs the whole admission chain, webhooks included, and stores nothing. */
async function dryRunFindings(ctx: DoctorContext, namespace: string): Promise<Finding[]> {
  const ns = await getObject<{ metadata?: { labels?: Record<string, string> } }>(
    ctx.upstream,
    `/api/v1/namespaces/${encodeURIComponent(namespace)}`,
  );
  if (!ns)
    return [problem(`dry-run namespace ${namespace} does not exist`, "give an existing --dry-run-namespace")];
  if (ns.metadata?.labels?.[OPT_OUT] === "disable") {
    return [
      skipped(
        `namespace ${namespace} opts out of the webhook (${OPT_OUT}=disable), so a dry-run pod there proves nothing`,
        "give another --dry-run-namespace",
      ),
    ];
  }
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "kubegate-doctor-probe", namespace },
    spec: {
      automountServiceAccountToken: false,
      containers: [{ name: "probe", image: "kubegate-doctor-probe:never-pulled" }],
    },
  };
  const res = await ctx.upstream.json<PodObject>(
    "POST",
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods?dryRun=All`,
    pod,
  );
  if (res.code !== 201 && res.code !== 200) {
    return [
      warning(
        `the dry-run pod in ${namespace} was refused (HTTP ${res.code}: ${res.body.message ?? res.body.reason ?? ""}), so the mutation was not seen`,
        `use a namespace where pods can be created (it needs its "default" ServiceAccount)`,
      ),
    ];
  }
  const value = res.body.spec?.containers?.[0]?.env?.find((e) => e.name === ENV)?.value;
  if (value === undefined) {
    return [
      problem(
        `a dry-run pod in ${namespace} came back without ${ENV}: kube-apiserver did not apply the webhook's patch`,
        'failurePolicy Ignore hides the reason: look for "failed calling webhook" in kube-apiserver\'s log',
      ),
    ];
  }
  return [ok(`a dry-run pod in ${namespace} gets ${ENV}=${value}`)];
}

export const webhookCheck: Check = {
  id: "webhook",
  title: "pod webhook is registered and reachable",
  async run(ctx): Promise<Finding[]> {
    const config = await getObject<WebhookConfiguration>(
      ctx.upstream,
      `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${WEBHOOK_CONFIGURATION}`,
    );
    if (!config) {
      if (await serviceExists(ctx.upstream, ctx.namespace, WEBHOOK_SERVICE)) {
        return [
          problem(
            `MutatingWebhookConfiguration ${WEBHOOK_CONFIGURATION} does not exist, though Service ${ctx.namespace}/${WEBHOOK_SERVICE} does`,
            "apply it from the deploy manifests (kubegate manifests renders it with its caBundle)",
          ),
        ];
      }
      return [
        skipped(
          `the pod webhook is not deployed: no MutatingWebhookConfiguration ${WEBHOOK_CONFIGURATION} and no Service ${ctx.namespace}/${WEBHOOK_SERVICE}`,
        ),
      ];
    }
    const webhooks = config.webhooks ?? [];
    if (webhooks.length === 0) {
      return [problem(`MutatingWebhookConfiguration ${WEBHOOK_CONFIGURATION} lists no webhooks`)];
    }
    const findings: Finding[] = [ok(`MutatingWebhookConfiguration ${WEBHOOK_CONFIGURATION} exists`)];
    for (const w of webhooks) {
      try {
        findings.push(...(await entryFindings(ctx, w)));
      } catch (err) {
        findings.push(problem(`webhook ${w.name}: ${describeError(err)}`));
      }
    }
    if (ctx.dryRunNamespace) findings.push(...(await dryRunFindings(ctx, ctx.dryRunNamespace)));
    return findings;
  },
};
