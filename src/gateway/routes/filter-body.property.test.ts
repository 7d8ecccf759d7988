// Property-based tests of tenant filtering (issue #10, fuzzing): for lists, Tables, single objects and
// watch streams, nothing invisible is ever emitted, everything visible is, remainingItemCount never leaks
// and nothing throws.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { KubeObject } from "../../kube/informer.ts";
import { filterBody, filterWatchLine, WatchLineFilter } from "./filter-body.ts";

const RUNS = 1000;

/**
 * Any UTF-16 code point, lone surrogates included (fast-check's "binary" unit costs a second to build).
 * Biased to ASCII, where the grammar's symbols are.
 */
const anyChar = fc
  .oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0x10ffff }))
  .map((cp) => String.fromCodePoint(cp));

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------------------
// Generators.

const NAME_POOL = ["ns-0", "ns-1", "ns-2", "ns-3", "ns-4", "default", "kube-system", "secret", "in", ""];
const name = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...NAME_POOL) }, fc.string({ maxLength: 8 }));
/** The names a user may see, drawn at random; the predicate reads them as tenancy's does (o.metadata.name). */
const visibleNames = fc.uniqueArray(fc.constantFrom(...NAME_POOL), { maxLength: NAME_POOL.length });
const predicate = (names: readonly string[]) => {
  const set = new Set(names);
  return (o: KubeObject) => set.has(o.metadata.name);
};

/** Free text in labels and annotations: ASCII, or any Unicode (multi-byte in UTF-8). */
const asciiText = fc.string({ maxLength: 10 });
const unicodeText = fc.oneof(
  fc.string({ unit: fc.constantFrom("a", "ü", "é", "–", "团", "队", "🚀", "\u{10000}"), maxLength: 6 }),
  fc.constantFrom("équipe", "团队", "🚀 launch", "naïve – ok"),
);

const namedObject = (text: fc.Arbitrary<string>) =>
  fc.record(
    {
      kind: fc.constant("Namespace"),
      apiVersion: fc.constant("v1"),
      metadata: fc.record(
        {
          name,
          resourceVersion: fc.nat().map(String),
          labels: fc.dictionary(fc.constantFrom("team", "kubegate.io/tenant"), text, { maxKeys: 2 }),
          annotations: fc.dictionary(fc.constantFrom("description", "owner"), text, { maxKeys: 2 }),
        },
        { requiredKeys: ["name", "resourceVersion"] },
      ),
      spec: fc.constant({ finalizers: ["kubernetes"] }),
      status: fc.constantFrom({ phase: "Active" }, { phase: "Terminating" }),
    },
    { requiredKeys: ["kind", "apiVersion", "metadata"] },
  );

/** Items a list may hold, garbage included: nothing without a metadata.name is visible. */
const listItem = (text: fc.Arbitrary<string>) =>
  fc.oneof(
    { weight: 8, arbitrary: namedObject(text) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<unknown>(
        null,
        0,
        "ns-0",
        [],
        {},
        { metadata: null },
        { metadata: {} },
        { metadata: "ns-0" },
        { kind: "Namespace" },
      ),
    },
  );

const listMetadata = fc.option(
  fc.record(
    {
      resourceVersion: fc.nat().map(String),
      continue: fc.string({ maxLength: 6 }),
      remainingItemCount: fc.nat(),
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);

const list = (text: fc.Arbitrary<string>) =>
  fc.record(
    {
      kind: fc.constant("NamespaceList"),
      apiVersion: fc.constant("v1"),
      metadata: listMetadata,
      items: fc.array(listItem(text), { maxLength: 8 }),
    },
    { requiredKeys: ["kind", "items"] },
  );

/** A Table row: with its object's metadata (includeObject=Metadata), or without an object at all. */
const tableRow = (text: fc.Arbitrary<string>) =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: namedObject(text).map((o) => ({
        cells: [o.metadata.name, o.status?.phase ?? "Active", "5d"],
        object: {
          kind: "PartialObjectMetadata",
          apiVersion: "meta.k8s.io/v1",
          metadata: o.metadata,
        },
      })),
    },
    { weight: 1, arbitrary: fc.constantFrom<Json>({ cells: ["x"] }, { cells: ["x"], object: {} }) },
    { weight: 1, arbitrary: fc.constant<Json>({ cells: ["x"], object: { metadata: {} } }) },
  );

