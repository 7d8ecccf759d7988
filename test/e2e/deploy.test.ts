import assert from "node:assert/strict";
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parseAllDocuments, stringify } from "yaml";
import { useCluster } from "../cluster/harness.ts";
import { kubectl, kubegate, ok, run } from "./run.ts";

const cluster = await useCluster();
const admin = (...args: string[]) => kubectl(cluster.adminKubeconfig, ...args);
const adminWithInput = (input: string, ...args: string[]) =>
  run("kubectl", ["--kubeconfig", cluster.adminKubeconfig, ...args], { input });
const yamlOf = (objects: readonly Obj[]) => objects.map((o) => stringify(o)).join("---\n");
const dir = await mkdtemp(join(tmpdir(), "kubegate-deploy-"));
const out = join(dir, "rendered");
// Unique: without a controller manager, a deleted namespace stays Terminating in the test cluster.
const NS = `kg-deploy-${process.pid}`;

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string };
}
const RBAC_KINDS = new Set([
  "Namespace",
  "ServiceAccount",
  "ClusterRole",
  "ClusterRoleBinding",
  "RoleBinding",
]);

await ok(kubegate("manifests", "--out", out, "--namespace", NS, "--tenancy", "--image", "kubegate:e2e"));
const rendered = parseAllDocuments(await readFile(join(out, "kubegate.yaml"), "utf8")).map(
  (d) => d.toJS() as Obj,
);

after(async () => {
  // Only RBAC and the namespace were created for real: remove them so other files start clean.
  await adminWithInput(
    yamlOf(rendered.filter((o) => RBAC_KINDS.has(o.kind))),
    "delete",
    "--ignore-not-found",
    "--wait=false",
    "-f",
    "-",
  );
});

