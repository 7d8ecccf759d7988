import { Command, Option } from "commander";
import { z } from "zod";
import { duration, hostPort, parseOptions, path, repeated } from "../config/validate.ts";
import { loadConnection } from "../kube/connection.ts";
import { createLogger } from "../observability/logger.ts";
import { KubegateError } from "../status/errors.ts";
import { serveUntilSignalled, signalled } from "./signals.ts";

const collect = (value: string, previous: string[] = []) => [...previous, value];

const schema = z
  .object({
    listen: hostPort,
    tlsCert: path.optional(),
    tlsKey: path.optional(),
    clientCa: path.optional(),
    upstreamKubeconfig: path.optional(),
    upstreamIdentity: z.enum(["impersonate", "front-proxy"]),
    frontProxyCert: path.optional(),
    frontProxyKey: path.optional(),
    tokenReview: z.boolean(),
    tokenAudience: repeated,
    oidcIssuerUrl: z.url({ protocol: /^https$/, message: "must be an https URL" }).optional(),
    oidcClientId: z.string().min(1).optional(),
    oidcUsernameClaim: z.string().min(1),
    oidcUsernamePrefix: z.string().optional(),
    oidcGroupsClaim: z.string().min(1).optional(),
    oidcGroupsPrefix: z.string().optional(),
    oidcCaFile: path.optional(),
    authenticationConfig: path.optional(),
    oidcRequiredClaim: repeated.refine((v) => v.every((c) => /^[^=]+=.*$/.test(c)), {
      message: "must be CLAIM=VALUE",
    }),
    metricsListen: hostPort.optional(),
    auditLog: z.string().min(1).optional(),
    interactiveMode: z.enum(["proxy", "redirect"]),
    namespaces: z.enum(["passthrough", "aggregated"]),
    tenancy: z.boolean(),
    tenantLabel: z.string().min(1),
    teamLabel: z.string().min(1).optional(),
    ignoredUser: repeated,
    ignoredGroup: repeated,
    fanOutConcurrency: z.coerce.number().int().min(1, "must be 1 or more").max(64, "must be 64 or less"),
    maxFanOutStreamsPerUser: z.coerce.number().int().min(0, "must be 0 (no limit) or more"),
    consistentNamespaceLists: z.boolean(),
    insecureHttp: z.boolean(),
    reloadInterval: duration,
    shutdownGrace: duration,
    requestHeaderTimeout: duration,
    idleTimeout: duration,
    maxConnectionsPerIp: z.coerce.number().int().min(0, "must be 0 (no limit) or more"),
    maxLongRunningPerUser: z.coerce.number().int().min(0, "must be 0 (no limit) or more"),
    maxRequestsPerUser: z.coerce.number().int().min(0, "must be 0 (no limit) or more"),
    allowReservedIdentity: z.boolean(),
  })
  .refine((o) => o.insecureHttp || (o.tlsCert && o.tlsKey), {
    path: ["tlsCert"],
    message: "--tls-cert and --tls-key are required (or --insecure-http on loopback for testing)",
  })
  .refine((o) => (o.oidcIssuerUrl === undefined) === (o.oidcClientId === undefined), {
    path: ["oidcIssuerUrl"],
    message: "--oidc-issuer-url and --oidc-client-id go together",
  })
  .refine((o) => o.upstreamIdentity !== "front-proxy" || (o.frontProxyCert && o.frontProxyKey), {
    path: ["frontProxyCert"],
    message: "--upstream-identity front-proxy needs --front-proxy-cert and --front-proxy-key",
  })
  .refine((o) => o.upstreamIdentity === "front-proxy" || (!o.frontProxyCert && !o.frontProxyKey), {
    path: ["frontProxyCert"],
    message: "--front-proxy-cert and --front-proxy-key are used only with --upstream-identity front-proxy",
  })
  .refine((o) => o.authenticationConfig === undefined || o.oidcIssuerUrl === undefined, {
    path: ["authenticationConfig"],
    message: "--authentication-config and the --oidc-* flags exclude each other (as in kube-apiserver)",
  })
  .refine((o) => o.clientCa || o.tokenReview || o.oidcIssuerUrl || o.authenticationConfig, {
    path: ["clientCa"],
    message: "no authentication configured: give --client-ca, keep --token-review, or configure OIDC",
  });

