import { quoteIdent as q } from '../core/identifiers.ts';
import { SNAP_ALL, SNAP_ARRIVAL, SNAP_CHUNK, SNAP_FILE, SNAP_STORED } from '../core/snapshot-plan.ts';
import type { UpsertPlan } from '../core/upsert-plan.ts';
import { keyJoin, winnerGuard } from './compile-upsert.ts';
import { scopeJoin } from './compile-snapshot-guard.ts';

/**
 * The statements of the snapshot rule (docs/rules.md): the keys a snapshot file holds, recorded
 * by each batch; each scope's newest snapshot; the removal, one set-based anti-join per chunk of
 * scopes; and the parts the upsert statement takes from here (a row older than its scope's
 * newest snapshot is stale; a write clears the soft-delete column). Texts depend only on the
 * table, never on the row count: values travel as one array parameter per column.
 */

/** What the removal's statements need of a snapshot table (snapshot-removal.ts builds it from the prepared table). */
export interface RemovalTarget {
  /** Quoted, schema-qualified target. */
  target: string;
  key: string[];
  /** The unique index treats NULL keys as equal. */
  nullsEqual: boolean;
  /** Key columns compared as another type (a domain over an enum), as the upsert compares them. */
  keyCasts?: Record<string, string>;
  /** Scope columns; empty: the whole table. */
  scope: string[];
  softDelete: string | null;
  arrivalColumn: string;
  /** Quoted keys and scopes tables (snapshot-tables.ts). */
  keys: string;
  scopes: string;
  /** Key columns, then scope columns outside the key: the keys table's columns after the file. */
  recorded: string[];
}

/** The scope columns as a select list of `alias`, or the whole-table marker. */
const scopeList = (scope: readonly string[], alias: string) => (scope.length ? scope.map((s) => `${alias}.${q(s)}`) : [`${alias}.${q(SNAP_ALL)}`]);
const scopeNames = (scope: readonly string[]) => (scope.length ? scope.map(q) : [q(SNAP_ALL)]);

/** `$1` a file arrival prefix: true when some scope's newest snapshot is newer (a batch of all-new keys must then take the upsert, which knows). */
export const newerSnapshotSql = (scopes: string) => `SELECT EXISTS (SELECT 1 FROM ${scopes} WHERE ${q(SNAP_ARRIVAL)} COLLATE "C" > $1::text COLLATE "C") AS newer`;

/** A file's arrival as a scope remembers it: before every row of that file, after every row of an earlier one. */
export const snapshotArrivalOf = (fileArrival: string) => `${fileArrival}!`;

export interface CompiledKeyRecord {
  /**
   * Inserts the keys (and scope values) of the rows into the keys table under file number `$1`; the
   * value arrays follow, then (screened) one type name per array. Returns `recorded`.
   */
  text: string;
  /** Batch input (column position) of each value array, in order. */
  inputs: number[];
  /** Screened only: the full type each array is checked against. */
  types: string[];
}

/**
 * The statement that records a batch's keys for its file's removal. `plain`: the values cast as
 * the upsert casts them (the batch's transaction fails on a value that does not cast, as the
 * upsert would). `screened` (replay, rows quarantined before binding): a row whose key or scope
 * value does not cast is left out, and counted by the caller as a row without a trusted key.
 */
export function compileKeyRecord(plan: UpsertPlan, target: Pick<RemovalTarget, 'keys' | 'recorded'>, screened: { fullTypes: Map<string, string> } | null): CompiledKeyRecord {
  const columns = target.recorded.map((name) => {
    const column = plan.columns.find((c) => c.name === name);
    if (!column) throw new Error(`snapshot keys: column "${name}" is not in the batch`);
    return column;
  });
  const inputs = columns.map((c) => c.input);
  const names = columns.map((_, i) => `v${i}`);
  const values = screened
    ? columns.map((c, i) => `u.v${i}::${c.type}`)
    : columns.map((c, i) => `u.v${i}${c.cast ? `::${c.cast}` : ''}`);
  const arrays = columns.map((c, i) => `$${i + 2}::${screened ? 'text' : c.param}[]`);
  const where = screened ? ` WHERE ${columns.map((_, i) => `(u.v${i} IS NULL OR pg_input_is_valid(u.v${i}, $${columns.length + 2 + i}::text))`).join(' AND ')}` : '';
  const text = `WITH ins AS (
  INSERT INTO ${target.keys} (${[q(SNAP_FILE), ...target.recorded.map(q)].join(', ')})
  SELECT $1::int8, ${values.join(', ')} FROM unnest(${arrays.join(', ')}) AS u(${names.join(', ')})${where}
  RETURNING 1
)
SELECT count(*)::int AS recorded FROM ins`;
  return { text, inputs, types: screened ? columns.map((c) => screened.fullTypes.get(c.name)!) : [] };
}

