import { getAPIService, serviceExists } from "./apiservice.ts";
import { APISERVER_SERVICE, APISERVICE } from "./names.ts";
import { type Check, type Finding, ok, problem, skipped } from "./types.ts";

const DESCRIBE = `kubectl describe apiservice ${APISERVICE}`;

/** What usually causes each reason kube-apiserver's availability controller reports. */
function fixFor(reason: string, message: string, service: string): string {
  if (/x509|certificate/i.test(message)) {
    return "the serving certificate or caBundle is wrong: see the apiserver-cert check";
  }
  switch (reason) {
    case "ServiceNotFound":
      return `create the Service ${service} (kubectl apply -k deploy/base)`;
    case "MissingEndpoints":
    case "EndpointsNotFound":
      return `no ready pod behind ${service}: kubectl -n ${service.split("/")[0]} get pods -l app.kubernetes.io/name=kubegate-apiserver, then its logs`;
    case "ServicePortError":
      return "the APIService's port must be one of the Service's ports";
    case "FailedDiscoveryCheck":
      return `kube-apiserver reached no healthy server: is kubegate apiserver running and listening where ${service} points? (${DESCRIBE})`;
    default:
      return DESCRIBE;
  }
}

export const apiserviceCheck: Check = {
  id: "apiservice",
  title: `APIService ${APISERVICE} is Available`,
  async run(ctx): Promise<Finding[]> {
    const apiservice = await getAPIService(ctx.upstream);
    if (!apiservice) {
      if (await serviceExists(ctx.upstream, ctx.namespace, APISERVER_SERVICE)) {
        return [
          problem(
            `APIService ${APISERVICE} is not registered, though Service ${ctx.namespace}/${APISERVER_SERVICE} exists`,
            "apply the APIService from the deploy manifests (kubegate manifests renders it with its caBundle)",
          ),
        ];
      }
      return [
        skipped(
          `the aggregated API is not deployed: no APIService ${APISERVICE} and no Service ${ctx.namespace}/${APISERVER_SERVICE}`,
        ),
      ];
    }
    const findings: Finding[] = [];
    const svc = apiservice.spec?.service;
    const service = svc ? `${svc.namespace}/${svc.name}` : "(local)";
    if (apiservice.spec?.insecureSkipTLSVerify) {
      findings.push(
        problem(
          `APIService ${APISERVICE} has insecureSkipTLSVerify: true, so anyone who can answer for ${service} is trusted`,
          "remove insecureSkipTLSVerify and set caBundle to the serving certificate's CA",
        ),
      );
    }
    const available = apiservice.status?.conditions?.find((c) => c.type === "Available");
    if (!available) {
      findings.push(
        problem(
          `APIService ${APISERVICE} has no Available condition yet`,
          `wait a few seconds; if it stays so, ${DESCRIBE}`,
        ),
      );
    } else if (available.status === "True") {
      findings.push(ok(`APIService ${APISERVICE} is Available (service ${service})`));
    } else {
      const reason = available.reason ?? "Unknown";
      const message = available.message ?? "";
      findings.push(
        problem(
          `APIService ${APISERVICE} is not Available: ${reason}${message ? `: ${message}` : ""}`,
          fixFor(reason, message, service),
        ),
      );
    }
    return findings;
  },
};
