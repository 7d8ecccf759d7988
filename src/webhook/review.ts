import { z } from "zod";
import { ALL_LISTS, type ContainerList, type Pod, podPatch } from "./mutate.ts";

const API_VERSIONS = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"] as const;

const reviewSchema = z.object({
  apiVersion: z.enum(API_VERSIONS, { message: "apiVersion must be admission.k8s.io/v1 or v1beta1" }),
  kind: z.literal("AdmissionReview", { message: 'kind must be "AdmissionReview"' }),
  request: z.object(
    {
      uid: z.string({ message: "request.uid is required" }).min(1, "request.uid must not be empty"),
      kind: z.object({ group: z.string(), version: z.string(), kind: z.string() }).optional(),
      resource: z.object({ group: z.string(), version: z.string(), resource: z.string() }).optional(),
      subResource: z.string().optional(),
      operation: z.string({ message: "request.operation is required" }),
      object: z.unknown().optional(),
    },
    { message: "request is required" },
  ),
});

const podSchema = z.object({
  metadata: z
    .object({ labels: z.record(z.string(), z.string()).nullish() })
    .passthrough()
    .nullish(),
  spec: z
    .object({
      containers: z
        .array(
          z.object({ env: z.array(z.object({ name: z.string() }).passthrough()).nullish() }).passthrough(),
        )
        .nullish(),
      initContainers: z
        .array(
          z.object({ env: z.array(z.object({ name: z.string() }).passthrough()).nullish() }).passthrough(),
        )
        .nullish(),
      ephemeralContainers: z
        .array(
          z.object({ env: z.array(z.object({ name: z.string() }).passthrough()).nullish() }).passthrough(),
        )
        .nullish(),
    })
    .passthrough()
    .nullish(),
});

export interface ReviewResponse {
  apiVersion: (typeof API_VERSIONS)[number];
  kind: "AdmissionReview";
  response: {
    uid: string;
    allowed: boolean;
    patchType?: "JSONPatch";
    patch?: string;
    status?: { code: number; message: string };
  };
}

export type ReviewOutcome =
  | { kind: "review"; body: ReviewResponse; patched: boolean }
  /** Not even a uid could be read: the caller answers HTTP 400 with this message. */
  | { kind: "bad-request"; message: string };

function firstIssue(err: z.ZodError): string {
  const issue = err.issues[0];
  return issue ? `${issue.path.length ? `${issue.path.join(".")}: ` : ""}${issue.message}` : "invalid";
}

/** uid and version of a review even when the rest is broken, to answer in kind. */
function identify(body: unknown): { uid: string; apiVersion: ReviewResponse["apiVersion"] } | undefined {
  const b = body as { apiVersion?: unknown; request?: { uid?: unknown } } | null;
  const uid = b?.request?.uid;
  if (typeof uid !== "string" || uid === "") return undefined;
  const apiVersion = API_VERSIONS.find((v) => v === b?.apiVersion) ?? "admission.k8s.io/v1";
  return { uid, apiVersion };
}

function refuse(
  id: { uid: string; apiVersion: ReviewResponse["apiVersion"] },
  message: string,
): ReviewOutcome {
  return {
    kind: "review",
    patched: false,
    body: {
      apiVersion: id.apiVersion,
      kind: "AdmissionReview",
      response: { uid: id.uid, allowed: false, status: { code: 400, message } },
    },
  };
}

/**
 * Decides one AdmissionReview: pods are patched, other kinds pass untouched, anything undecodable is
 * answered with allowed=false and a 400 result (or a plain 400 when not even the uid is readable).
 * Answers in the review's own apiVersion.
 */
export function review(text: string, contentType: string | undefined, fqdn: string): ReviewOutcome {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {
      kind: "bad-request",
      message: text.trim() === "" ? "empty request body" : "request body is not JSON",
    };
  }
  const id = identify(body);
  if (!contentType || !/^application\/json\b/i.test(contentType)) {
    const message = `Content-Type must be application/json, not "${contentType ?? ""}"`;
    return id ? refuse(id, message) : { kind: "bad-request", message };
  }
  const parsed = reviewSchema.safeParse(body);
  if (!parsed.success) {
    const message = `invalid AdmissionReview: ${firstIssue(parsed.error)}`;
    return id ? refuse(id, message) : { kind: "bad-request", message };
  }
  const { apiVersion, request } = parsed.data;
  const allowed = (patch?: string): ReviewOutcome => ({
    kind: "review",
    patched: patch !== undefined,
    body: {
      apiVersion,
      kind: "AdmissionReview",
      response: {
        uid: request.uid,
        allowed: true,
        ...(patch ? { patchType: "JSONPatch" as const, patch } : {}),
      },
    },
  });
  const isPod = request.kind ? request.kind.group === "" && request.kind.kind === "Pod" : true;
  // A created Pod gets every container patched. Afterwards a Pod's containers are immutable: only the
  // ephemeral containers added through the ephemeralcontainers subresource (kubectl debug) can be.
  let lists: readonly ContainerList[] = [];
  if (request.operation === "CREATE" && !request.subResource) lists = ALL_LISTS;
  else if (request.subResource === "ephemeralcontainers") lists = ["ephemeralContainers"];
  if (!isPod || lists.length === 0) return allowed();
  const pod = podSchema.safeParse(request.object);
  if (!pod.success || request.object === undefined || request.object === null) {
    return refuse(
      { uid: request.uid, apiVersion },
      `request.object is not a decodable Pod: ${pod.success ? "missing" : firstIssue(pod.error)}`,
    );
  }
  const ops = podPatch(pod.data as Pod, fqdn, lists);
  return ops.length === 0 ? allowed() : allowed(Buffer.from(JSON.stringify(ops)).toString("base64"));
}