/**
 * Claims the scopes a file covers for its removal: every scope its keys name (the whole table
 * for a whole-table scope, even for an empty file), numbered into chunks, and recorded as the
 * scope's newest snapshot where the file is newer than the one recorded. Scopes a newer
 * snapshot already settled are superseded: the file removes nothing there.
 * `$1` the file's number (`snapshot_files.seq`), `$2` its arrival prefix, `$3` scopes per chunk.
 */
export function compileScopeClaim(r: RemovalTarget): string {
  const covered = r.scope.length
    ? `SELECT DISTINCT ${r.scope.map(q).join(', ')} FROM ${r.keys} WHERE ${q(SNAP_FILE)} = $1::int8 AND ${r.scope.map((s) => `${q(s)} IS NOT NULL`).join(' AND ')}`
    : `SELECT true AS ${q(SNAP_ALL)}`;
  const names = scopeNames(r.scope);
  return `WITH covered AS (
  ${covered}
), numbered AS (
  SELECT ${names.join(', ')}, ((row_number() OVER (ORDER BY ${names.join(', ')})) - 1) / $3::int AS chunk FROM covered
), put AS (
  INSERT INTO ${r.scopes} AS w (${[...names, q(SNAP_ARRIVAL), q(SNAP_FILE), q(SNAP_CHUNK)].join(', ')})
  SELECT ${names.join(', ')}, $2::text, $1::int8, chunk FROM numbered
  ON CONFLICT (${names.join(', ')}) DO UPDATE SET ${q(SNAP_ARRIVAL)} = EXCLUDED.${q(SNAP_ARRIVAL)}, ${q(SNAP_FILE)} = EXCLUDED.${q(SNAP_FILE)}, ${q(SNAP_CHUNK)} = EXCLUDED.${q(SNAP_CHUNK)}
    WHERE w.${q(SNAP_ARRIVAL)} COLLATE "C" < EXCLUDED.${q(SNAP_ARRIVAL)} COLLATE "C"
  RETURNING ${q(SNAP_CHUNK)} AS chunk
)
SELECT (SELECT count(*) FROM covered)::int AS covered, count(*)::int AS live, coalesce(max(chunk) + 1, 0)::int AS chunks FROM put`;
}

/** Names of the counts kept per scope (never a scope column's name: `landfall$` names are reserved). */
const STORED = SNAP_STORED;
const REMOVED = 'landfall$removed';

/** The chunk's live scopes: `$1` the file's number, `$2` the chunk. */
const liveOf = (r: RemovalTarget) => `SELECT ${scopeNames(r.scope).join(', ')} FROM ${r.scopes} WHERE ${q(SNAP_FILE)} = $1::int8 AND ${q(SNAP_CHUNK)} = $2::int`;

/**
 * Rows the scope `w` holds now (a soft-deleted row is not held): one index look per scope (the
 * scope's rows through an index on its columns, as the unique index of a per-parent key is), so
 * its cost follows the scope's rows, whatever the planner thinks of the scopes table.
 */
function heldBy(r: RemovalTarget, w: string): string {
  const notDeleted = r.softDelete ? ` AND cur.${q(r.softDelete)} IS NULL` : '';
  return `(SELECT count(*) FROM ${r.target} AS cur WHERE ${scopeJoin(r.scope, 'cur', w)}${notDeleted})`;
}

/**
 * Before a chunk's removal: each live scope's stored rows (the file's own rows included), kept
 * in the scopes table for the guard, and the chunk's scopes and their rows.
 * `$1` the file's number, `$2` chunk.
 */
export function compileStoredCounts(r: RemovalTarget): string {
  return `WITH u AS (
  UPDATE ${r.scopes} AS w SET ${q(STORED)} = ${heldBy(r, 'w')}
  WHERE w.${q(SNAP_FILE)} = $1::int8 AND w.${q(SNAP_CHUNK)} = $2::int
  RETURNING w.${q(STORED)} AS n
)
SELECT count(*)::int AS scopes, coalesce(sum(n), 0)::float8 AS stored FROM u`;
}

