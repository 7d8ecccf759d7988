import { getAPIService } from "./apiservice.ts";
import { APISERVICE, serviceHost } from "./names.ts";
import { checkEndpoint, decodeCaBundle } from "./service-endpoint.ts";
import { type Check, type Finding, skipped } from "./types.ts";

export const apiserverCertCheck: Check = {
  id: "apiserver-cert",
  title: "aggregated server's serving certificate",
  async run(ctx): Promise<Finding[]> {
    const apiservice = await getAPIService(ctx.upstream);
    if (!apiservice) return [skipped(`no APIService ${APISERVICE} to take the Service and caBundle from`)];
    const svc = apiservice.spec?.service;
    if (!svc) return [skipped(`APIService ${APISERVICE} is served by kube-apiserver itself (no service)`)];
    return checkEndpoint(ctx, {
      what: "the aggregated server's serving certificate",
      target: { service: svc },
      ...(ctx.apiserverAddress ? { override: ctx.apiserverAddress } : {}),
      overrideFlag: "--apiserver-address",
      caBundlePem: decodeCaBundle(apiservice.spec?.caBundle),
      caBundleSource: `APIService ${APISERVICE}`,
      reissue: `issue one for ${serviceHost(svc.name, svc.namespace)}: kubegate certs server --cn ${serviceHost(svc.name, svc.namespace)} --service ${svc.name}.${svc.namespace} ... (or kubegate manifests)`,
    });
  },
};
