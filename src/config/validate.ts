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
  throw new KubegateError(`invalid options:\n${lines.join("\n")}`);
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
