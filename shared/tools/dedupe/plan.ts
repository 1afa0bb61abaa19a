import type { CatalogColumn, TableCatalog, UniqueIndex } from '../../core/catalog-types.ts';
import { createIndexStatement, indexMismatch, uniqueIndexName } from '../../core/conflict-key.ts';
import { quoteIdent, quoteQualified, type QualifiedName } from '../../core/identifiers.ts';
import { formatKeepRule, type KeepRule } from './keep-rule.ts';

/** Everything in one place that a dedupe writes besides the table itself. */
export const BACKUP_SCHEMA = 'landfall_backup';
export const RUNS_TABLE = 'dedupe_runs';
/** Extra columns of a backup table, after the copied ones. */
export const BACKUP_CTID_COLUMN = '_landfall_dedupe_ctid';
export const BACKUP_WINNER_COLUMN = '_landfall_dedupe_winner';
export const BACKUP_AT_COLUMN = '_landfall_dedupe_at';

export class DedupePlanError extends Error {
  override name = 'DedupePlanError';
}

export type TieBreak = { kind: 'primary-key'; columns: string[] } | { kind: 'ctid' };

export interface DedupeOptions {
  key: readonly string[];
  /** A resolved rule (column filled in for newest/oldest). */
  keep: KeepRule;
  /**
   * Treat NULL key values as equal (the index is created NULLS NOT DISTINCT). Undefined: decide
   * from the catalog — NULLS NOT DISTINCT exactly when a key column is nullable.
   */
  nullsNotDistinct?: boolean | undefined;
  batchSize: number;
}

/** SQL of one dedupe, compiled once from the catalog; values are bind parameters (`$1`...). */
export interface DedupePlan {
  table: QualifiedName;
  quoted: string;
  key: string[];
  keep: KeepRule;
  keepText: string;
  nullsNotDistinct: boolean;
  tieBreak: TieBreak;
  batchSize: number;
  /** Columns copied into the backup (every column of the table, in order). */
  columns: string[];
  /** The unique index the run ends with, and the statement that creates it. */
  indexName: string;
  createIndex: string;
  dropIndex: string;
  sql: {
    /** Duplicate groups and surplus rows; NULL-key groups counted apart. */
    duplicateStats: string;
    /** `$1` groups, `$2` rows per group: the first duplicate groups by key, winner first (rank 1). */
    sample: string;
  };
}

/** Names a run's tables; a run's backup table name is fixed when it starts. */
export interface RunTables {
  backup: QualifiedName;
  plan: QualifiedName;
}

const MAX_IDENT = 63;

/** Cuts a name to PostgreSQL's 63-byte identifier limit without splitting a character. */
export function truncateIdent(name: string, max = MAX_IDENT): string {
  let out = '';
  for (const ch of name) {
    if (Buffer.byteLength(out + ch) > max) break;
    out += ch;
  }
  return out;
}

/** `orders_20261123_101500` (UTC), the table's schema prefixed when it is not `public`. */
export function backupTableName(table: QualifiedName, startedAt: Date): QualifiedName {
  const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  const base = table.schema === 'public' ? table.name : `${table.schema}_${table.name}`;
  // room for "_<stamp>" and the plan table's "_plan"
  return { schema: BACKUP_SCHEMA, name: `${truncateIdent(base, MAX_IDENT - stamp.length - 1 - 5)}_${stamp}` };
}

export function runTables(backup: QualifiedName): RunTables {
  return { backup, plan: { schema: backup.schema, name: `${backup.name}_plan` } };
}

/** Whether an existing index already makes the key unique the way the run wants. */
export function indexServes(index: UniqueIndex, key: readonly string[], nullsNotDistinct: boolean, keyColumns: CatalogColumn[]): boolean {
  if (indexMismatch(index, key) !== null) return false;
  return index.nullsNotDistinct || !nullsNotDistinct || keyColumns.every((c) => c.notNull);
}

function primaryKeyTieBreak(catalog: TableCatalog): TieBreak {
  const pk = catalog.uniqueIndexes.find((ix) => ix.primary && ix.valid && !ix.partial && !ix.expression);
  return pk ? { kind: 'primary-key', columns: pk.columns } : { kind: 'ctid' };
}

