/**
 * What a request to the Kubernetes API is about, read from its method and request target the way
 * kube-apiserver's RequestInfoFactory (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go) reads them.
 *
 * The gateway's routing, tenant filters, metrics and audit must reach the same answer the apiserver will
 * reach for the same bytes, so only canonical request targets are accepted: anything a proxy, a path
 * cleaner or a second decoder could read differently (dot segments, empty segments, encoded slashes and
 * backslashes, NUL and other control characters, bad or overlong percent-encoding, fragments, absolute
 * URLs) is refused with a PathError, which the caller serves as 400 Bad Request.
 *
 * The query string is read as Go's url.ParseQuery reads it (pairs with a ';' or a bad escape are dropped,
 * '+' is a space), since that is what kube-apiserver will see when the target is forwarded unchanged.
 */
import { parseFieldSelector, unescapeFieldValue } from "../selectors/fields.ts";
import { parseLabelSelector } from "../selectors/labels.ts";

export interface RequestInfo {
  /** The decoded path without the query; a single trailing slash is kept, as kube's RequestInfo.Path keeps it. */
  path: string;
  /** The query as kube-apiserver parses it (Go's url.ParseQuery). */
  query: URLSearchParams;
  isResourceRequest: boolean;
  /**
   * Kubernetes verb for resource requests (get list watch create update patch delete deletecollection proxy,
   * or "" for a method kube has no verb for); the lowercased HTTP method for non-resource requests.
   */
  verb: string;
  /** Set for resource requests, and (as kube does) for `/apis/{group}/{version}` discovery. */
  apiPrefix?: "api" | "apis";
  /** "" for the core group. */
  apiGroup: string;
  apiVersion: string;
  /** "" if none. For `/api/v1/namespaces/{name}` (and its status, finalize) it is the namespace itself. */
  namespace: string;
  /** Plural resource name, e.g. "pods". */
  resource: string;
  /** e.g. "status", "exec", "log"; "" if none. */
  subresource: string;
  /** "" if none; may come from `fieldSelector=metadata.name=X` on a list or watch. */
  name: string;
  /** Resource requests: the decoded segments from the resource on (resource, name, subresource, rest). */
  parts: string[];
}

/** A request target that is not a canonical absolute path, or that kube-apiserver cannot resolve. */
export class PathError extends Error {
  override name = "PathError";
}

/** The longest path (raw, before the query) accepted, in bytes. */
export const MAX_PATH_BYTES = 8192;

/** Verbs kube-apiserver serves as long-running requests (kube-apiserver's LongRunningRequestCheck). */
const LONG_RUNNING_VERBS = new Set(["watch", "proxy"]);
/** Subresources kube-apiserver serves as long-running requests; `log` counts whether or not it follows. */
const LONG_RUNNING_SUBRESOURCES = new Set(["attach", "exec", "proxy", "log", "portforward"]);

/**
 * Whether kube-apiserver treats the request as long-running (exempt from the request timeout and the
 * max-in-flight limits): watch and proxy verbs, the streaming subresources of resource requests, and the
 * profiler under /debug/pprof/.
 */
export function isLongRunning(info: RequestInfo): boolean {
  if (LONG_RUNNING_VERBS.has(info.verb)) return true;
  if (info.isResourceRequest) return LONG_RUNNING_SUBRESOURCES.has(info.subresource);
  return info.path.startsWith("/debug/pprof/");
}

/**
 * Whether a resource request's path can name a cluster-scoped object: no namespace, or a namespace
 * itself (`/api/v1/namespaces/{name}`, where the namespace is the object). `/api/v1/namespaces/x/nodes`
 * and `/api/v1/namespaces/x/namespaces` are not API paths; the apiserver answers them 404.
 */
export function isClusterScopedTarget(info: RequestInfo): boolean {
  if (info.namespace === "") return true;
  return info.apiGroup === "" && info.resource === "namespaces" && info.name === info.namespace;
}

/** Path segments that name a verb instead of a resource (the deprecated /watch/ and /proxy/ forms). */
const SPECIAL_VERBS = new Set(["watch", "proxy"]);
/** Of those, the verbs after which a third part is not a subresource. */
const SPECIAL_VERBS_NO_SUBRESOURCES = new Set(["proxy"]);
/** Subresources of a namespace: `/namespaces/{name}/status` is the namespace, not a resource in it. */
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

/** Verbs by HTTP method, matched case-sensitively as Go does. */
const METHOD_VERBS = new Map([
  ["POST", "create"],
  ["GET", "get"],
  ["HEAD", "get"],
  ["PUT", "update"],
  ["PATCH", "patch"],
  ["DELETE", "delete"],
]);