/**
 * The removal of one chunk of a file's live scopes: ONE statement, a set-based anti-join of the
 * scopes' stored rows against the file's keys. A row goes when its key is not in the file and
 * the snapshot wins over its last write (its arrival is earlier: the removal is a write at the
 * snapshot's arrival, `winnerGuard` without a version, since the file has no row for the key).
 * Hard: deleted. Soft: the soft-delete column set to the file's time and the arrival to the
 * snapshot's, once (a row marked already is left alone).
 *
 * Whole table: the statement alone; the command's row count is the removed rows (`$1` the
 * file's number, `$2` chunk, `$3` arrival prefix[, `$4` file time]). Per scope: the removed rows
 * are counted per scope in the same statement and set against each scope's stored rows
 * (`compileStoredCounts`), which gives the chunk's removed rows, the scopes over `$4`
 * (maxRemovedShare), and the one that lost the largest share (`worst`: its scope values and
 * counts, as JSON) (`$1`, `$2`, `$3` as above, `$4` the share[, `$5` file time]).
 */
export function compileRemovalChunk(r: RemovalTarget): string {
  const inScope = scopeJoin(r.scope, 'cur', 'live');
  const newer = winnerGuard({ arrivalColumn: r.arrivalColumn, version: null }, 'cur', 'snap');
  const missing = `NOT EXISTS (SELECT 1 FROM ${r.keys} AS k WHERE k.${q(SNAP_FILE)} = $1::int8 AND ${keyJoin(r, 'k', 'cur')})`;
  const from = `(${liveOf(r)}) AS live, (SELECT $3::text AS ${q(r.arrivalColumn)}) AS snap`;
  const perScope = r.scope.length > 0;
  const fileTime = perScope ? '$5::timestamptz' : '$4::timestamptz';
  const returning = perScope ? `\nRETURNING ${scopeList(r.scope, 'live').join(', ')}` : '';
  const remove = r.softDelete
    ? `UPDATE ${r.target} AS cur SET ${q(r.softDelete)} = ${fileTime}, ${q(r.arrivalColumn)} = $3::text
FROM ${from}
WHERE ${inScope} AND cur.${q(r.softDelete)} IS NULL AND ${newer} AND ${missing}${returning}`
    : `DELETE FROM ${r.target} AS cur USING ${from}
WHERE ${inScope} AND ${newer} AND ${missing}${returning}`;
  if (!perScope) return remove;
  const names = r.scope.map(q);
  return `WITH gone AS (
${remove}
), per AS (
  SELECT ${names.join(', ')}, count(*)::bigint AS n FROM gone GROUP BY ${names.join(', ')}
), j AS (
  SELECT ${r.scope.map((s) => `w.${q(s)}`).join(', ')}, w.${q(STORED)}, p.n AS ${q(REMOVED)}
  FROM per AS p JOIN ${r.scopes} AS w ON ${scopeJoin(r.scope, 'w', 'p')}
)
SELECT coalesce(sum(${q(REMOVED)}), 0)::float8 AS removed,
       (count(*) FILTER (WHERE ${q(REMOVED)} > $4::float8 * ${q(STORED)}))::int AS over,
       (SELECT to_jsonb(x) FROM j AS x ORDER BY x.${q(REMOVED)}::float8 / x.${q(STORED)} DESC, x.${q(REMOVED)} DESC LIMIT 1) AS worst
FROM j`;
}

/** The worst scope of a chunk as the statement returns it: its scope values, then the two counts. */
export function splitWorst(worst: Record<string, unknown> | null): { scope: Record<string, unknown>; stored: number; removed: number } | null {
  if (!worst) return null;
  const { [STORED]: stored, [REMOVED]: removed, [SNAP_ALL]: _all, [SNAP_ARRIVAL]: _a, [SNAP_FILE]: _f, [SNAP_CHUNK]: _c, ...scope } = worst;
  return { scope, stored: Number(stored), removed: Number(removed) };
}

/** `$1` the file's number: forget the keys of a file whose removal is done. */
export const forgetKeysSql = (keys: string) => `DELETE FROM ${keys} WHERE ${q(SNAP_FILE)} = $1::int8`;
