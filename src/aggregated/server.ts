import { readFileSync } from "node:fs";
import type { Server as HttpsServer } from "node:https";
import type { TLSSocket } from "node:tls";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import type { UserInfo } from "../authn/user.ts";
import type { Connection } from "../kube/connection.ts";
import { Informer, type KubeObject } from "../kube/informer.ts";
import { Reviews } from "../kube/reviews.ts";
import { wantsTable } from "../kube/table.ts";
import { Upstream } from "../kube/upstream.ts";
import type { Logger } from "../observability/logger.ts";
import { type FilteredKind, filteredKind } from "../resources/kinds.ts";
import { ServerShell, TlsReloader, urlOf } from "../serving/shell.ts";
import {
  forbidden,
  StatusError,
  serviceUnavailable,
  status,
  toStatus,
  unauthorized,
} from "../status/status.ts";
import { TenancyIndex } from "../tenancy/index.ts";
import { AUTH_CONFIGMAP, type AuthConfig, parseAuthConfig } from "./auth-config.ts";
import { authenticateAggregated } from "./authenticate.ts";
import {
  AGGREGATED_DISCOVERY,
  apiGroup,
  apiGroupDiscoveryList,
  apiGroupList,
  apiResourceList,
  GROUP,
  GROUP_VERSION,
  wantsAggregatedDiscovery,
} from "./discovery.ts";
import {
  type Namespace,
  type NamespaceVisibility,
  namespaceList,
  namespaceTable,
  notFound,
  visibleNamespaces,
} from "./namespaces.ts";
import { openApiV2, openApiV3Document, openApiV3Index } from "./openapi.ts";
import { whoAmI, whoAmINamespaceList, whoAmITable } from "./whoami.ts";

export interface AggregatedOptions {
  listen: { host: string; port: number };
  tls: { certFile: string; keyFile: string };
  upstream: Connection;
  teamLabel?: string;
  extraVisibility?: NamespaceVisibility;
  /** Adds the tenancy model's namespaces (tenants owned, RoleBindings) to mynamespace. */
  tenancy?: { tenantLabel: string };
  /** How long mynamespace waits for the tenancy informers' first sync before a 503. */
  tenancySyncTimeoutMs?: number;
  reloadIntervalMs?: number;
  log: Logger;
}

export interface RunningAggregated {
  url: string;
  close(): Promise<void>;
}

const ALWAYS_ALLOWED = new Set(["/healthz", "/livez", "/readyz"]);
/** Discovery and OpenAPI probes come every few seconds from the aggregator: not worth a log line (seed). */
const QUIET_PREFIXES = ["/apis", "/openapi"];
const RESOURCE_PATH = new RegExp(
  `^/apis/${GROUP_VERSION.replace(".", "\\.")}/(whoami|mynamespace)(?:/([^/]+))?$`,
);

declare module "fastify" {
  interface FastifyRequest {
    user?: UserInfo;
  }
}

