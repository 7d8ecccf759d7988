// Fakes for unit tests of the gateway's routes: a response that records what was written, an upstream
// client that answers from a script and records every call, and a tenancy context whose index grants
// what the test says. The real apiserver is the e2e suites' business; these make each route's
// decisions testable one by one.
import { EventEmitter } from "node:events";
import type { UserInfo } from "../../src/authn/user.ts";
import { type ClientHeaders, readClientHeaders } from "../../src/gateway/headers.ts";
import { ContinueTokens } from "../../src/gateway/routes/continue-token.ts";
import { StreamBudget } from "../../src/gateway/stream-budget.ts";
import type {
  Answer,
  As,
  ClientRequest,
  ClientResponse,
  GatewayContext,
  Route,
  Streamed,
  TenancyContext,
  TenantRequest,
  UpstreamCall,
  UpstreamClient,
} from "../../src/gateway/types.ts";
import type { KubeObject } from "../../src/kube/informer.ts";
import { parseRequestInfo } from "../../src/kube/request-info.ts";
import type { FilteredKind, Operation } from "../../src/resources/kinds.ts";
import type { NamespaceEvent, TenancyIndex } from "../../src/tenancy/index.ts";

/** The code a fake passthrough answers: the test can tell "forwarded as the user" from any real code. */
export const PASSED_THROUGH = 299;

export class FakeResponse extends EventEmitter {
  code = 0;
  headers: Record<string, string | number> = {};
  chunks: string[] = [];
  headersSent = false;
  writableFinished = false;
  destroyed = false;
  writeHead(code: number, headers: Record<string, string | number> = {}) {
    this.code = code;
    this.headers = headers;
    this.headersSent = true;
    return this;
  }
  flushHeaders() {}
  write(chunk: string | Buffer) {
    this.chunks.push(chunk.toString());
    return true;
  }
  end(chunk?: string | Buffer) {
    if (chunk !== undefined) this.chunks.push(chunk.toString());
    this.writableFinished = true;
    this.emit("finish");
    this.emit("close");
    return this;
  }
  destroy() {
    this.destroyed = true;
    this.emit("close");
    return this;
  }
  get text(): string {
    return this.chunks.join("");
  }
  json(): Record<string, unknown> {
    return JSON.parse(this.text) as Record<string, unknown>;
  }
}

export interface RecordedCall extends UpstreamCall {
  as: As | "passthrough";
  mode: "whole" | "stream" | "passthrough";
}

/** What the fake apiserver answers a call with: an Answer, or for a stream its chunks. */
export type Script = (call: RecordedCall) => Answer & { chunks?: string[] };

export const json = (code: number, body: unknown): Answer => ({
  code,
  contentType: "application/json",
  text: JSON.stringify(body),
});

export class FakeUpstream implements UpstreamClient {
  readonly calls: RecordedCall[] = [];
  constructor(
    private readonly script: Script,
    private readonly res: FakeResponse,
    /** The client's request: what a call that leaves method or path out is sent with. */
    private readonly client: { method: string; url: string },
  ) {}
  /** The script sees the call as it goes upstream, defaults filled in; `calls` keeps what was asked. */
  private answer(c: RecordedCall) {
    return this.script({ ...c, method: c.method ?? this.client.method, path: c.path ?? this.client.url });
  }
  passthrough(path?: string): Promise<number> {
    this.calls.push({ as: "passthrough", mode: "passthrough", ...(path ? { path } : {}) });
    this.res.writeHead(PASSED_THROUGH).end();
    return Promise.resolve(PASSED_THROUGH);
  }
  whole(as: As, call: UpstreamCall = {}): Promise<Answer> {
    const c: RecordedCall = { ...call, as, mode: "whole" };
    this.calls.push(c);
    return Promise.resolve(this.answer(c));
  }
  stream(as: As, call: UpstreamCall = {}): Promise<Streamed> {
    const c: RecordedCall = { ...call, as, mode: "stream" };
    this.calls.push(c);
    const a = this.answer(c);
    const chunks = a.chunks ?? [a.text];
    return Promise.resolve({
      code: a.code,
      contentType: a.contentType,
      body: (async function* () {
        for (const chunk of chunks) yield Buffer.from(chunk);
      })(),
      text: () => Promise.resolve(chunks.join("")),
      close: () => undefined,
    });
  }
  /** The calls made with the gateway's own identity. */
  get asGateway(): RecordedCall[] {
    return this.calls.filter((c) => c.as === "gateway");
  }
}

export interface FakeTenancy {
  /** Operations the tenancy model grants the user on every filtered kind. */
  grants?: Operation[];
  /** Which objects the user may see, by name. */
  visible?: (o: KubeObject) => boolean;
  /** Whether the user's own RBAC allows a verb (on the kind, or a named object; in a namespace). */
  rbac?: (verb: string, name: string | undefined, namespace?: string) => boolean;
  owned?: string[];
  ignoredUsers?: string[];
  namespaces?: KubeObject[];
  /** The namespaces the user sees, for all-namespaces views (in list order). */
  visibleNamespaces?: () => string[];
  /** Resources the fake cluster serves, "group/version/resource" → namespaced. */
  resources?: Record<string, boolean>;
  /** The verbs discovery lists for each of them (default: list, watch, get). */
  verbs?: string[];
  /** Kinds Tenants name in clusterResources, by "group/resource". */
  configured?: Record<string, FilteredKind>;
  /** Records the resourceVersions a route waited for the informer to reach. */
  seen?: string[];
  /** Upstream watch streams a user may hold (StreamBudget). */
  maxStreams?: number;
  /** What the index's namespaceReadPlan answers (default: nothing to select by). */
  readPlan?: { labelSelectors: string[]; names: string[] };
  /** Called with the index's access-change handler, so a test can fire it. */
  onAccessChange?: (handler: () => void) => void;
  /**
   * Holds the handlers of the watches served from the index's namespaces while they last. Without it
   * the fake index cannot follow namespaces, and such a watch goes upstream.
   */
  namespaceWatchers?: Set<NamespaceEvent>;
}

