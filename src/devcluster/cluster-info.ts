// What `up` writes to DIR/cluster.json: everything a test or a person needs to reach the cluster.
export interface ClusterInfo {
  dir: string;
  server: string;
  versions: { kubernetes: string; etcd: string };
  ports: { apiserver: number; etcd: number; etcdPeer: number };
  pids: { etcd: number; apiserver: number };
  adminKubeconfig: string;
  /** Cluster CA: signs the apiserver's serving certificate and every client certificate it accepts. */
  ca: { cert: string; key: string };
  /** Front-proxy (request-header) CA and the aggregator's client certificate (CN front-proxy-client). */
  frontProxyCa: { cert: string; key: string };
  frontProxyClient: { cert: string; key: string };
  serving: { cert: string; key: string };
  admin: { cert: string; key: string };
  /** How kube-apiserver authenticates to kubelets (exec, attach, port-forward, logs). */
  kubeletClient: { cert: string; key: string };
  serviceAccount: { key: string; pub: string; issuer: string };
  logs: { etcd: string; apiserver: string };
  /** The node, when the cluster has one (its details: DIR/node.json). */
  node?: { name: string; ip: string };
  /** The node's address was taken for this cluster (released by down). */
  nodeAddress?: boolean;
}