export async function startAggregated(o: AggregatedOptions): Promise<RunningAggregated> {
  const upstream = new Upstream(o.upstream, { connections: 32 });
  const reviews = new Reviews(upstream);
  const namespaces = new Informer<Namespace>(upstream, "/api/v1/namespaces", o.log).start();
  const tenancy = o.tenancy
    ? new TenancyIndex(upstream, { tenantLabel: o.tenancy.tenantLabel }, o.log).start()
    : undefined;
  const namespaceKind = filteredKind("", "namespaces") as FilteredKind;
  const extraVisibility: NamespaceVisibility | undefined = tenancy
    ? (user) => tenancy.visibility(user, namespaceKind).visible
    : o.extraVisibility;
  const authConfigMap = new Informer<KubeObject & { data?: Record<string, string> }>(
    upstream,
    `/api/v1/namespaces/${AUTH_CONFIGMAP.namespace}/configmaps?fieldSelector=metadata.name%3D${AUTH_CONFIGMAP.name}`,
    o.log,
  ).start();
  await authConfigMap.synced;
  let config: AuthConfig = parseAuthConfig(
    authConfigMap.get(AUTH_CONFIGMAP.namespace, AUTH_CONFIGMAP.name)?.data,
  );
  if (config.requestHeaderCa.length === 0) {
    o.log.warn(
      "extension-apiserver-authentication has no requestheader-client-ca-file: front-proxy requests will be refused",
    );
  }

  const tlsFiles = () => ({
    cert: readFileSync(o.tls.certFile, "utf8"),
    key: readFileSync(o.tls.keyFile, "utf8"),
  });
  const serving = tlsFiles();
  const trusted = (c: AuthConfig) => [c.clientCaPem, c.requestHeaderCaPem].filter((p) => p !== "").join("\n");
  const app = Fastify({
    https: {
      ...serving,
      ...(trusted(config) ? { ca: trusted(config) } : {}),
      requestCert: true,
      // Token callers have no certificate; which CA vouched for a certificate is decided per request.
      rejectUnauthorized: false,
      minVersion: "TLSv1.2",
    },
    logger: false,
    return503OnClosing: true,
  });
  const server = app.server as unknown as HttpsServer;
  // The client CA comes from the cluster (the ConfigMap), the serving pair from disk: both reload.
  const reloader = new TlsReloader(
    {
      name: "aggregated API server",
      read: () => ({ ...tlsFiles(), ca: trusted(config) }),
      server,
      log: o.log,
      intervalMs: o.reloadIntervalMs,
    },
    { ...serving, ca: trusted(config) },
  );
  const shell = new ServerShell(server, reloader);
  authConfigMap.onChange((_type, cm) => {
    if (cm.metadata.name !== AUTH_CONFIGMAP.name) return;
    config = parseAuthConfig(cm.data);
    reloader.reload();
    o.log.info("extension-apiserver-authentication changed: trust updated");
  });

  app.setErrorHandler((err, _req, reply) => {
    // Fastify's own errors (bad JSON, unsupported media type) carry a statusCode; keep it.
    const code = (err as { statusCode?: number }).statusCode;
    const s = err instanceof StatusError || !code ? toStatus(err) : status(code, (err as Error).message);
    void reply.code(s.code).type("application/json").send(s);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .type("application/json")
      .send(status(404, `the server could not find the requested resource (${req.url.split("?")[0]})`));
  });

  app.addHook("onRequest", async (req: FastifyRequest) => {
    const path = req.url.split("?")[0] ?? "/";
    if (ALWAYS_ALLOWED.has(path)) return;
    const result = await authenticateAggregated(
      config,
      req.raw.socket as TLSSocket,
      req.raw.headersDistinct,
      reviews,
    );
    if (result.kind !== "user") {
      o.log.info(
        { path, reason: result.kind === "rejected" ? result.reason : "none" },
        "unauthenticated request refused",
      );
      throw unauthorized();
    }
    req.user = result.user;
    const resource = RESOURCE_PATH.exec(path);
    const user = result.user;
    if (resource) {
      const [, name = "", item] = resource;
      const verb = item ? "get" : "list";
      const decision = await reviews.subjectAccessReview(user, {
        resource: { verb, group: GROUP, version: "v1", resource: name, ...(item ? { name: item } : {}) },
      });
      if (!decision.allowed) {
        const what = item ? `${name}.${GROUP} "${item}"` : `${name}.${GROUP}`;
        throw forbidden(
          `${what} is forbidden: User "${user.name}" cannot ${verb} resource "${name}" in API group "${GROUP}" at the cluster scope`,
        );
      }
    } else {
      const decision = await reviews.subjectAccessReview(user, {
        nonResource: { verb: req.method.toLowerCase(), path },
      });
      if (!decision.allowed)
        throw forbidden(`forbidden: User "${user.name}" cannot ${req.method.toLowerCase()} path "${path}"`);
    }
  });
  app.addHook("onResponse", async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split("?")[0] ?? "/";
    if (QUIET_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`)) && reply.statusCode < 400) return;
    if (ALWAYS_ALLOWED.has(path)) return;
    o.log.info({ method: req.method, url: req.url, user: req.user?.name, code: reply.statusCode }, "request");
  });

  // header(), not type(): type() rewrites parameters (quotes, charset) and the aggregator compares them.
  const json = (reply: FastifyReply, body: unknown, contentType = "application/json") =>
    reply.header("content-type", contentType).send(typeof body === "string" ? body : JSON.stringify(body));
  for (const p of ALWAYS_ALLOWED) app.get(p, async (_req, reply) => reply.type("text/plain").send("ok"));
  app.get("/version", async (_req, reply) =>
    json(reply, { major: "1", minor: "0", gitVersion: "kubegate-aggregated" }),
  );
  app.get("/apis", async (req, reply) =>
    wantsAggregatedDiscovery(req.headers.accept)
      ? json(reply, apiGroupDiscoveryList(), AGGREGATED_DISCOVERY)
      : json(reply, apiGroupList()),
  );
  app.get(`/apis/${GROUP}`, async (_req, reply) => json(reply, apiGroup()));
  app.get(`/apis/${GROUP_VERSION}`, async (_req, reply) => json(reply, apiResourceList()));
  app.get("/openapi/v2", async (_req, reply) => json(reply, openApiV2()));
  app.get("/openapi/v3", async (_req, reply) => json(reply, openApiV3Index()));
  app.get(`/openapi/v3/apis/${GROUP_VERSION}`, async (_req, reply) => json(reply, openApiV3Document()));

  app.get(`/apis/${GROUP_VERSION}/whoami`, async (req, reply) => {
    const user = req.user as UserInfo;
    const view = (req.query as { view?: string }).view;
    if (view === "namespacelist") return json(reply, whoAmINamespaceList(user));
    return json(reply, wantsTable(req.headers.accept) ? whoAmITable(user) : whoAmI(user));
  });
  const namespaceView = {
    informer: namespaces,
    reviews,
    ...(o.teamLabel ? { teamLabel: o.teamLabel } : {}),
    ...(extraVisibility ? { extraVisibility } : {}),
  };
  // Before the tenancy informers have synced, an answer would silently miss tenants' namespaces: wait
  // a while, as the gateway does, then say so with a 503.
  let tenancySynced = tenancy === undefined;
  void tenancy?.synced.then(() => {
    tenancySynced = true;
  });
  const requireTenancy = async () => {
    if (tenancySynced || !tenancy) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      tenancy.synced,
      new Promise<void>((r) => {
        timer = setTimeout(r, o.tenancySyncTimeoutMs ?? 10_000);
      }),
    ]);
    clearTimeout(timer);
    if (!tenancySynced)
      throw serviceUnavailable("the tenancy index is not synced yet (are kubegate's CRDs installed?)");
  };
  app.get(`/apis/${GROUP_VERSION}/mynamespace`, async (req, reply) => {
    await requireTenancy();
    const visible = await visibleNamespaces(namespaceView, req.user as UserInfo);
    const rv = String(Math.max(0, ...visible.map((n) => Number(n.metadata.resourceVersion ?? 0))));
    const list = namespaceList(visible, req.query as Record<string, string>, rv);
    return json(reply, wantsTable(req.headers.accept) ? namespaceTable(list) : list);
  });
  app.get(`/apis/${GROUP_VERSION}/mynamespace/:name`, async (req, reply) => {
    const { name } = req.params as { name: string };
    await requireTenancy();
    const visible = await visibleNamespaces(namespaceView, req.user as UserInfo);
    const ns = visible.find((n) => n.metadata.name === name);
    if (!ns) throw notFound(name);
    const list = namespaceList([ns], {}, ns.metadata.resourceVersion ?? "");
    return json(reply, wantsTable(req.headers.accept) ? namespaceTable(list) : list.items[0]);
  });

  await app.listen({ host: o.listen.host, port: o.listen.port });
  const url = urlOf(server, "https");
  o.log.info({ url, upstream: o.upstream.source }, "aggregated API server listening");
  return {
    url,
    close: () =>
      shell.shutdown({
        stopAccepting: () => app.close(),
        release: async () => {
          namespaces.stop();
          tenancy?.stop();
          authConfigMap.stop();
          await upstream.close();
        },
      }),
  };
}
