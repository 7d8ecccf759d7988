import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** The gateway's Prometheus metrics, in their own registry (served on the metrics port only). */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: "kubegate_requests_total",
    help: "Requests handled, by Kubernetes verb, resource and HTTP status code.",
    labelNames: ["verb", "resource", "code"] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: "kubegate_request_duration_seconds",
    help: "Time from request to response end (whole stream for watches and tunnels), by verb and resource.",
    labelNames: ["verb", "resource"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly inflight = new Gauge({
    name: "kubegate_inflight_requests",
    help: "Requests in progress, long-running (watch, exec, ...) or not.",
    labelNames: ["long_running"] as const,
    registers: [this.registry],
  });
  readonly authnFailures = new Counter({
    name: "kubegate_authentication_failures_total",
    help: "Requests refused because no credential was valid.",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "kubegate_" });
  }

  /** Labels must come from closed sets (metric-labels.ts): every distinct value is a series kept forever. */
  observe(verb: string, resource: string, code: string, seconds: number): void {
    this.requests.inc({ verb, resource, code });
    this.duration.observe({ verb, resource }, seconds);
  }
}
