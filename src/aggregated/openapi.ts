import { createHash } from "node:crypto";
import { GROUP, GROUP_VERSION, VERSION } from "./discovery.ts";

const objectMeta = { $ref: "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" };

/** Definitions shared by the v2 and v3 documents (v3 refers to them under components/schemas). */
function definitions() {
  return {
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {
      type: "object",
      description: "Standard object metadata.",
      properties: {
        name: { type: "string" },
        namespace: { type: "string" },
        uid: { type: "string" },
        resourceVersion: { type: "string" },
        creationTimestamp: { type: "string", format: "date-time" },
        labels: { type: "object", additionalProperties: { type: "string" } },
        annotations: { type: "object", additionalProperties: { type: "string" } },
      },
    },
    "local.api.custom.v1.UserInfo": {
      type: "object",
      properties: {
        username: { type: "string" },
        uid: { type: "string" },
        groups: { type: "array", items: { type: "string" } },
        extra: { type: "object", additionalProperties: { type: "array", items: { type: "string" } } },
      },
    },
    "local.api.custom.v1.WhoAmI": {
      type: "object",
      description: "The caller as kube-apiserver's aggregation layer presented it to kubegate.",
      properties: {
        apiVersion: { type: "string" },
        kind: { type: "string" },
        metadata: objectMeta,
        status: {
          type: "object",
          properties: { userInfo: { $ref: "#/definitions/local.api.custom.v1.UserInfo" } },
        },
      },
      "x-kubernetes-group-version-kind": [{ group: GROUP, version: VERSION, kind: "WhoAmI" }],
    },
  };
}

function paths(ref: (name: string) => string) {
  const ok = (schema: string) => ({ description: "OK", schema: { $ref: ref(schema) } });
  return {
    [`/apis/${GROUP_VERSION}/whoami`]: {
      get: {
        operationId: "readCustomApiLocalV1WhoAmI",
        tags: ["customApiLocal_v1"],
        produces: ["application/json"],
        responses: { "200": ok("local.api.custom.v1.WhoAmI") },
        "x-kubernetes-action": "get",
        "x-kubernetes-group-version-kind": { group: GROUP, version: VERSION, kind: "WhoAmI" },
      },
    },
    [`/apis/${GROUP_VERSION}/mynamespace`]: {
      get: {
        operationId: "listCustomApiLocalV1MyNamespace",
        description:
          "The namespaces the caller may see: all when RBAC lets it list namespaces, else its team's.",
        tags: ["customApiLocal_v1"],
        produces: ["application/json"],
        parameters: [
          { name: "labelSelector", in: "query", type: "string", uniqueItems: true },
          { name: "limit", in: "query", type: "integer", uniqueItems: true },
          { name: "continue", in: "query", type: "string", uniqueItems: true },
        ],
        responses: { "200": { description: "OK" } },
        "x-kubernetes-action": "list",
      },
    },
  };
}

/** Swagger 2.0, as /openapi/v2 serves it. */
export function openApiV2() {
  return {
    swagger: "2.0",
    info: { title: "kubegate custom.api.local", version: VERSION },
    paths: paths((n) => `#/definitions/${n}`),
    definitions: definitions(),
  };
}

function v3Document() {
  const schemas = JSON.parse(
    JSON.stringify(definitions()).replaceAll("#/definitions/", "#/components/schemas/"),
  );
  const v2paths = paths((n) => `#/components/schemas/${n}`);
  const v3paths: Record<string, unknown> = {};
  for (const [path, item] of Object.entries(v2paths)) {
    const {
      produces: _p,
      parameters,
      responses,
      ...rest
    } = item.get as Record<string, unknown> & {
      produces: unknown;
      parameters?: { name: string; in: string; type: string }[];
      responses: Record<string, { description: string; schema?: { $ref: string } }>;
    };
    v3paths[path] = {
      get: {
        ...rest,
        ...(parameters
          ? { parameters: parameters.map((p) => ({ name: p.name, in: p.in, schema: { type: p.type } })) }
          : {}),
        responses: Object.fromEntries(
          Object.entries(responses).map(([code, r]) => [
            code,
            {
              description: r.description,
              ...(r.schema ? { content: { "application/json": { schema: r.schema } } } : {}),
            },
          ]),
        ),
      },
    };
  }
  return {
    openapi: "3.0.0",
    info: { title: "kubegate custom.api.local", version: VERSION },
    paths: v3paths,
    components: { schemas },
  };
}

const V3 = v3Document();
const V3_TEXT = JSON.stringify(V3);
const V3_HASH = createHash("sha512").update(V3_TEXT).digest("hex").slice(0, 32).toUpperCase();

/** /openapi/v3: the index of group-version documents with their content hashes. */
export function openApiV3Index() {
  return {
    paths: {
      [`apis/${GROUP_VERSION}`]: { serverRelativeURL: `/openapi/v3/apis/${GROUP_VERSION}?hash=${V3_HASH}` },
    },
  };
}

export function openApiV3Document(): string {
  return V3_TEXT;
}
