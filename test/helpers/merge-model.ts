/**
 * A model of an accumulating table under the merge rules (docs/rules.md, "Merge rules"), in plain
 * TypeScript, for the model-based test: what the engine must store after each batch it applies,
 * and what it must count. Columns: `id` key, `seq` version (ties common), `label` replace,
 * `first_tag` keep, `note` ignoreNull, `total` add (numeric, exact: cents as bigint), `hits`
 * add (bigint), `peak` max, `low` min, `code` replace. A batch applies as its rows one at a time in winner order
 * (seq, then arrival: file, then row); a row older than the stored one gives the positional
 * columns nothing, and every row adds its deltas.
 */

/** mulberry32: a small seeded generator, so a failing run can be repeated with its seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ModelRow {
  id: number;
  seq: number;
  label: string | null;
  firstTag: string | null;
  note: string | null;
  /** A delta in cents. */
  total: bigint | null;
  hits: bigint | null;
  peak: number | null;
  low: number | null;
  code: number | null;
  /** Arrival: the file's index (files arrive in index order) and the row's number in it. */
  file: number;
  row: number;
}

export interface StoredRow {
  seq: number;
  file: number;
  row: number;
  label: string | null;
  firstTag: string | null;
  note: string | null;
  total: bigint;
  hits: bigint;
  peak: number | null;
  low: number | null;
  code: number | null;
}

export type ModelState = Map<number, StoredRow>;

export interface ModelCounts {
  read: number;
  collapsed: number;
  inserted: number;
  updated: number;
  unchanged: number;
  stale: number;
}

/** Rule 1: `r` may replace `s` (a greater version, or the same and an arrival not earlier). */
export function beats(r: Pick<ModelRow, 'seq' | 'file' | 'row'>, s: Pick<StoredRow, 'seq' | 'file' | 'row'>): boolean {
  return r.seq > s.seq || (r.seq === s.seq && (r.file > s.file || (r.file === s.file && r.row >= s.row)));
}

const winnerOrder = (a: ModelRow, b: ModelRow) => a.seq - b.seq || a.file - b.file || a.row - b.row;
const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
const minOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));

function applyOne(stored: StoredRow | undefined, r: ModelRow): StoredRow {
  if (!stored) {
    // Insert: a NULL delta gives nothing: the column's default (0).
    return { seq: r.seq, file: r.file, row: r.row, label: r.label, firstTag: r.firstTag, note: r.note, total: r.total ?? 0n, hits: r.hits ?? 0n, peak: r.peak, low: r.low, code: r.code };
  }
  const next: StoredRow = {
    ...stored,
    total: stored.total + (r.total ?? 0n),
    hits: stored.hits + (r.hits ?? 0n),
    peak: maxOf(stored.peak, r.peak),
    low: minOf(stored.low, r.low),
  };
  if (!beats(r, stored)) return next;
  return { ...next, seq: r.seq, file: r.file, row: r.row, label: r.label, code: r.code, firstTag: stored.firstTag ?? r.firstTag, note: r.note ?? stored.note };
}

/** The columns the engine compares to tell updated from unchanged (every batch column but the key; not the arrival). */
function sameValues(a: StoredRow, b: StoredRow): boolean {
  return a.seq === b.seq && a.label === b.label && a.firstTag === b.firstTag && a.note === b.note && a.total === b.total && a.hits === b.hits && a.peak === b.peak && a.low === b.low && a.code === b.code;
}

/**
 * Applies `rows` (one batch, or the part of it a statement applies) to `state` as one set-based
 * statement does, and returns what it counts.
 */
export function applySet(state: ModelState, rows: readonly ModelRow[]): ModelCounts {
  const counts: ModelCounts = { read: rows.length, collapsed: 0, inserted: 0, updated: 0, unchanged: 0, stale: 0 };
  const byKey = new Map<number, ModelRow[]>();
  for (const r of rows) byKey.set(r.id, [...(byKey.get(r.id) ?? []), r]);
  for (const [id, keyRows] of byKey) {
    counts.collapsed += keyRows.length - 1;
    const ordered = [...keyRows].sort(winnerOrder);
    const before = state.get(id);
    let after = before;
    for (const r of ordered) after = applyOne(after, r);
    if (!before) {
      state.set(id, after!);
      counts.inserted++;
    } else if (!sameValues(before, after!)) {
      state.set(id, after!);
      counts.updated++;
    } else if (!beats(ordered.at(-1)!, before)) {
      counts.stale++;
    } else {
      counts.unchanged++;
    }
  }
  return counts;
}

export function cloneState(state: ModelState): ModelState {
  return new Map([...state].map(([id, row]) => [id, { ...row }]));
}

/**
 * Replay of a batch whose statement failed (replay-batch.ts): rows the screen refuses are
 * quarantined at once; the rest are applied as a set, and a set that fails (`fails` says so of the
 * state it would leave) is split in halves, in winner order, down to single rows, which are
 * quarantined. Returns the quarantined rows.
 */
export function replaySet(state: ModelState, rows: readonly ModelRow[], screened: (r: ModelRow) => boolean, fails: (after: ModelState, rows: readonly ModelRow[]) => boolean): ModelRow[] {
  const quarantined = rows.filter(screened);
  const isolate = (part: readonly ModelRow[]) => {
    if (part.length === 0) return;
    const trial = cloneState(state);
    applySet(trial, part);
    if (!fails(trial, part)) {
      applySet(state, part);
      return;
    }
    if (part.length === 1) {
      quarantined.push(part[0]!);
      return;
    }
    const middle = part.length >> 1;
    isolate(part.slice(0, middle));
    isolate(part.slice(middle));
  };
  isolate(rows.filter((r) => !screened(r)).sort(winnerOrder));
  return quarantined;
}

/** Cents as PostgreSQL prints a numeric(20,2). */
export function centsText(cents: bigint): string {
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}