/**
 * Compiles a dedupe of `catalog` by `options.key`: the winner of a group is the first row in
 * `ORDER BY <keep column> DESC|ASC NULLS LAST, <tie-break> DESC|ASC`, a total order. A loser is
 * only ever deleted when, in the deleting transaction, a row of the same key that precedes it
 * in that order is present and locked; so the current winner of a group is never deleted,
 * however stale the plan, however many times a run is interrupted and resumed.
 */
export function planDedupe(catalog: TableCatalog, options: DedupeOptions): DedupePlan {
  const byName = new Map(catalog.columns.map((c) => [c.name, c]));
  const key = [...options.key];
  if (key.length === 0) throw new DedupePlanError('--key needs at least one column');
  if (new Set(key).size !== key.length) throw new DedupePlanError('--key lists a column twice');
  const missing = key.filter((k) => !byName.has(k));
  if (missing.length) {
    throw new DedupePlanError(`key column(s) ${missing.map((m) => `"${m}"`).join(', ')} do not exist in ${catalog.table.schema}.${catalog.table.name}`);
  }
  if (catalog.partitioning?.length) {
    // ctid, which the run tells rows apart by, repeats across partitions.
    throw new DedupePlanError(
      `${catalog.table.schema}.${catalog.table.name} is partitioned, and dedupe works on a plain table: run it on each partition that holds duplicates ` +
        `(a key that includes every partition key column never spans two partitions), then create the index on the table: ${createIndexStatement(catalog, key)}`,
    );
  }
  const keep = options.keep;
  if (keep.kind !== 'any') {
    if (keep.column === null) throw new DedupePlanError(`--keep ${keep.kind} has no column (resolve it first)`);
    if (!byName.has(keep.column)) throw new DedupePlanError(`keep column "${keep.column}" does not exist in ${catalog.table.schema}.${catalog.table.name}`);
    if (key.includes(keep.column)) throw new DedupePlanError(`keep column "${keep.column}" is part of the key; it is equal within a group`);
  }
  for (const reserved of [BACKUP_CTID_COLUMN, BACKUP_WINNER_COLUMN, BACKUP_AT_COLUMN]) {
    if (byName.has(reserved)) throw new DedupePlanError(`the table has a column "${reserved}", which the backup table reserves`);
  }
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new DedupePlanError('--batch must be a positive integer');
  const keyColumns = key.map((k) => byName.get(k)!);
  const nullable = keyColumns.filter((c) => !c.notNull).map((c) => c.name);
  const nullsNotDistinct = options.nullsNotDistinct ?? nullable.length > 0;
  const tieBreak = primaryKeyTieBreak(catalog);
  const columns = catalog.columns.map((c) => c.name);
  const indexName = uniqueIndexName(catalog.table, key);

  const k = key.map(quoteIdent).join(', ');
  const ordered = keyOrder(keep, tieBreak);

  return {
    table: catalog.table,
    quoted: catalog.quoted,
    key,
    keep,
    keepText: formatKeepRule(keep),
    nullsNotDistinct,
    tieBreak,
    batchSize: options.batchSize,
    columns,
    indexName,
    createIndex: createIndexStatement(catalog, key, nullsNotDistinct && nullable.length > 0),
    dropIndex: `DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(catalog.table.schema)}.${quoteIdent(indexName)};`,
    sql: {
      duplicateStats: duplicateStatsSql(catalog.quoted, key, nullable),
      sample: `WITH g AS (
  SELECT ${k} FROM ${catalog.quoted} ${keyFilter(nullsNotDistinct, nullable)}
  GROUP BY ${k} HAVING count(*) > 1 ORDER BY ${k} LIMIT $1
), ranked AS (
  SELECT ${key.map((c) => `t.${quoteIdent(c)}::text AS ${quoteIdent(`key:${c}`)}`).join(', ')},
         ${keep.column ? `t.${quoteIdent(keep.column)}::text` : 'NULL::text'} AS "keepValue",
         t.ctid::text AS ctid,
         row_number() OVER grp AS rank,
         count(*) OVER (PARTITION BY ${key.map((c) => `t.${quoteIdent(c)}`).join(', ')})::float8 AS "groupSize",
         ${key.map((c, i) => `t.${quoteIdent(c)} AS k${i}`).join(', ')}
  FROM ${catalog.quoted} t JOIN g ON ${sameKey(key, nullsNotDistinct, 't', 'g')}
  WINDOW grp AS (PARTITION BY ${key.map((c) => `t.${quoteIdent(c)}`).join(', ')} ORDER BY ${ordered.replaceAll('$.', 't.')})
)
SELECT * FROM ranked WHERE rank <= $2 ORDER BY ${key.map((_, i) => `k${i}`).join(', ')}, rank`,
    },
  };
}