describe("kubegate manifests on the real apiserver", () => {
  it("writes a kustomize directory with the keys private", async () => {
    for (const [file, mode] of [
      ["kubegate.yaml", 0o600],
      ["serving-ca.key", 0o600],
      ["users-ca.key", 0o600],
      ["users-ca.crt", 0o644],
    ] as const) {
      assert.equal((await stat(join(out, file))).mode & 0o777, mode, file);
    }
    const built = await ok(admin("kustomize", out));
    assert.equal(parseAllDocuments(built).length, rendered.length);
  });

  it("passes a server-side dry-run of every object", async () => {
    // Namespaced objects are only admitted into a namespace that exists.
    await ok(admin("create", "namespace", NS));
    const r = await admin("apply", "--server-side", "--dry-run=server", "-k", out);
    assert.equal(r.code, 0, r.stderr);
    const applied = r.stdout.trim().split("\n");
    assert.equal(applied.length, rendered.length, r.stdout);
    assert.ok(
      applied.every((l) => l.endsWith("serverside-applied (server dry run)")),
      r.stdout,
    );
    for (const kind of [
      "deployment.apps/kubegate-gateway",
      "daemonset.apps/kubegate-node-agent",
      "apiservice.apiregistration.k8s.io/v1.custom.api.local",
      "mutatingwebhookconfiguration.admissionregistration.k8s.io/kubegate-pod-apiserver-env",
      "poddisruptionbudget.policy/kubegate-gateway",
      "customresourcedefinition.apiextensions.k8s.io/tenants.tenancy.kubegate.dev",
    ]) {
      assert.ok(
        applied.some((l) => l.startsWith(`${kind} `)),
        `${kind} in ${r.stdout}`,
      );
    }
  });

  it("ships a base and a tenancy overlay that kubectl apply -k accepts as they are", async () => {
    for (const target of ["deploy/base", "deploy/overlays/tenancy"]) {
      const built = await ok(admin("kustomize", target));
      // Into a namespace of this file's own: other files register test Services in kubegate-system, and a
      // dry-run merges into what exists. The namespace must exist for namespaced objects to be admitted.
      const ns = `${NS}-base`;
      await ok(
        adminWithInput(`{ apiVersion: v1, kind: Namespace, metadata: { name: ${ns} } }`, "apply", "-f", "-"),
      );
      // Cluster-scoped objects (APIService, CRDs) may exist from other files: take their fields over.
      const r = await adminWithInput(
        built.replaceAll("kubegate-system", ns),
        "apply",
        "--server-side",
        "--force-conflicts",
        "--dry-run=server",
        "-f",
        "-",
      );
      assert.equal(r.code, 0, `${target}: ${r.stderr}`);
      const objects = parseAllDocuments(built).map((d) => d.toJS() as Obj);
      assert.ok(
        objects.some((o) => o.kind === "APIService"),
        target,
      );
      assert.equal(built.includes("insecureSkipTLSVerify"), false, `${target} never skips TLS verification`);
    }
  });

  it("grants the gateway and the aggregated server what they need and nothing more", async () => {
    const rbac = rendered.filter((o) => RBAC_KINDS.has(o.kind) && o.kind !== "Namespace");
    await ok(adminWithInput(yamlOf(rbac), "apply", "--server-side", "-f", "-"));
    // A SubjectAccessReview, not `kubectl auth can-i`: kubectl drops the group of resources that discovery
    // does not list (uids, userextras), and those are the ones that matter here.
    type Attrs = {
      verb: string;
      resource: string;
      group?: string;
      subresource?: string;
      name?: string;
      namespace?: string;
    };
    const can = async (sa: string, attrs: Attrs) => {
      const review = {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: `system:serviceaccount:${NS}:${sa}`,
          groups: ["system:serviceaccounts", `system:serviceaccounts:${NS}`, "system:authenticated"],
          resourceAttributes: attrs,
        },
      };
      const out = await ok(
        adminWithInput(JSON.stringify(review), "create", "-f", "-", "-o", "jsonpath={.status.allowed}"),
      );
      return out.trim() === "true";
    };
    const authn = "authentication.k8s.io";
    const authz = "authorization.k8s.io";
    const allowed: Array<[string, Attrs]> = [
      ["kubegate-gateway", { verb: "impersonate", resource: "users" }],
      ["kubegate-gateway", { verb: "impersonate", resource: "groups" }],
      ["kubegate-gateway", { verb: "impersonate", resource: "serviceaccounts", namespace: "default" }],
      ["kubegate-gateway", { verb: "impersonate", resource: "uids", group: authn }],
      [
        "kubegate-gateway",
        { verb: "impersonate", resource: "userextras", subresource: "scopes", group: authn },
      ],
      ["kubegate-gateway", { verb: "create", resource: "tokenreviews", group: authn }],
      ["kubegate-gateway", { verb: "create", resource: "subjectaccessreviews", group: authz }],
      ["kubegate-gateway", { verb: "list", resource: "storageclasses", group: "storage.k8s.io" }],
      ["kubegate-gateway", { verb: "watch", resource: "tenants", group: "tenancy.kubegate.dev" }],
      ["kubegate-gateway", { verb: "create", resource: "namespaces" }],
      [
        "kubegate-apiserver",
        {
          verb: "get",
          resource: "configmaps",
          name: "extension-apiserver-authentication",
          namespace: "kube-system",
        },
      ],
      ["kubegate-apiserver", { verb: "create", resource: "subjectaccessreviews", group: authz }],
      ["kubegate-apiserver", { verb: "create", resource: "tokenreviews", group: authn }],
      ["kubegate-apiserver", { verb: "watch", resource: "namespaces" }],
    ];
    const denied: Array<[string, Attrs]> = [
      ["kubegate-gateway", { verb: "get", resource: "secrets", namespace: "kube-system" }],
      ["kubegate-gateway", { verb: "create", resource: "pods", namespace: "default" }],
      ["kubegate-gateway", { verb: "delete", resource: "namespaces" }],
      [
        "kubegate-gateway",
        { verb: "create", resource: "clusterrolebindings", group: "rbac.authorization.k8s.io" },
      ],
      ["kubegate-apiserver", { verb: "get", resource: "secrets", namespace: "kube-system" }],
      [
        "kubegate-apiserver",
        { verb: "get", resource: "configmaps", name: "other", namespace: "kube-system" },
      ],
      ["kubegate-apiserver", { verb: "impersonate", resource: "users" }],
      ["kubegate-webhook", { verb: "list", resource: "pods" }],
      ["kubegate-node-agent", { verb: "get", resource: "nodes" }],
    ];
    for (const [sa, attrs] of allowed)
      assert.equal(await can(sa, attrs), true, `${sa} may ${JSON.stringify(attrs)}`);
    for (const [sa, attrs] of denied)
      assert.equal(await can(sa, attrs), false, `${sa} may not ${JSON.stringify(attrs)}`);
  });

  it("refuses bad input before writing anything", async () => {
    const target = join(dir, "not-written");
    const r = await kubegate(
      "manifests",
      "--out",
      target,
      "--namespace",
      "Not_A_Label",
      "--node-local-ip",
      "x",
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--namespace: must be a DNS-1123 label/);
    assert.match(r.stderr, /--node-local-ip: must be an IPv4 or IPv6 address/);
    await assert.rejects(stat(target));
    const noCa = await kubegate("manifests");
    assert.equal(noCa.code, 1);
    assert.equal(noCa.stdout, "");
    assert.match(noCa.stderr, /--users-ca-cert/);
  });

  it("prints the manifests on stdout with an existing users CA", async () => {
    const yaml = await ok(
      kubegate("manifests", "--users-ca-cert", join(out, "users-ca.crt"), "--namespace", NS),
    );
    const objects = parseAllDocuments(yaml).map(
      (d) => d.toJS() as Obj & { stringData?: Record<string, string> },
    );
    const ca = objects.find((o) => o.metadata.name === "kubegate-users-ca");
    assert.equal(ca?.stringData?.["ca.crt"], await readFile(join(out, "users-ca.crt"), "utf8"));
    assert.equal(
      objects.some((o) => o.metadata.name === "kubegate-gateway-tenancy"),
      false,
    );
  });
});
