import { quoteIdent as q } from '../core/identifiers.ts';
import { SNAP_ALL, SNAP_ARRIVAL, SNAP_CHUNK, SNAP_FILE } from '../core/snapshot-plan.ts';
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
   * Inserts the keys (and scope values) of the rows into the keys table under file `$1`; the
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
  SELECT $1::text, ${values.join(', ')} FROM unnest(${arrays.join(', ')}) AS u(${names.join(', ')})${where}
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
 * `$1` file id, `$2` its arrival prefix, `$3` scopes per chunk.
 */
export function compileScopeClaim(r: RemovalTarget): string {
  const covered = r.scope.length
    ? `SELECT DISTINCT ${r.scope.map(q).join(', ')} FROM ${r.keys} WHERE ${q(SNAP_FILE)} = $1::text AND ${r.scope.map((s) => `${q(s)} IS NOT NULL`).join(' AND ')}`
    : `SELECT true AS ${q(SNAP_ALL)}`;
  const names = scopeNames(r.scope);
  return `WITH covered AS (
  ${covered}
), numbered AS (
  SELECT ${names.join(', ')}, ((row_number() OVER (ORDER BY ${names.join(', ')})) - 1) / $3::int AS chunk FROM covered
), put AS (
  INSERT INTO ${r.scopes} AS w (${[...names, q(SNAP_ARRIVAL), q(SNAP_FILE), q(SNAP_CHUNK)].join(', ')})
  SELECT ${names.join(', ')}, $2::text, $1::text, chunk FROM numbered
  ON CONFLICT (${names.join(', ')}) DO UPDATE SET ${q(SNAP_ARRIVAL)} = EXCLUDED.${q(SNAP_ARRIVAL)}, ${q(SNAP_FILE)} = EXCLUDED.${q(SNAP_FILE)}, ${q(SNAP_CHUNK)} = EXCLUDED.${q(SNAP_CHUNK)}
    WHERE w.${q(SNAP_ARRIVAL)} COLLATE "C" < EXCLUDED.${q(SNAP_ARRIVAL)} COLLATE "C"
  RETURNING ${q(SNAP_CHUNK)} AS chunk
)
SELECT (SELECT count(*) FROM covered)::int AS covered, count(*)::int AS live, coalesce(max(chunk) + 1, 0)::int AS chunks FROM put`;
}

/** Names of the counts a removal chunk returns per scope (never a scope column's name). */
const STORED = 'landfall$stored';
const REMOVED = 'landfall$removed';

/**
 * The removal of one chunk of a file's live scopes: ONE statement, a set-based anti-join of the
 * scope's stored rows against the file's keys. A row goes when its key is not in the file and
 * the snapshot wins over its last write (its arrival is earlier: the removal is a write at the
 * snapshot's arrival, `winnerGuard` without a version, since the file has no row for the key).
 * Hard: deleted. Soft: the soft-delete column set to the file's time (`$5`) and the arrival to
 * the snapshot's, once (a row marked already is left alone). The statement also counts each
 * scope's stored rows (before the removal, the file's own rows included) for the guard.
 * `$1` file id, `$2` chunk, `$3` arrival prefix, `$4` maxRemovedShare[, `$5` file time].
 * Returns the chunk's scopes, stored and removed rows, scopes over the share, and the scope
 * with the largest share removed (`worst`: its scope values and counts, as JSON).
 */
export function compileRemovalChunk(r: RemovalTarget): string {
  const names = scopeNames(r.scope);
  const live = `SELECT ${names.join(', ')} FROM ${r.scopes} WHERE ${q(SNAP_FILE)} = $1::text AND ${q(SNAP_CHUNK)} = $2::int`;
  const inScope = scopeJoin(r.scope, 'cur', 'live');
  const notDeleted = r.softDelete ? ` AND cur.${q(r.softDelete)} IS NULL` : '';
  const newer = winnerGuard({ arrivalColumn: r.arrivalColumn, version: null }, 'cur', 'snap');
  const missing = `NOT EXISTS (SELECT 1 FROM ${r.keys} AS k WHERE k.${q(SNAP_FILE)} = $1::text AND ${keyJoin(r, 'k', 'cur')})`;
  const snap = `(SELECT $3::text AS ${q(r.arrivalColumn)}) AS snap`;
  const returning = scopeList(r.scope, 'live').join(', ');
  const gone = r.softDelete
    ? `UPDATE ${r.target} AS cur SET ${q(r.softDelete)} = $5::timestamptz, ${q(r.arrivalColumn)} = $3::text
  FROM live, ${snap}
  WHERE ${inScope}${notDeleted} AND ${newer} AND ${missing}
  RETURNING ${returning}`
    : `DELETE FROM ${r.target} AS cur USING live, ${snap}
  WHERE ${inScope} AND ${newer} AND ${missing}
  RETURNING ${returning}`;
  const group = names.join(', ');
  return `WITH live AS (
  ${live}
), stored AS (
  SELECT ${scopeList(r.scope, 'live').join(', ')}, count(*)::bigint AS n FROM live JOIN ${r.target} AS cur ON ${inScope}${notDeleted} GROUP BY ${scopeList(r.scope, 'live').join(', ')}
), gone AS (
  ${gone}
), per AS (
  SELECT ${group}, count(*)::bigint AS n FROM gone GROUP BY ${group}
), joined AS (
  SELECT ${scopeList(r.scope, 's').join(', ')}, s.n AS ${q(STORED)}, coalesce(p.n, 0)::bigint AS ${q(REMOVED)}
  FROM stored AS s LEFT JOIN per AS p ON ${scopeJoin(r.scope.length ? r.scope : [SNAP_ALL], 'p', 's')}
)
SELECT (SELECT count(*) FROM live)::int AS scopes,
       coalesce(sum(${q(STORED)}), 0)::bigint AS stored,
       coalesce(sum(${q(REMOVED)}), 0)::bigint AS removed,
       (count(*) FILTER (WHERE ${q(REMOVED)} > $4::float8 * ${q(STORED)}))::int AS over,
       (SELECT to_jsonb(j) FROM joined AS j WHERE j.${q(REMOVED)} > 0 ORDER BY j.${q(REMOVED)}::float8 / j.${q(STORED)} DESC, j.${q(REMOVED)} DESC LIMIT 1) AS worst
FROM joined`;
}

/** The worst scope of a chunk as the statement returns it: its scope values, then the two counts. */
export function splitWorst(worst: Record<string, unknown> | null): { scope: Record<string, unknown>; stored: number; removed: number } | null {
  if (!worst) return null;
  const { [STORED]: stored, [REMOVED]: removed, [SNAP_ALL]: _all, ...scope } = worst;
  return { scope, stored: Number(stored), removed: Number(removed) };
}

/** `$1` file id: how many keys the file's batches recorded (checked against the ledger before anything is removed). */
export const countKeysSql = (keys: string) => `SELECT count(*)::bigint AS n FROM ${keys} WHERE ${q(SNAP_FILE)} = $1::text`;

/** `$1` file id: forget the keys of a file whose removal is done. */
export const forgetKeysSql = (keys: string) => `DELETE FROM ${keys} WHERE ${q(SNAP_FILE)} = $1::text`;