/** The one issuer of the --oidc-* flags, read as kube-apiserver reads them. */
async function oidcFromFlags(o: z.infer<typeof schema>) {
  // Loaded on use, like the servers.
  const { OidcAuthenticator, prefixFromFlag } = await import("../authn/oidc.ts");
  return OidcAuthenticator.create({
    issuerUrl: o.oidcIssuerUrl ?? "",
    clientId: o.oidcClientId ?? "",
    usernameClaim: o.oidcUsernameClaim,
    ...(o.oidcUsernamePrefix !== undefined ? { usernamePrefix: prefixFromFlag(o.oidcUsernamePrefix) } : {}),
    ...(o.oidcGroupsClaim ? { groupsClaim: o.oidcGroupsClaim } : {}),
    ...(o.oidcGroupsPrefix !== undefined ? { groupsPrefix: o.oidcGroupsPrefix } : {}),
    ...(o.oidcCaFile ? { caFile: o.oidcCaFile } : {}),
    requiredClaims: Object.fromEntries(
      o.oidcRequiredClaim.map((c) => [c.slice(0, c.indexOf("=")), c.slice(c.indexOf("=") + 1)]),
    ),
  });
}

export function gatewayCommand(): Command {
  return new Command("gateway")
    .description("authenticating, impersonating reverse proxy in front of kube-apiserver")
    .option("--listen <host:port>", "HTTPS address for kubectl", "0.0.0.0:9443")
    .option("--tls-cert <file>", "serving certificate (PEM), reloaded when it changes on disk")
    .option("--tls-key <file>", "serving key (PEM)")
    .option("--client-ca <file>", "CA bundle that signs user client certificates (CN = user, O = groups)")
    .option(
      "--upstream-kubeconfig <file>",
      "kubeconfig of the gateway's own identity (default: in-cluster, $KUBECONFIG, ~/.kube/config)",
    )
    .addOption(
      new Option(
        "--upstream-identity <mode>",
        "how kube-apiserver learns the user: impersonate (the gateway's credential and Impersonate-* headers) " +
          "or front-proxy (a request-header client certificate and X-Remote-* headers; cheaper for users in many groups)",
      )
        .choices(["impersonate", "front-proxy"])
        .default("impersonate"),
    )
    .option(
      "--front-proxy-cert <file>",
      "client certificate signed by the apiserver's --requestheader-client-ca-file, its CN in --requestheader-allowed-names",
    )
    .option("--front-proxy-key <file>", "key of --front-proxy-cert")
    .option("--no-token-review", "do not accept bearer tokens through TokenReview")
    .option("--token-audience <aud>", "audience for TokenReview (repeatable)", collect)
    .option("--oidc-issuer-url <url>", "accept OIDC ID tokens from this issuer (https)")
    .option("--oidc-client-id <id>", "audience the ID tokens must carry")
    .option("--oidc-username-claim <claim>", "claim holding the user name", "preferred_username")
    .option("--oidc-username-prefix <prefix>", "prefix added to OIDC user names")
    .option("--oidc-groups-claim <claim>", "claim holding the groups")
    .option(
      "--oidc-groups-prefix <prefix>",
      "prefix added to OIDC groups (recommended: keeps an IdP group from being named system:*)",
    )
    .option("--oidc-ca-file <file>", "CA of the issuer's TLS certificate")
    .option(
      "--authentication-config <file>",
      "kube-apiserver AuthenticationConfiguration file: several OIDC issuers (jwt); reloaded when it changes",
    )
    .option(
      "--oidc-required-claim <claim=value>",
      "claim that must be present with this value (repeatable)",
      collect,
    )
    .option("--metrics-listen <host:port>", "HTTP address for /metrics, /healthz, /readyz", "127.0.0.1:9090")
    .option("--audit-log <file>", "write audit.k8s.io/v1 events as JSON lines to this file ('-' = stdout)")
    .addOption(
      new Option(
        "--interactive-mode <mode>",
        "exec/attach/port-forward: tunnel with impersonation, or 307 redirect to the apiserver",
      )
        .choices(["proxy", "redirect"])
        .default("proxy"),
    )
    .addOption(
      new Option(
        "--namespaces <mode>",
        "namespace listing: passed through, or answered by custom.api.local/v1/mynamespace",
      )
        .choices(["passthrough", "aggregated"])
        .default("passthrough"),
    )
    .option(
      "--tenancy",
      "filter cluster-scoped kinds per tenant (needs kubegate's Tenant and ProxySetting CRDs)",
      false,
    )
    .option(
      "--tenant-label <key>",
      "label naming a namespace's (or persistent volume's) tenant",
      "kubegate.dev/tenant",
    )
    .option("--team-label <key>", "namespace label whose value is a group that may see the namespace")
    .option(
      "--ignored-user <name>",
      "user whose requests are passed through unfiltered (repeatable)",
      collect,
    )
    .option(
      "--ignored-group <name>",
      "group whose members' requests are passed through unfiltered (repeatable)",
      collect,
    )
    .option(
      "--fan-out-concurrency <n>",
      "namespaces a tenant's all-namespaces list or watch (kubectl get pods -A) reads at once",
      "8",
    )
    .option(
      "--max-fan-out-streams-per-user <n>",
      "upstream watches (one per visible namespace) one user's all-namespaces watches may hold together; 0 = no limit",
      "1000",
    )
    .option(
      "--consistent-namespace-lists",
      "with --tenancy: a tenant's namespace list without a resourceVersion is made of consistent reads from the apiserver (what the tenant's grants select) instead of the informer's view (milliseconds behind)",
      false,
    )
    .option("--insecure-http", "plain HTTP on a loopback address, bearer tokens only (testing)", false)
    .option("--reload-interval <duration>", "how often certificate files are checked for changes", "10s")
    .option("--shutdown-grace <duration>", "how long SIGTERM waits for requests in flight", "25s")
    .option(
      "--request-header-timeout <duration>",
      "a new connection must complete TLS and send a first request's headers within this (as the apiserver's 32s)",
      "32s",
    )
    .option(
      "--idle-timeout <duration>",
      "close an HTTP/1.1 connection idle between requests this long",
      "90s",
    )
    .option("--max-connections-per-ip <n>", "connections one client address may hold (0 = no limit)", "512")
    .option(
      "--max-long-running-per-user <n>",
      "watches, followed logs and exec/attach/port-forward one user may hold at once; more get 429 (0 = no limit)",
      "100",
    )
    .option(
      "--max-requests-per-user <n>",
      "other requests one user may have in progress at once (each holds an upstream connection); more get 429 (0 = no limit)",
      "200",
    )
    .option(
      "--allow-reserved-identity",
      "accept system:* user names and groups (system:masters, system:nodes, ...) from client certificates and OIDC",
      false,
    )
    .action(async (raw) => {
      const o = parseOptions(schema, raw);
      // Loaded on use: `kubegate certs` should not pay for the servers' dependencies.
      const { startGateway } = await import("../gateway/server.ts");
      const log = createLogger();
      // Before anything is announced: a signal sent the moment the listening line is read must not kill us.
      const stopSignal = signalled();
      const upstream = loadConnection(o.upstreamKubeconfig, process.env, "--upstream-kubeconfig");
      const oidc = o.authenticationConfig
        ? await (await import("../authn/authn-config.ts")).ConfiguredIssuers.load(o.authenticationConfig, {
            reloadMs: o.reloadInterval,
            log,
          })
        : o.oidcIssuerUrl && o.oidcClientId
          ? await oidcFromFlags(o)
          : undefined;
      if (o.insecureHttp && (o.tlsCert || o.clientCa)) {
        throw new KubegateError("--insecure-http serves plain HTTP: drop --tls-cert/--tls-key/--client-ca");
      }
      const gateway = await startGateway({
        listen: o.listen,
        ...(o.tlsCert && o.tlsKey
          ? {
              tls: {
                certFile: o.tlsCert,
                keyFile: o.tlsKey,
                ...(o.clientCa ? { clientCaFile: o.clientCa } : {}),
              },
            }
          : {}),
        insecureHttp: o.insecureHttp,
        upstream,
        ...(o.upstreamIdentity === "front-proxy" && o.frontProxyCert && o.frontProxyKey
          ? { frontProxy: { certFile: o.frontProxyCert, keyFile: o.frontProxyKey } }
          : {}),
        ...(oidc ? { oidc } : {}),
        tokenReview: o.tokenReview,
        ...(o.tokenAudience.length ? { tokenAudiences: o.tokenAudience } : {}),
        ...(o.metricsListen ? { metricsListen: o.metricsListen } : {}),
        ...(o.auditLog ? { auditLog: o.auditLog } : {}),
        interactiveMode: o.interactiveMode,
        namespaces: o.namespaces,
        ...(o.tenancy
          ? {
              tenancy: {
                tenantLabel: o.tenantLabel,
                ...(o.teamLabel ? { teamLabel: o.teamLabel } : {}),
                ignoredUsers: o.ignoredUser,
                ignoredGroups: o.ignoredGroup,
                fanOutConcurrency: o.fanOutConcurrency,
                maxFanOutStreamsPerUser: o.maxFanOutStreamsPerUser,
                consistentNamespaceLists: o.consistentNamespaceLists,
              },
            }
          : {}),
        reloadIntervalMs: o.reloadInterval,
        shutdownGraceMs: o.shutdownGrace,
        connectionLimits: {
          headerTimeoutMs: o.requestHeaderTimeout,
          idleTimeoutMs: o.idleTimeout,
          maxPerAddress: o.maxConnectionsPerIp,
        },
        maxLongRunningPerUser: o.maxLongRunningPerUser,
        maxRequestsPerUser: o.maxRequestsPerUser,
        allowReservedIdentity: o.allowReservedIdentity,
        log,
      });
      await serveUntilSignalled(
        log,
        `kubegate gateway listening on ${gateway.url}${gateway.metricsUrl ? ` metrics ${gateway.metricsUrl}` : ""}`,
        stopSignal,
        () => gateway.shutdown(),
      );
    });
}
