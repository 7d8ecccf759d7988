import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
/**
 * The pinned Kubernetes release of the test cluster. kube-apiserver and etcd are built from these Go
 * modules (build/go.mod pins every dependency; go.sum checks them). Within one minor version of the
 * kubectl used by the tests.
 */
export const KUBERNETES_VERSION = "v1.33.13";
/** The etcd server that same kubernetes release requires (its go.mod). */
export const ETCD_VERSION = "v3.5.21";
/** A digest of the client-go program's source (build-tools/informers), its version for the cache. */
const INFORMERS_SOURCE = createHash("sha256")
  .update(readFileSync(new URL("./build-tools/informers/main.go", import.meta.url)))
  .digest("hex")
  .slice(0, 16);
/** The helm the e2e suite lints, renders and installs the chart with (build-tools/go.mod pins it). */
export const HELM_VERSION = "v4.3.2";
/**
 * The Dex release the OIDC e2e test signs in with (build-tools/dex/go.mod). Dex tags v2.x without a
 * /v2 module path, so Go only knows the release by the pseudo-version of its commit, which go.mod pins.
 */
export const DEX_VERSION = "v2.45.1";
/** The k9s the e2e suite drives headless in tmux (build-tools/k9s/go.mod pins it). */
export const K9S_VERSION = "v0.50.16";

const [major, minor] = KUBERNETES_VERSION.slice(1).split(".");
const versionPkg = "k8s.io/component-base/version";

const stamped = [
  `-X ${versionPkg}.gitVersion=${KUBERNETES_VERSION}`,
  `-X ${versionPkg}.gitMajor=${major}`,
  `-X ${versionPkg}.gitMinor=${minor}`,
  `-X ${versionPkg}.gitTreeState=clean`,
];

export interface BinarySpec {
  name: string;
  pkg: string;
  version: string;
  ldflags: readonly string[];
  role: "control" | "node" | "clients";
  /** A clients' program whose module is this subfolder of build-tools rather than build-tools itself. */
  module?: string;
}

/**
 * What is built; `ldflags` stamp the version a `make` build would, so /version and kubectl see it.
 * "control": every cluster; "node": only a cluster started with a node (kubelet; kube-proxy, so
 * that Services route; the scheduler binds pods; the controller manager makes service accounts,
 * tokens, endpoints); "clients": programs the tests drive, from a module of their own (build-tools,
 * or its subfolder `module`).
 */
export const BINARIES = [
  {
    name: "kube-apiserver",
    pkg: "k8s.io/kubernetes/cmd/kube-apiserver",
    version: KUBERNETES_VERSION,
    ldflags: stamped,
    role: "control",
  },
  { name: "etcd", pkg: "go.etcd.io/etcd/server/v3", version: ETCD_VERSION, ldflags: [], role: "control" },
  {
    name: "kubelet",
    pkg: "k8s.io/kubernetes/cmd/kubelet",
    version: KUBERNETES_VERSION,
    ldflags: stamped,
    role: "node",
  },
  {
    name: "kube-scheduler",
    pkg: "k8s.io/kubernetes/cmd/kube-scheduler",
    version: KUBERNETES_VERSION,
    ldflags: stamped,
    role: "node",
  },
  {
    name: "kube-proxy",
    pkg: "k8s.io/kubernetes/cmd/kube-proxy",
    version: KUBERNETES_VERSION,
    ldflags: stamped,
    role: "node",
  },
  {
    name: "kube-controller-manager",
    pkg: "k8s.io/kubernetes/cmd/kube-controller-manager",
    version: KUBERNETES_VERSION,
    ldflags: stamped,
    role: "node",
  },
  {
    name: "helm",
    pkg: "helm.sh/helm/v4/cmd/helm",
    version: HELM_VERSION,
    ldflags: [`-X helm.sh/helm/v4/internal/version.version=${HELM_VERSION}`],
    role: "clients",
  },
  {
    name: "dex",
    pkg: "github.com/dexidp/dex/cmd/dex",
    version: DEX_VERSION,
    ldflags: [`-X main.version=${DEX_VERSION}`],
    role: "clients",
    // A module of its own: Dex's dependencies (grpc, cloud SDKs) must not move helm's.
    module: "dex",
  },
  {
    name: "k9s",
    pkg: "github.com/derailed/k9s",
    version: K9S_VERSION,
    ldflags: [`-X github.com/derailed/k9s/cmd.version=${K9S_VERSION}`],
    role: "clients",
    // Its own module: k9s pins helm v3 and older k8s.io modules than helm v4 does.
    module: "k9s",
  },
  {
    name: "kubegate-e2e-informers",
    pkg: "kubegate.dev/testclients/informers",
    // The program's own source: a change to it is a new build.
    version: INFORMERS_SOURCE,
    ldflags: [],
    role: "clients",
  },
] as const satisfies readonly BinarySpec[];