/** `ORDER BY` items putting a group's winner first; `$.` stands for the row's alias. */
function keyOrder(keep: KeepRule, tieBreak: TieBreak): string {
  const dir = keep.kind === 'oldest' ? 'ASC' : 'DESC';
  const tb = tieBreak.kind === 'ctid' ? [`$.ctid ${dir}`] : tieBreak.columns.map((c) => `$.${quoteIdent(c)} ${dir}`);
  return [...(keep.column ? [`$.${quoteIdent(keep.column)} ${dir} NULLS LAST`] : []), ...tb].join(', ');
}

function keyFilter(nullsNotDistinct: boolean, nullable: string[]): string {
  if (nullsNotDistinct || nullable.length === 0) return '';
  return `WHERE ${nullable.map((c) => `${quoteIdent(c)} IS NOT NULL`).join(' AND ')}`;
}

function sameKey(key: string[], nullsNotDistinct: boolean, a: string, b: string): string {
  return key
    .map((c) => `${a}.${quoteIdent(c)} ${nullsNotDistinct ? 'IS NOT DISTINCT FROM' : '='} ${b}.${quoteIdent(c)}`)
    .join(' AND ');
}

/** `w` precedes `l` in the winner order (the same total order as `keyOrder`). */
function beats(keep: KeepRule, tieBreak: TieBreak): string {
  const cmp = keep.kind === 'oldest' ? '<' : '>';
  const tb =
    tieBreak.kind === 'ctid'
      ? `w.wc ${cmp} l.lc`
      : `(${tieBreak.columns.map((c) => `w.${quoteIdent(c)}`).join(', ')}) ${cmp} (${tieBreak.columns.map((c) => `l.${quoteIdent(c)}`).join(', ')})`;
  if (!keep.column) return tb;
  const v = quoteIdent(keep.column);
  return `((w.${v} IS NOT NULL AND l.${v} IS NULL) OR w.${v} ${cmp} l.${v} OR (w.${v} IS NOT DISTINCT FROM l.${v} AND ${tb}))`;
}

/** Duplicate groups and surplus rows by key; groups whose key has a NULL are counted apart. */
export function duplicateStatsSql(quotedTable: string, key: readonly string[], nullable: readonly string[]): string {
  const k = key.map(quoteIdent).join(', ');
  const nullFlag = nullable.length ? nullable.map((c) => `${quoteIdent(c)} IS NULL`).join(' OR ') : 'false';
  // The same scan counts the table's rows (doctor prints them: the planner's estimate may be stale).
  return `SELECT count(*) FILTER (WHERE n > 1 AND NOT has_null)::float8 AS groups,
       coalesce(sum(n - 1) FILTER (WHERE n > 1 AND NOT has_null), 0)::float8 AS surplus,
       count(*) FILTER (WHERE n > 1 AND has_null)::float8 AS "nullGroups",
       coalesce(sum(n - 1) FILTER (WHERE n > 1 AND has_null), 0)::float8 AS "nullSurplus",
       coalesce(sum(n), 0)::float8 AS rows
FROM (SELECT count(*) AS n, (${nullFlag}) AS has_null FROM ${quotedTable} GROUP BY ${k}) g`;
}

/** The planner's guess of the number of distinct keys, read from `EXPLAIN (FORMAT JSON)`. */
export function distinctEstimateSql(quotedTable: string, key: readonly string[]): string {
  return `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${quotedTable} GROUP BY ${key.map(quoteIdent).join(', ')}`;
}

/** SQL that depends on the run's tables. */
export interface RunSql {
  createSchema: string;
  createRuns: string;
  createBackup: string[];
  dropPlan: string;
  /** Fills the plan table: one row per loser with the winner it lost to, numbered in ctid order. */
  buildPlan: string[];
  countPlan: string;
  /** `$1` < plan id <= `$2`: copy then delete one batch of losers; the count is rows moved. */
  applyBatch: string;
  dropBackup: string;
  /** The statement that puts the removed rows back (the unique index must be dropped first). */
  restore: string;
}