export const TENANT_LABEL = "kubegate.dev/tenant";

export function fakeTenancy(f: FakeTenancy = {}): TenancyContext {
  const index = {
    synced: Promise.resolve(),
    options: { tenantLabel: TENANT_LABEL },
    visibility: (_user: UserInfo, _kind: unknown, op: Operation = "List") => ({
      granted: (f.grants ?? ["List"]).includes(op),
      visible: f.visible ?? (() => true),
    }),
    ownedTenants: () => f.owned ?? [],
    configuredKind: (group: string, resource: string) => f.configured?.[`${group}/${resource}`],
    configuredKinds: () => Object.values(f.configured ?? {}),
    tenantsFor: () => [],
    namespaceSnapshot: () => ({ items: f.namespaces ?? [], resourceVersion: "1" }),
    // The routes filter what they get with `visible`: every namespace is a superset of the user's.
    visibleNamespaceSnapshot: () => ({ items: f.namespaces ?? [], resourceVersion: "1" }),
    namespaceReadPlan: () => f.readPlan ?? { labelSelectors: [], names: [] },
    onNamespaceEvent: (handler: NamespaceEvent) => {
      const watchers = f.namespaceWatchers;
      if (!watchers) return undefined;
      watchers.add(handler);
      return () => watchers.delete(handler);
    },
    namespaceVisible: () => () => true,
    visibleNamespaces: () => f.visibleNamespaces?.() ?? [],
    seenNamespaces: (rv: string) => {
      f.seen?.push(rv);
      return Promise.resolve(true);
    },
    onAccessChange: (handler: () => void) => {
      f.onAccessChange?.(handler);
      return () => undefined;
    },
  };
  const resources = f.resources ?? {
    "/v1/pods": true,
    "apps/v1/deployments": true,
    "rbac.authorization.k8s.io/v1/clusterroles": false,
  };
  return {
    index: index as unknown as TenancyIndex,
    reviews: {
      subjectAccessReview: (
        _u: UserInfo,
        a: { resource: { verb: string; name?: string; namespace?: string } },
      ) =>
        Promise.resolve({
          allowed: f.rbac?.(a.resource.verb, a.resource.name, a.resource.namespace) ?? false,
        }),
    } as unknown as TenancyContext["reviews"],
    ignoredUsers: new Set(f.ignoredUsers ?? []),
    ignoredGroups: new Set(),
    tokens: new ContinueTokens("test key"),
    discovery: {
      namespacedVersion: (group: string, resource: string) =>
        Promise.resolve(
          Object.entries(resources)
            .find(
              ([k, namespaced]) => namespaced && k.startsWith(`${group}/`) && k.endsWith(`/${resource}`),
            )?.[0]
            .split("/")[1],
        ),
      resource: (group: string, version: string, resource: string) => {
        const namespaced = resources[`${group}/${version}/${resource}`];
        return Promise.resolve(
          namespaced === undefined
            ? undefined
            : { namespaced, verbs: f.verbs ?? ["list", "watch", "get"], kind: "" },
        );
      },
    } as unknown as TenancyContext["discovery"],
    fanOutConcurrency: 4,
    streams: new StreamBudget(f.maxStreams ?? 1000),
    consistentNamespaceLists: false,
  };
}

export const ALICE: UserInfo = { name: "alice", groups: ["team-oil"], extra: {} };

export interface FakeRequest {
  method?: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  user?: UserInfo;
  tenancy?: TenancyContext;
  script?: Script;
}

/** A request context over the fakes, and the fakes to inspect afterwards. */
export function fakeRequest(r: FakeRequest) {
  const res = new FakeResponse();
  const upstream = new FakeUpstream(r.script ?? (() => json(500, { message: "no script" })), res, {
    method: r.method ?? "GET",
    url: r.url,
  });
  const raw = Object.entries(r.headers ?? {}).flat();
  const body = Buffer.from(r.body ?? "");
  const req = Object.assign(
    (async function* () {
      if (body.length) yield body;
    })(),
    {
      method: r.method ?? "GET",
      url: r.url,
      headers: Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      rawHeaders: raw,
    },
  );
  const headers: ClientHeaders = readClientHeaders(raw);
  const ctx: TenantRequest = {
    gateway: {} as GatewayContext,
    req: req as unknown as ClientRequest,
    res: res as unknown as ClientResponse,
    info: parseRequestInfo(r.method ?? "GET", r.url),
    headers,
    user: r.user ?? ALICE,
    upstream,
    signal: new AbortController().signal,
    tenancy: r.tenancy ?? fakeTenancy(),
  };
  return { ctx, res, upstream };
}

/** Runs a route as the pipeline does: matched first, then handled. */
export async function run<P>(route: Route<P>, r: FakeRequest) {
  const f = fakeRequest(r);
  const params = route.match(f.ctx.info);
  const code = params === undefined ? "no match" : await route.handle(f.ctx, params);
  return { ...f, code };
}