const table = (text: fc.Arbitrary<string>) =>
  fc.record(
    {
      kind: fc.constant("Table"),
      apiVersion: fc.constant("meta.k8s.io/v1"),
      metadata: listMetadata,
      columnDefinitions: fc.constant([
        { name: "Name", type: "string", format: "name" },
        { name: "Status", type: "string" },
        { name: "Age", type: "string" },
      ]),
      rows: fc.array(tableRow(text), { maxLength: 8 }),
    },
    { requiredKeys: ["kind", "rows"] },
  );

/** A watch event line as kube-apiserver writes it (JSON, one per line), with its parsed form. */
type Line = { text: string; event?: Json };
const eventLine = (text: fc.Arbitrary<string>): fc.Arbitrary<Line> =>
  fc
    .oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          type: fc.constantFrom("ADDED", "MODIFIED", "DELETED"),
          object: namedObject(text) as fc.Arbitrary<Json>,
        }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          type: fc.constantFrom("ADDED", "MODIFIED", "DELETED"),
          object: table(text) as fc.Arbitrary<Json>,
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          type: fc.constant("BOOKMARK"),
          object: fc.record({
            kind: fc.constant("Namespace"),
            apiVersion: fc.constant("v1"),
            metadata: fc.record(
              {
                resourceVersion: fc.nat().map(String),
                annotations: fc.constant({ "k8s.io/initial-events-end": "true" }),
              },
              { requiredKeys: ["resourceVersion"] },
            ),
          }) as fc.Arbitrary<Json>,
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          type: fc.constant("ERROR"),
          object: fc.record({
            kind: fc.constant("Status"),
            apiVersion: fc.constant("v1"),
            metadata: fc.constant({}),
            status: fc.constant("Failure"),
            message: text,
            reason: fc.constantFrom("Expired", "Gone", "InternalError"),
            code: fc.constantFrom(410, 500),
          }) as fc.Arbitrary<Json>,
        }),
      },
    )
    .map((event) => ({ text: JSON.stringify(event), event }));

const parsesAsJson = (s: string) => {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
};

/** Lines the filter cannot judge: blanks, text, JSON cut short. None holds a newline. */
const garbageLine = (text: fc.Arbitrary<string>): fc.Arbitrary<Line> =>
  fc
    .oneof(
      fc.constantFrom("", " ", "\t", "\r", "not json", "{", '{"type":"ADDED",'),
      fc.string({ unit: anyChar, maxLength: 20 }).filter((s) => !parsesAsJson(s)),
      fc
        .tuple(eventLine(text), fc.nat())
        .map(([l, cut]) => l.text.slice(0, cut % l.text.length))
        .filter((s) => !parsesAsJson(s)),
    )
    .filter((s) => !s.includes("\n"))
    .map((s) => ({ text: s }));

const watchLine = (text: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 4, arbitrary: eventLine(text) }, { weight: 1, arbitrary: garbageLine(text) });

// ---------------------------------------------------------------------------------------------------------
// The oracle and the leak check.

function visibleItem(item: unknown, names: ReadonlySet<string>): boolean {
  if (!isObject(item) || !isObject(item.metadata)) return false;
  const n = item.metadata.name;
  return typeof n === "string" && names.has(n);
}

const withoutCount = (metadata: unknown): Json => {
  const m: Json = { ...(metadata as Json) };
  delete m.remainingItemCount;
  // The apiserver's continue token names the next object: never passed on.
  delete m.continue;
  return m;
};

/** What filterBody must return, from the rules: visible items and rows in order, no remainingItemCount. */
function expectedBody(body: Json, names: ReadonlySet<string>): Json | undefined {
  if (body.kind === "Table" && Array.isArray(body.rows)) {
    const rows = body.rows.filter((r) => isObject(r) && visibleItem(r.object, names));
    return { ...body, metadata: withoutCount(body.metadata), rows };
  }
  if (Array.isArray(body.items)) {
    return {
      ...body,
      metadata: withoutCount(body.metadata),
      items: body.items.filter((i) => visibleItem(i, names)),
    };
  }
  return visibleItem(body, names) ? body : undefined;
}

/** What filterWatchLine must return for a generated line. */
function expectedLine(line: Line, names: ReadonlySet<string>): string | undefined {
  const event = line.event;
  if (event === undefined) return undefined;
  if (event.type === "BOOKMARK" || event.type === "ERROR") return `${line.text}\n`;
  const kept = expectedBody(event.object as Json, names);
  if (kept === undefined || (kept.kind === "Table" && (kept.rows as unknown[]).length === 0))
    return undefined;
  return `${JSON.stringify({ ...event, object: kept })}\n`;
}