export function compileRunSql(plan: DedupePlan, tables: RunTables, catalog: TableCatalog): RunSql {
  const backup = quoteQualified(tables.backup);
  const work = quoteQualified(tables.plan);
  const t = plan.quoted;
  const k = plan.key.map(quoteIdent).join(', ');
  const nullable = plan.key.filter((c) => !catalog.columns.find((x) => x.name === c)!.notNull);
  const order = keyOrder(plan.keep, plan.tieBreak).replaceAll('$.', '');
  const compared = [
    ...plan.key,
    ...(plan.keep.column ? [plan.keep.column] : []),
    ...(plan.tieBreak.kind === 'primary-key' ? plan.tieBreak.columns : []),
  ];
  const pick = [...new Set(compared)].map((c) => `t.${quoteIdent(c)}`).join(', ');
  const cols = plan.columns.map(quoteIdent);
  const writable = catalog.columns.filter((c) => !c.generated).map((c) => quoteIdent(c.name));
  const runs = quoteQualified({ schema: BACKUP_SCHEMA, name: RUNS_TABLE });
  return {
    createSchema: `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(BACKUP_SCHEMA)}`,
    createRuns: `CREATE TABLE IF NOT EXISTS ${runs} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_schema text NOT NULL,
  table_name text NOT NULL,
  key text[] NOT NULL,
  keep text NOT NULL,
  nulls_not_distinct boolean NOT NULL,
  backup_table text NOT NULL,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'abandoned')),
  removed bigint NOT NULL DEFAULT 0,
  index_name text,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
)`,
    createBackup: [
      `CREATE TABLE IF NOT EXISTS ${backup} (LIKE ${t})`,
      `ALTER TABLE ${backup} ADD COLUMN IF NOT EXISTS ${quoteIdent(BACKUP_CTID_COLUMN)} tid,
  ADD COLUMN IF NOT EXISTS ${quoteIdent(BACKUP_WINNER_COLUMN)} tid,
  ADD COLUMN IF NOT EXISTS ${quoteIdent(BACKUP_AT_COLUMN)} timestamptz NOT NULL DEFAULT now()`,
    ],
    dropPlan: `DROP TABLE IF EXISTS ${work}`,
    buildPlan: [
      `CREATE UNLOGGED TABLE ${work} AS
SELECT row_number() OVER (ORDER BY loser) AS id, loser, winner FROM (
  SELECT ctid AS loser, first_value(ctid) OVER w AS winner, row_number() OVER w AS rn
  FROM ${t} ${keyFilter(plan.nullsNotDistinct, nullable)}
  WINDOW w AS (PARTITION BY ${k} ORDER BY ${order})
) ranked WHERE rn > 1`,
      `ALTER TABLE ${work} ADD PRIMARY KEY (id)`,
    ],
    countPlan: `SELECT count(*)::float8 AS losers, count(DISTINCT winner)::float8 AS groups FROM ${work}`,
    applyBatch: `WITH pairs AS (
  SELECT loser, winner FROM ${work} WHERE id > $1 AND id <= $2
), w AS (
  SELECT t.ctid AS wc, ${pick} FROM ${t} t WHERE t.ctid = ANY (ARRAY(SELECT winner FROM pairs)) FOR SHARE
), l AS (
  SELECT t.ctid AS lc, ${pick} FROM ${t} t WHERE t.ctid = ANY (ARRAY(SELECT loser FROM pairs))
), doomed AS (
  SELECT l.lc, w.wc FROM pairs JOIN l ON l.lc = pairs.loser JOIN w ON w.wc = pairs.winner
  WHERE ${sameKey(plan.key, plan.nullsNotDistinct, 'w', 'l')} AND ${beats(plan.keep, plan.tieBreak)}
), removed AS (
  DELETE FROM ${t} t WHERE t.ctid = ANY (ARRAY(SELECT lc FROM doomed))
  RETURNING ${cols.map((c) => `t.${c}`).join(', ')}, t.ctid AS ${quoteIdent(BACKUP_CTID_COLUMN)}
)
INSERT INTO ${backup} (${cols.join(', ')}, ${quoteIdent(BACKUP_CTID_COLUMN)}, ${quoteIdent(BACKUP_WINNER_COLUMN)})
SELECT removed.*, doomed.wc FROM removed JOIN doomed ON doomed.lc = removed.${quoteIdent(BACKUP_CTID_COLUMN)}`,
    dropBackup: `DROP TABLE IF EXISTS ${backup}`,
    restore: `INSERT INTO ${t} (${writable.join(', ')}) OVERRIDING SYSTEM VALUE SELECT ${writable.join(', ')} FROM ${backup};`,
  };
}

export { formatKeepRule };
