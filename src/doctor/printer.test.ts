import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatJson, formatText } from "./printer.ts";
import type { Report } from "./types.ts";

const report = (over: Partial<Report> = {}): Report => ({
  ok: false,
  namespace: "kubegate-system",
  cluster: "https://127.0.0.1:6443",
  checks: [
    {
      id: "apiservice",
      title: "APIService v1.custom.api.local is Available",
      outcome: "problem",
      durationMs: 3,
      findings: [
        {
          outcome: "problem",
          message:
            "APIService v1.custom.api.local is not Available: FailedDiscoveryCheck: connection refused",
          fix: "is kubegate apiserver running?",
        },
      ],
    },
    {
      id: "client-cert",
      title: "client certificate",
      outcome: "ok",
      durationMs: 1,
      findings: [{ outcome: "ok", message: 'user "alice", groups "team-a"' }],
    },
  ],
  summary: { problem: 1, warning: 0, ok: 1, skipped: 0 },
  ...over,
});

describe("formatText", () => {
  it("puts each check's outcome first, its findings under it and each fix under its problem", () => {
    const text = formatText(report());
    assert.equal(
      text,
      [
        "kubegate doctor: cluster https://127.0.0.1:6443, namespace kubegate-system",
        "",
        "problem  APIService v1.custom.api.local is Available [apiservice]",
        "  - problem  APIService v1.custom.api.local is not Available: FailedDiscoveryCheck: connection refused",
        "             fix: is kubegate apiserver running?",
        "ok       client certificate [client-cert]",
        '  - ok       user "alice", groups "team-a"',
        "",
        "2 checks: 1 ok, 0 warning, 1 problem, 0 skipped",
        "problems found: see the fix under each problem",
        "",
      ].join("\n"),
    );
  });

  it("says plainly when nothing of kubegate was found to check", () => {
    const r = report({
      ok: true,
      checks: [
        { id: "connection", title: "kube-apiserver answers", outcome: "ok", durationMs: 1, findings: [] },
        { id: "webhook", title: "webhook", outcome: "skipped", durationMs: 1, findings: [] },
      ],
      summary: { problem: 0, warning: 0, ok: 1, skipped: 1 },
    });
    const text = formatText(r);
    assert.match(text, /no problems found\n/);
    assert.match(text, /nothing of kubegate was found to check in namespace kubegate-system/);
    assert.doesNotMatch(formatText(report()), /nothing of kubegate/);
  });
});

describe("formatText with a shared fix", () => {
  it("prints a fix shared by consecutive problems once, under the last", () => {
    const problem = (message: string) => ({ outcome: "problem" as const, message, fix: "bind the role" });
    const text = formatText(
      report({
        checks: [
          {
            id: "gateway-rbac",
            title: "gateway",
            outcome: "problem",
            durationMs: 1,
            findings: [problem("may not a"), problem("may not b")],
          },
        ],
      }),
    );
    assert.match(text, /may not a\n {2}- problem {2}may not b\n {13}fix: bind the role\n\n/);
    assert.equal(text.match(/fix:/g)?.length, 1);
  });
});

describe("formatJson", () => {
  it("is the report itself, parseable", () => {
    assert.deepEqual(JSON.parse(formatJson(report())), report());
  });
});
