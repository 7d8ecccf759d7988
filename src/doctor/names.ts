/** The names the deploy manifests give kubegate's objects; doctor looks for exactly these. */
export const DEFAULT_NAMESPACE = "kubegate-system";
export const APISERVICE = "v1.custom.api.local";
export const APISERVER_SERVICE = "custom-api";
export const WEBHOOK_SERVICE = "kubegate-webhook";
export const WEBHOOK_CONFIGURATION = "kubegate-pod-apiserver-env";
export const GATEWAY_SERVICE_ACCOUNT = "kubegate-gateway";
export const APISERVER_SERVICE_ACCOUNT = "kubegate-apiserver";

export const serviceAccountUser = (namespace: string, name: string) =>
  `system:serviceaccount:${namespace}:${name}`;

/** The DNS name kube-apiserver verifies a Service's serving certificate against. */
export const serviceHost = (name: string, namespace: string) => `${name}.${namespace}.svc`;