/** Two emitted lines are the same event (key order aside: the filter rebuilds objects). */
function assertSameLines(
  got: readonly (string | undefined)[],
  want: readonly (string | undefined)[],
  why: string,
) {
  assert.equal(got.length, want.length, why);
  got.forEach((g, i) => {
    const w = want[i];
    if (g === undefined || w === undefined) {
      assert.equal(g, w, why);
      return;
    }
    assert.ok(g.endsWith("\n") && g.indexOf("\n") === g.length - 1, "one line");
    assert.deepEqual(JSON.parse(g), JSON.parse(w), why);
  });
}

/** Fails on any object anywhere in `value` whose metadata names something invisible, or holds a count. */
function assertNoLeak(value: unknown, names: ReadonlySet<string>, where = "$"): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      assertNoLeak(v, names, `${where}[${i}]`);
    });
    return;
  }
  if (!isObject(value)) return;
  if (isObject(value.metadata)) {
    const n = value.metadata.name;
    assert.ok(typeof n !== "string" || names.has(n), `${where} shows the invisible ${JSON.stringify(n)}`);
    assert.ok(!("remainingItemCount" in value.metadata), `${where}.metadata has remainingItemCount`);
  }
  for (const [k, v] of Object.entries(value)) assertNoLeak(v, names, `${where}.${k}`);
}

/** filterWatchLine over a byte stream, through the splitter handleFiltered uses. */
function splitAsHandleFiltered(chunks: readonly Buffer[], visible: (o: KubeObject) => boolean): string[] {
  const lines = new WatchLineFilter(visible);
  return chunks.flatMap((c) => lines.push(c));
}

/** Cuts bytes at random offsets (any offset: inside a multi-byte character too). */
const chunked = (bytes: Buffer, cuts: readonly number[]) => {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...at, bytes.length]) {
    out.push(bytes.subarray(from, c));
    from = c;
  }
  return out;
};

// ---------------------------------------------------------------------------------------------------------

describe("filterBody (property-based)", () => {
  const body = fc.oneof(
    list(unicodeText) as fc.Arbitrary<Json>,
    table(unicodeText) as fc.Arbitrary<Json>,
    namedObject(unicodeText) as fc.Arbitrary<Json>,
  );

  it("keeps exactly the visible items and rows, in order, without remainingItemCount; never throws", () => {
    const seen = { kept: 0, dropped: 0 };
    fc.assert(
      fc.property(body, visibleNames, (generated, names) => {
        // as decoded from the apiserver's response
        const b = JSON.parse(JSON.stringify(generated)) as Json;
        const set = new Set(names);
        const before = structuredClone(b);
        const got = filterBody(b, predicate(names));
        assert.deepEqual(b, before, "the input is not modified");
        const want = expectedBody(b, set);
        assert.deepEqual(got, want);
        if (got !== undefined) {
          assertNoLeak(got, set);
          assert.ok(!("remainingItemCount" in ((got.metadata as Json | undefined) ?? {})));
          const kept = ((got.items ?? got.rows ?? [got]) as unknown[]).length;
          const all = ((b.items ?? b.rows ?? [b]) as unknown[]).length;
          seen.kept += kept;
          seen.dropped += all - kept;
          // visible things are kept as they came
          for (const x of (got.items ?? got.rows ?? []) as unknown[]) {
            assert.ok(((b.items ?? b.rows) as unknown[]).includes(x), "the same item, not a copy");
          }
        } else seen.dropped++;
      }),
      { numRuns: RUNS },
    );
    assert.ok(seen.kept > 500 && seen.dropped > 500, JSON.stringify(seen));
  });

  it("a Table row whose object has metadata: null does not throw", () => {
    fc.assert(
      fc.property(visibleNames, (names) => {
        const got = filterBody({ kind: "Table", rows: [{ object: { metadata: null } }] }, predicate(names));
        assert.deepEqual(got?.rows, []);
      }),
      { numRuns: 20 },
    );
  });
});