export function parseRequestInfo(method: string, rawTarget: string): RequestInfo {
  const { rawPath, rawQuery } = splitTarget(rawTarget);
  const { segments, trailingSlash } = decodePath(rawPath);
  const path = segments.length === 0 ? "/" : `/${segments.join("/")}${trailingSlash ? "/" : ""}`;
  const query = parseQuery(rawQuery);
  const info: RequestInfo = {
    path,
    query,
    isResourceRequest: false,
    verb: method.toLowerCase(),
    apiGroup: "",
    apiVersion: "",
    namespace: "",
    resource: "",
    subresource: "",
    name: "",
    parts: [],
  };

  // Non-resource requests until proven otherwise: /, /api, /api/v1, /apis, /apis/g, /apis/g/v, /healthz, …
  const prefix = segments[0];
  if (segments.length < 3 || (prefix !== "api" && prefix !== "apis")) return info;
  info.apiPrefix = prefix;
  let rest = segments.slice(1);
  if (prefix === "apis") {
    if (rest.length < 3) return info;
    info.apiGroup = rest[0] as string;
    rest = rest.slice(1);
  }
  info.isResourceRequest = true;
  info.apiVersion = rest[0] as string;
  rest = rest.slice(1);

  // The deprecated /watch/… and /proxy/… forms name the verb whatever the method is.
  if (SPECIAL_VERBS.has(rest[0] as string)) {
    if (rest.length < 2)
      throw new PathError(`unable to determine kind and namespace from path ${quotePath(path)}`);
    info.verb = rest[0] as string;
    rest = rest.slice(1);
  } else {
    info.verb = METHOD_VERBS.get(method) ?? "";
  }

  // /namespaces/{ns}/{resource}/…: parts become relative to the resource, unless what follows the
  // namespace name is one of its own subresources (then the namespace is the object).
  if (rest[0] === "namespaces" && rest.length > 1) {
    info.namespace = rest[1] as string;
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2] as string)) rest = rest.slice(2);
  }
  info.parts = rest;
  info.resource = rest[0] ?? "";
  info.name = rest[1] ?? "";
  if (rest.length >= 3 && !SPECIAL_VERBS_NO_SUBRESOURCES.has(info.verb)) info.subresource = rest[2] as string;

  // A read without a name is a list or a watch; a fieldSelector on metadata.name then names the object.
  if (info.name === "" && info.verb === "get") {
    const opts = listOptions(query);
    info.verb = opts.watch ? "watch" : "list";
    info.name = opts.name;
  }
  if (info.name === "" && info.verb === "delete") info.verb = "deletecollection";
  return info;
}

