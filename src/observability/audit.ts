import { randomUUID } from "node:crypto";
import { pino } from "pino";
import type { UserInfo } from "../authn/user.ts";

/** One line per request, in the shape of kube-apiserver's audit.k8s.io/v1 Event (level Metadata). */
export interface AuditEvent {
  kind: "Event";
  apiVersion: "audit.k8s.io/v1";
  level: "Metadata";
  auditID: string;
  stage: "ResponseComplete" | "Panic";
  requestURI: string;
  verb: string;
  user: { username: string; uid?: string; groups?: string[] };
  impersonatedUser?: { username: string; uid?: string; groups?: string[] };
  sourceIPs: string[];
  userAgent?: string;
  objectRef?: {
    resource?: string;
    namespace?: string;
    name?: string;
    apiGroup?: string;
    apiVersion?: string;
    subresource?: string;
  };
  responseStatus: { metadata: Record<string, never>; code: number; message?: string };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  annotations?: Record<string, string>;
}

export type AuditSink = (event: AuditEvent) => void;

/** Audit events as JSON lines to a file, or to stdout for "-"; undefined turns auditing off. */
export function createAuditSink(target: string | undefined): AuditSink | undefined {
  if (!target) return undefined;
  const destination = pino.destination({ dest: target === "-" ? 1 : target, sync: false, mkdir: true });
  return (event) => destination.write(`${JSON.stringify(event)}\n`);
}

export function auditUser(u: UserInfo): AuditEvent["user"] {
  const out: AuditEvent["user"] = { username: u.name };
  if (u.uid) out.uid = u.uid;
  if (u.groups.length) out.groups = u.groups;
  return out;
}

export const newAuditId = () => randomUUID();
