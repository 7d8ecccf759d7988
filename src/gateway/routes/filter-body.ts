// What a tenant may see of a list, a Table, a single object or a watch stream: pure functions over
// the apiserver's JSON, given the index's verdict on one object's metadata. Anything that cannot be
// judged (no metadata, not JSON) is not shown.
import type { KubeObject } from "../../kube/informer.ts";

export type Visible = (o: KubeObject) => boolean;

interface TableRow {
  object?: { metadata?: KubeObject["metadata"] };
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** Only objects with metadata can be judged; anything else is not shown. */
const judgeable = (o: unknown): o is KubeObject => isObject(o) && isObject(o.metadata);

function keepRow(visible: Visible, row: TableRow): boolean {
  return isObject(row) && judgeable(row.object) && visible({ metadata: row.object.metadata });
}

/** Filters a list, a Table or a single object; returns undefined when nothing of it may be shown. */
export function filterBody(
  body: Record<string, unknown>,
  visible: Visible,
): Record<string, unknown> | undefined {
  if (body.kind === "Table" && Array.isArray(body.rows)) {
    const rows = (body.rows as TableRow[]).filter((r) => keepRow(visible, r));
    const metadata = { ...(body.metadata as object) } as Record<string, unknown>;
    delete metadata.remainingItemCount;
    // The apiserver's token names the next object, which may be one the user may not see.
    delete metadata.continue;
    return { ...body, metadata, rows };
  }
  if (Array.isArray(body.items)) {
    const items = (body.items as unknown[]).filter((i) => judgeable(i) && visible(i));
    const metadata = { ...(body.metadata as object) } as Record<string, unknown>;
    // A count of what the user may not see is itself a leak, and the next key a name.
    delete metadata.remainingItemCount;
    delete metadata.continue;
    return { ...body, metadata, items };
  }
  return judgeable(body) && visible({ metadata: body.metadata }) ? body : undefined;
}

/** One watch event line in, the same line or nothing out (Table events lose invisible rows). */
export function filterWatchLine(line: string, visible: Visible): string | undefined {
  if (line.trim() === "") return undefined;
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    return undefined;
  }
  // Fail closed: a line that is not an event with an object cannot be judged, so it is not shown.
  if (!isObject(event) || !isObject(event.object)) return undefined;
  const object = event.object;
  // Real bookmarks carry only a resourceVersion and real errors a Status; one naming an object is judged.
  const named = isObject(object.metadata) && object.metadata.name !== undefined;
  if (!named && (event.type === "BOOKMARK" || (event.type === "ERROR" && object.kind === "Status")))
    return `${line}\n`;
  const kept = filterBody(object, visible);
  if (!kept) return undefined;
  if (kept.kind === "Table" && (kept.rows as unknown[]).length === 0) return undefined;
  return `${JSON.stringify({ ...event, object: kept })}\n`;
}

/**
 * A watch byte stream cut into lines and filtered. UTF-8 is decoded in streaming mode: a character split
 * across two chunks must not turn into two replacement characters.
 */
export class WatchLineFilter {
  readonly #decoder = new TextDecoder();
  #buffered = "";
  constructor(private readonly visible: Visible) {}

  /** The filtered lines a chunk completes (each ends with a newline). */
  push(chunk: Uint8Array): string[] {
    this.#buffered += this.#decoder.decode(chunk, { stream: true });
    const out: string[] = [];
    let nl = this.#buffered.indexOf("\n");
    while (nl !== -1) {
      const kept = filterWatchLine(this.#buffered.slice(0, nl), this.visible);
      if (kept) out.push(kept);
      this.#buffered = this.#buffered.slice(nl + 1);
      nl = this.#buffered.indexOf("\n");
    }
    return out;
  }
}
