// Continue tokens for the pages of a filtered list. The apiserver's own tokens are base64 JSON holding
// the etcd key to resume from, i.e. the name of the next object, which for a tenant is usually an
// object they may not see. So the gateway never hands one out: it seals where it stopped (the
// upstream token, the list's resourceVersion, how many items of that upstream page it already
// consumed) with AES-256-GCM, bound to the user and the resource. A token that was not sealed by this
// gateway for this user and resource does not open: the client gets a 400 Status, never another list.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { badRequest } from "../../status/status.ts";

export interface PageState {
  /** The upstream continue token of the page to read next ("" = the list's first page). */
  upstream: string;
  /** The list's resourceVersion: the first page is read again at exactly this version. */
  resourceVersion: string;
  /** Items of that upstream page already handed out. */
  skip: number;
}

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class ContinueTokens {
  readonly #key: Buffer;

  /**
   * `secret`: material every replica shares (the serving key), so that a page started on one replica
   * continues on another; without it, a random key (tokens then work on this process only).
   */
  constructor(secret?: string | Buffer) {
    this.#key = secret
      ? Buffer.from(hkdfSync("sha256", secret, "kubegate", "continue tokens v1", 32))
      : randomBytes(32);
  }

  seal(state: PageState, bind: string): string {
    return this.sealValues([VERSION, state.upstream, state.resourceVersion, state.skip], bind);
  }

  /** The state a token carries; a 400 Status for anything this gateway did not seal for `bind`. */
  open(token: string, bind: string): PageState {
    const [version, upstream, resourceVersion, skip] = this.openValues(token, bind);
    if (
      version !== VERSION ||
      typeof upstream !== "string" ||
      typeof resourceVersion !== "string" ||
      !Number.isSafeInteger(skip) ||
      (skip as number) < 0
    )
      throw invalidToken();
    return { upstream, resourceVersion, skip: skip as number };
  }

  /** Seals a short array of plain values (what a route needs to resume), bound to `bind`. */
  sealValues(values: readonly (string | number)[], bind: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(bind));
    const sealed = Buffer.concat([cipher.update(Buffer.from(JSON.stringify(values))), cipher.final()]);
    return Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString("base64url");
  }

  /** The values a token carries; a 400 Status for anything this gateway did not seal for `bind`. */
  openValues(token: string, bind: string): unknown[] {
    const raw = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, "base64url") : Buffer.alloc(0);
    if (raw.length < IV_BYTES + TAG_BYTES + 1 || raw.length > 8192) throw invalidToken();
    let value: unknown;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(bind));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
        decipher.final(),
      ]);
      value = JSON.parse(plain.toString("utf8"));
    } catch {
      throw invalidToken();
    }
    if (!Array.isArray(value)) throw invalidToken();
    return value;
  }
}

export const invalidToken = () =>
  badRequest("continue token is not valid: it was not issued for this list", "KUBEGATE_BAD_CONTINUE");