function quotePath(path: string): string {
  return JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}…` : path);
}

/** Checks the request target as a whole and splits it at the first '?'. */
function splitTarget(rawTarget: string): { rawPath: string; rawQuery: string } {
  if (typeof rawTarget !== "string" || rawTarget === "") throw new PathError("request target is empty");
  if (/^[a-z][a-z0-9+.-]*:/i.test(rawTarget)) {
    throw new PathError("request target must be a path, not an absolute URL");
  }
  if (!rawTarget.startsWith("/")) throw new PathError("request target must be a path starting with '/'");
  for (let i = 0; i < rawTarget.length; i++) {
    const c = rawTarget.charCodeAt(i);
    if (c === 0) throw new PathError("request target must not contain NUL");
    if (c <= 0x20 || c === 0x7f)
      throw new PathError("request target must not contain spaces or control characters");
    if (c > 0x7e) throw new PathError("request target must be ASCII (percent-encode other characters)");
    if (c === 0x23 /* # */) throw new PathError("request target must not contain a fragment ('#')");
  }
  const q = rawTarget.indexOf("?");
  const rawPath = q === -1 ? rawTarget : rawTarget.slice(0, q);
  const rawQuery = q === -1 ? "" : rawTarget.slice(q + 1);
  // ASCII only by now, so characters are bytes.
  if (rawPath.length > MAX_PATH_BYTES)
    throw new PathError(`path must not be longer than ${MAX_PATH_BYTES} bytes`);
  return { rawPath, rawQuery };
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Lenient = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/** Percent-decodes `raw` (with '+' as a space if `plus`); undefined if an escape is malformed. */
function percentDecode(raw: string, plus: boolean, decoder: typeof utf8): string | undefined {
  if (!raw.includes("%") && !(plus && raw.includes("+"))) return raw;
  const bytes = new Uint8Array(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25 /* % */) {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      bytes[n++] = Number.parseInt(hex, 16);
      i += 2;
    } else {
      bytes[n++] = plus && c === 0x2b /* + */ ? 0x20 : c;
    }
  }
  return decoder.decode(bytes.subarray(0, n));
}

/** Splits the raw path into decoded segments, refusing anything that is not canonical. */
function decodePath(rawPath: string): { segments: string[]; trailingSlash: boolean } {
  if (rawPath === "/") return { segments: [], trailingSlash: false };
  let body = rawPath.slice(1);
  const trailingSlash = body.endsWith("/");
  if (trailingSlash) body = body.slice(0, -1);
  const segments: string[] = [];
  for (const raw of body.split("/")) {
    if (raw === "") throw new PathError("path must not contain empty segments ('//')");
    if (raw.includes("\\")) throw new PathError("path must not contain '\\'");
    let decoded: string | undefined;
    try {
      decoded = percentDecode(raw, false, utf8);
    } catch {
      throw new PathError("path must not contain percent-encoded bytes that are not UTF-8");
    }
    if (decoded === undefined)
      throw new PathError("path has invalid percent-encoding ('%' must be followed by two hex digits)");
    if (decoded !== raw) {
      // Raw '/', '\' and controls were refused above, so these came from percent-encoding.
      if (decoded.includes("/")) throw new PathError("path must not contain an encoded '/' (%2F)");
      if (decoded.includes("\\")) throw new PathError("path must not contain an encoded '\\' (%5C)");
      if (decoded.includes("\0")) throw new PathError("path must not contain NUL (%00)");
      // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
      if (/[\u0000-\u001f\u007f-\u009f]/.test(decoded)) {
        throw new PathError("path must not contain encoded control characters");
      }
    }
    if (decoded === ".") throw new PathError("path must not contain '.' segments");
    if (decoded === "..") throw new PathError("path must not contain '..' segments");
    segments.push(decoded);
  }
  return { segments, trailingSlash };
}

/**
 * Go's url.ParseQuery, as kube-apiserver applies it through URL.Query(): pairs split at '&' only, a pair
 * containing ';' or a malformed escape is dropped, '+' is a space, and a pair without '=' has value "".
 */
function parseQuery(rawQuery: string): URLSearchParams {
  const out = new URLSearchParams();
  if (rawQuery === "") return out;
  for (const pair of rawQuery.split("&")) {
    if (pair === "" || pair.includes(";")) continue;
    const eq = pair.indexOf("=");
    const key = percentDecode(eq === -1 ? pair : pair.slice(0, eq), true, utf8Lenient);
    const value = percentDecode(eq === -1 ? "" : pair.slice(eq + 1), true, utf8Lenient);
    if (key === undefined || value === undefined) continue;
    out.append(key, value);
  }
  return out;
}

/** Go's strings.EqualFold(v, "false"): ASCII case folding, plus 'ſ' (U+017F) which folds to 's'. */
function equalFoldFalse(v: string): boolean {
  return v.length === 5 && v.replace(/[A-Z]/g, (c) => c.toLowerCase()).replace(/\u017f/g, "s") === "false";
}

/**
 * The parts of kube's ListOptions decoding that decide the verb and name of an unnamed read. kube decodes
 * the whole query into ListOptions; if any of it fails to decode (a bad selector, a limit that is not an
 * integer) it falls back to reading `watch` alone and names nothing.
 */
function listOptions(query: URLSearchParams): { watch: boolean; name: string } {
  const watch = query.get("watch");
  if (!listOptionsDecode(query)) {
    // The fallback lowercases instead of folding, so it differs from the decoder only in 'ſ'.
    return { watch: watch !== null && watch.toLowerCase() !== "false" && watch !== "0", name: "" };
  }
  const name = exactMetadataName(query.get("fieldSelector") ?? "");
  return {
    watch: watch !== null && watch !== "0" && !equalFoldFalse(watch),
    name: name !== undefined && isValidPathSegmentName(name) ? name : "",
  };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** strconv.ParseInt(s, 10, 64) succeeds. */
function isInt64(s: string): boolean {
  if (!/^[+-]?[0-9]+$/.test(s)) return false;
  const n = BigInt(s);
  return n >= INT64_MIN && n <= INT64_MAX;
}

/** Whether the query decodes into metainternalversion.ListOptions without error. */
function listOptionsDecode(query: URLSearchParams): boolean {
  for (const key of ["limit", "timeoutSeconds"]) {
    const v = query.get(key);
    if (v !== null && !isInt64(v)) return false;
  }
  try {
    parseLabelSelector(query.get("labelSelector") ?? "");
    parseFieldSelector(query.get("fieldSelector") ?? "");
  } catch {
    return false;
  }
  return true;
}

/**
 * kube's fields.Selector.RequiresExactMatch("metadata.name") on a valid selector: the value of the first
 * `metadata.name=` or `metadata.name==` term, the terms taken in byte order as fields.ParseSelector sorts
 * them (so `metadata.name=a,metadata.name==b` yields "b").
 */
function exactMetadataName(selector: string): string | undefined {
  const terms: string[] = [];
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector.charCodeAt(i);
    if (c === 0x5c /* \ */) i++;
    else if (c === 0x2c /* , */) {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  terms.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const term of terms) {
    const m = /!=|==|=/.exec(term);
    if (m === null || m[0] === "!=" || term.slice(0, m.index) !== "metadata.name") continue;
    try {
      return unescapeFieldValue(term.slice(m.index + m[0].length));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** kube's path.IsValidPathSegmentName: not "." or "..", and no '/' or '%'. */
function isValidPathSegmentName(name: string): boolean {
  return name !== "." && name !== ".." && !name.includes("/") && !name.includes("%");
}
