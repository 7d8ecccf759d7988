import { isIP } from "node:net";
import { z } from "zod";
import { isDnsName } from "../pki/certificates.ts";
import { KubegateError } from "../status/errors.ts";

const flagName = (key: PropertyKey) => `--${String(key).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * Validates parsed command-line options against a schema. Every problem is reported at once, named by
 * the flag the user typed, so bad input is explained before anything is done.
 */
export function parseOptions<S extends z.ZodType>(schema: S, options: unknown): z.infer<S> {
  const result = schema.safeParse(options);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const flag = issue.path.length > 0 ? flagName(issue.path[0] as PropertyKey) : "options";
    return `  ${flag}: ${issue.message}`;
  });
  throw new KubegateError(`invalid options:\n${lines.join("\n")}`, { code: "KUBEGATE_INVALID_OPTION" });
}

/** Splits "a,b" and repeated flags alike into one trimmed list. */
export const list = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((v) =>
    (v === undefined ? [] : Array.isArray(v) ? v : [v])
      .flatMap((s) => s.split(","))
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  );

/** A repeatable flag whose values are taken whole (a group name may contain a comma). */
export const repeated = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]))
  .refine((v) => v.every((s) => s.trim() !== ""), { message: "must not be empty" });

export const dnsList = list.refine((names) => names.every(isDnsName), {
  message: "every entry must be a DNS name (letters, digits, '-', dots)",
});
export const ipList = list.refine((ips) => ips.every((ip) => isIP(ip) !== 0), {
  message: "every entry must be an IPv4 or IPv6 address",
});

export const days = z.coerce
  .number()
  .int("must be a whole number of days")
  .min(1, "must be at least 1")
  .max(36500, "must be at most 36500");

export const keyType = z.enum(["ecdsa", "rsa"], { message: 'must be "ecdsa" or "rsa"' });
export const keyBits = z.coerce
  .number()
  .refine((n) => n === 2048 || n === 3072 || n === 4096, { message: "must be 2048, 3072 or 4096" })
  .transform((n) => n as 2048 | 3072 | 4096);

export const path = z.string({ message: "is required" }).min(1, "must not be empty");
export const nonEmpty = z.string({ message: "is required" }).trim().min(1, "must not be empty");

/** "host:port", "[v6]:port" or ":port" (all IPv4 addresses). Port 0 asks for a free one. */
export const hostPort = z.string().transform((v, ctx) => {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    ctx.addIssue({ code: "custom", message: `must be HOST:PORT, e.g. 127.0.0.1:9443 (got "${v}")` });
    return z.NEVER;
  }
  const host = m[1] ?? m[2] ?? "";
  if (host !== "" && host !== "localhost" && isIP(host) === 0) {
    ctx.addIssue({ code: "custom", message: `host must be an IP address or localhost (got "${host}")` });
    return z.NEVER;
  }
  return { host: host === "" ? "0.0.0.0" : host, port };
});

/** A duration such as 30s, 2m, 1h or 500ms; a bare number is seconds. Returns milliseconds. */
export const duration = z.string().transform((v, ctx) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: "custom", message: `must be a duration like 30s, 2m or 500ms (got "${v}")` });
    return z.NEVER;
  }
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h"];
  return Number(m[1]) * scale;
});
