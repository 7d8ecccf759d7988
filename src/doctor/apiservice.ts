import type { Upstream } from "../kube/upstream.ts";
import { getObject } from "./kube-api.ts";
import { APISERVICE } from "./names.ts";

export interface APIServiceObject {
  spec?: {
    service?: { name: string; namespace: string; port?: number };
    caBundle?: string;
    insecureSkipTLSVerify?: boolean;
  };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

export const getAPIService = (upstream: Upstream) =>
  getObject<APIServiceObject>(upstream, `/apis/apiregistration.k8s.io/v1/apiservices/${APISERVICE}`);

export const serviceExists = async (upstream: Upstream, namespace: string, name: string) =>
  (await getObject(
    upstream,
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(name)}`,
  )) !== undefined;