describe("filterWatchLine (property-based)", () => {
  it("emits visible events, bookmarks and errors as the oracle says; drops the rest; never throws", () => {
    const seen = { emitted: 0, dropped: 0 };
    fc.assert(
      fc.property(watchLine(unicodeText), visibleNames, (line, names) => {
        const set = new Set(names);
        const got = filterWatchLine(line.text, predicate(names));
        assertSameLines([got], [expectedLine(line, set)], line.text);
        const type = line.event?.type;
        if (type === "BOOKMARK" || type === "ERROR") assert.equal(got, `${line.text}\n`, "passed verbatim");
        if (got === undefined) {
          seen.dropped++;
          return;
        }
        seen.emitted++;
        assertNoLeak(JSON.parse(got), set);
      }),
      { numRuns: 1000 },
    );
    assert.ok(seen.emitted > 300 && seen.dropped > 300, JSON.stringify(seen));
  });

  it("arbitrary JSON lines (other than null) never throw and never show anything named invisible", () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 3 }), visibleNames, (text, names) => {
        fc.pre(JSON.parse(text) !== null);
        const got = filterWatchLine(text, predicate(names));
        if (got !== undefined) assertNoLeak(JSON.parse(got), new Set(names));
      }),
      { numRuns: RUNS },
    );
  });

  it("the JSON line `null` is dropped, not a TypeError", () => {
    fc.assert(
      fc.property(fc.constantFrom("null", " null", "null\r"), visibleNames, (text, names) => {
        assert.equal(filterWatchLine(text, predicate(names)), undefined);
      }),
      { numRuns: 10 },
    );
  });

  it("a JSON line that is not a judgeable event is not emitted", () => {
    const unjudgeable = fc
      .tuple(eventLine(asciiText), fc.constantFrom("array", "nullObject", "otherKey"))
      .filter(([l]) => l.event?.type !== "BOOKMARK" && l.event?.type !== "ERROR")
      .map(([l, how]) =>
        how === "array"
          ? `[${l.text}]`
          : how === "nullObject"
            ? JSON.stringify({ type: "ADDED", object: null, items: [l.event?.object] })
            : JSON.stringify({ type: "ADDED", Object: l.event?.object }),
      );
    fc.assert(
      fc.property(unjudgeable, fc.constant([] as string[]), (text, names) => {
        assert.equal(filterWatchLine(text, predicate(names)), undefined, text);
      }),
      { numRuns: 200 },
    );
  });

  it("BOOKMARK and ERROR events carrying a named object are judged like other events", () => {
    fc.assert(
      fc.property(namedObject(asciiText), fc.constantFrom("BOOKMARK", "ERROR"), (o, type) => {
        const out = filterWatchLine(JSON.stringify({ type, object: o }), predicate([]));
        if (out !== undefined) assertNoLeak(JSON.parse(out), new Set());
      }),
      { numRuns: 50 },
    );
  });
});

describe("watch stream line splitting (property-based)", () => {
  const ns = (name: string, annotations: Record<string, string>) => ({
    kind: "Namespace",
    apiVersion: "v1",
    metadata: { name, resourceVersion: "1", annotations },
  });
  const line = (event: Json): Line => ({ text: JSON.stringify(event), event });
  const stream = (text: fc.Arbitrary<string>) =>
    fc.record({
      lines: fc.array(watchLine(text), { maxLength: 12 }),
      names: visibleNames,
      cuts: fc.array(fc.nat(), { maxLength: 30 }),
    });

  const check = ({ lines, names, cuts }: { lines: Line[]; names: string[]; cuts: number[] }) => {
    const set = new Set(names);
    const bytes = Buffer.from(lines.map((l) => `${l.text}\n`).join(""), "utf8");
    const got = splitAsHandleFiltered(chunked(bytes, cuts), predicate(names));
    const want = lines.map((l) => expectedLine(l, set)).filter((l) => l !== undefined);
    assertSameLines(got, want, "the visible events, in order, whatever the chunking");
    for (const l of got) assertNoLeak(JSON.parse(l), set);
  };

  it("ASCII event streams chunked at random byte boundaries give the visible events in order", () => {
    fc.assert(fc.property(stream(asciiText), check), { numRuns: 500 });
  });

  it("UTF-8 event streams chunked inside multi-byte characters give the visible events unchanged", () => {
    // One visible event with a multi-byte annotation, cut once anywhere: the smallest failing shape.
    const oneEvent = fc.record({
      lines: fc
        .constantFrom("ü", "团队", "🚀")
        .map((text) => [line({ type: "ADDED", object: ns("ns-0", { description: text }) })]),
      names: fc.constant<string[]>(["ns-0"]),
      cuts: fc.array(fc.nat(200), { minLength: 1, maxLength: 1 }),
    });
    fc.assert(fc.property(fc.oneof(oneEvent, stream(unicodeText)), check), { numRuns: 300 });
  });
});
