import type postgres from 'postgres';
import { loadCatalog } from '../../postgres/catalog.ts';
import { type TableCatalog } from '../../core/catalog-types.ts';
import type { Sql } from '../../postgres/db.ts';
import { quoteQualified, type QualifiedName } from '../../core/identifiers.ts';
import { resolveKeepRule, type KeepRule } from './keep-rule.ts';
import {
  BACKUP_SCHEMA,
  RUNS_TABLE,
  backupTableName,
  compileRunSql,
  indexServes,
  planDedupe,
  runTables,
  type DedupePlan,
  type RunSql,
  type RunTables,
} from './plan.ts';

export interface DedupeRequest {
  table: QualifiedName;
  key: readonly string[];
  /** As parsed from `--keep`; a bare newest/oldest is resolved from the two columns below. */
  keep: KeepRule;
  /** The configured version column of the table, if any. */
  versionColumn?: string | null;
  /** The configured arrival column name (used by a bare newest/oldest when the table has it). */
  arrivalColumn?: string | null;
  /** Undefined: NULLS NOT DISTINCT exactly when a key column is nullable. */
  nullsNotDistinct?: boolean | undefined;
  batchSize: number;
}

export type DedupeProgress =
  | { phase: 'plan'; pass: number }
  | { phase: 'delete'; pass: number; removed: number; total: number }
  | { phase: 'index'; attempt: number; statement: string }
  | { phase: 'index-retry'; attempt: number; reason: string }
  | { phase: 'verify' };

export interface DedupeRunOptions {
  /** Abandon an unfinished run of the same table and key (its backup table stays). */
  restart?: boolean;
  /** CREATE UNIQUE INDEX CONCURRENTLY attempts before giving up (writers keep adding duplicates). */
  maxIndexAttempts?: number;
  /** Cleanup passes per index attempt, at most. */
  maxPasses?: number;
  onProgress?: (event: DedupeProgress) => void;
  now?: () => Date;
  /** Called after each committed batch; tests use it to interrupt a run. */
  afterBatch?: (batch: number) => Promise<void> | void;
  /** Called before each CREATE INDEX attempt; tests use it to slip a duplicate in. */
  beforeIndex?: (attempt: number) => Promise<void> | void;
}

/** What a dedupe run or dry run works on, as both report it. */
export interface DedupeTarget {
  table: string;
  key: string[];
  keep: string;
  nullsNotDistinct: boolean;
  tieBreak: string;
}

export interface DedupeSummary extends DedupeTarget {
  /** Duplicate groups found by the first pass of this invocation. */
  groups: number;
  /** Rows moved to the backup by this invocation. */
  removed: number;
  /** Rows moved by the whole run, including interrupted earlier invocations. */
  removedTotal: number;
  resumed: boolean;
  passes: number;
  backupTable: string;
  /** The unique index that makes the key unique now: the one created, or the one found already there. */
  indexName: string;
  indexCreated: boolean;
  indexAttempts: number;
  remainingDuplicateGroups: number;
  durationMs: number;
  restore: string[];
}

export interface DryRunReport extends DedupeTarget {
  groups: number;
  wouldRemove: number;
  /** Groups whose key has a NULL, left alone because NULLs are distinct. */
  ignoredNullGroups: number;
  /** What makes the key unique afterwards: the CREATE UNIQUE INDEX to run, or a comment naming the index already there. */
  indexStatement: string;
  /** A valid unique index that already makes the key unique (as the run would find it), else null. */
  existingIndex: string | null;
  sample: { key: (string | null)[]; keepValue: string | null; ctid: string; winner: boolean; groupSize: number }[];
}

export class DedupeError extends Error {
  override name = 'DedupeError';
}

export interface DuplicateStats {
  groups: number;
  surplus: number;
  nullGroups: number;
  nullSurplus: number;
}

async function prepare(sql: Sql, request: DedupeRequest): Promise<{ catalog: TableCatalog; plan: DedupePlan }> {
  const catalog = await loadCatalog(sql, request.table);
  const arrival = request.arrivalColumn && catalog.columns.some((c) => c.name === request.arrivalColumn) ? request.arrivalColumn : null;
  const keep = resolveKeepRule(request.keep, { versionColumn: request.versionColumn ?? null, arrivalColumn: arrival });
  const plan = planDedupe(catalog, { key: request.key, keep, nullsNotDistinct: request.nullsNotDistinct, batchSize: request.batchSize });
  return { catalog, plan };
}

const effective = (stats: DuplicateStats, nullsNotDistinct: boolean) => ({
  groups: stats.groups + (nullsNotDistinct ? stats.nullGroups : 0),
  surplus: stats.surplus + (nullsNotDistinct ? stats.nullSurplus : 0),
});

/** A valid unique index of the table that makes the plan's key unique (with its NULL rule), if any. */
function servingIndex(catalog: TableCatalog, plan: DedupePlan) {
  const keyColumns = plan.key.map((k) => catalog.columns.find((c) => c.name === k)!);
  return catalog.uniqueIndexes.find((ix) => ix.valid && indexServes(ix, plan.key, plan.nullsNotDistinct, keyColumns));
}

const describeTieBreak = (plan: DedupePlan) =>
  plan.tieBreak.kind === 'ctid' ? 'ctid (physical position; the table has no primary key)' : `primary key (${plan.tieBreak.columns.join(', ')})`;

/** Counts and a sample of what a dedupe would remove, in a read-only transaction. */
export async function dryRunDedupe(sql: Sql, request: DedupeRequest, sampleGroups = 5, rowsPerGroup = 4): Promise<DryRunReport> {
  const { catalog, plan } = await prepare(sql, request);
  const existing = servingIndex(catalog, plan);
  return (await sql.begin('read only', async (tx) => {
    const [stats] = await tx.unsafe<DuplicateStats[]>(plan.sql.duplicateStats);
    const rows = sampleGroups > 0 ? await tx.unsafe<Record<string, string | number | null>[]>(plan.sql.sample, [sampleGroups, rowsPerGroup]) : [];
    const counts = effective(stats!, plan.nullsNotDistinct);
    return {
      table: quoteQualified(plan.table),
      key: plan.key,
      keep: plan.keepText,
      nullsNotDistinct: plan.nullsNotDistinct,
      tieBreak: describeTieBreak(plan),
      groups: counts.groups,
      wouldRemove: counts.surplus,
      ignoredNullGroups: plan.nullsNotDistinct ? 0 : stats!.nullGroups,
      indexStatement: existing ? `-- the unique index "${existing.name}" already makes (${plan.key.join(', ')}) unique: nothing to create` : plan.createIndex,
      existingIndex: existing?.name ?? null,
      sample: rows.map((r) => ({
        key: plan.key.map((c) => r[`key:${c}`] as string | null),
        keepValue: r.keepValue as string | null,
        ctid: r.ctid as string,
        winner: Number(r.rank) === 1,
        groupSize: r.groupSize as number,
      })),
    };
  })) as DryRunReport;
}

interface RunRecord {
  id: number;
  backup: QualifiedName;
  removedBefore: number;
  resumed: boolean;
}

/** Finds the unfinished run of this table and key, or starts one; creates its backup table. */
async function startRun(sql: Sql, plan: DedupePlan, catalog: TableCatalog, options: DedupeRunOptions): Promise<{ run: RunRecord; tables: RunTables; runSql: RunSql }> {
  const now = options.now?.() ?? new Date();
  const runs = quoteQualified({ schema: BACKUP_SCHEMA, name: RUNS_TABLE });
  return (await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext('landfall.dedupe-runs'))`;
    const bootstrap = compileRunSql(plan, runTables(backupTableName(plan.table, now)), catalog);
    await tx.unsafe(bootstrap.createSchema);
    await tx.unsafe(bootstrap.createRuns);
    const [open] = await tx.unsafe<{ id: string; keep: string; nnd: boolean; backup: string; removed: number }[]>(
      `SELECT id::text, keep, nulls_not_distinct AS nnd, backup_table AS backup, removed::float8 AS removed
       FROM ${runs} WHERE table_schema = $1 AND table_name = $2 AND key = $3::text[] AND status = 'running'
       ORDER BY id DESC LIMIT 1 FOR UPDATE`,
      [plan.table.schema, plan.table.name, plan.key],
    );
    if (open && options.restart) {
      await tx.unsafe(`UPDATE ${runs} SET status = 'abandoned', updated_at = now() WHERE id = $1`, [open.id]);
    } else if (open) {
      if (open.keep !== plan.keepText || open.nnd !== plan.nullsNotDistinct) {
        throw new DedupeError(
          `an unfinished dedupe of ${plan.table.schema}.${plan.table.name} by (${plan.key.join(', ')}) used --keep ${open.keep}` +
            `${open.nnd ? ' with NULLS NOT DISTINCT' : ' with NULLs distinct'}; re-run with the same options to resume it, or pass --restart`,
        );
      }
      const tables = runTables({ schema: BACKUP_SCHEMA, name: open.backup });
      const runSql = compileRunSql(plan, tables, catalog);
      for (const statement of runSql.createBackup) await tx.unsafe(statement);
      return { run: { id: Number(open.id), backup: tables.backup, removedBefore: open.removed, resumed: true }, tables, runSql };
    }
    const tables = runTables(backupTableName(plan.table, now));
    const runSql = compileRunSql(plan, tables, catalog);
    for (const statement of runSql.createBackup) await tx.unsafe(statement);
    const [created] = await tx.unsafe<{ id: string }[]>(
      `INSERT INTO ${runs} (table_schema, table_name, key, keep, nulls_not_distinct, backup_table, index_name)
       VALUES ($1, $2, $3::text[], $4, $5, $6, $7) RETURNING id::text`,
      [plan.table.schema, plan.table.name, plan.key, plan.keepText, plan.nullsNotDistinct, tables.backup.name, plan.indexName],
    );
    return { run: { id: Number(created!.id), backup: tables.backup, removedBefore: 0, resumed: false }, tables, runSql };
  })) as { run: RunRecord; tables: RunTables; runSql: RunSql };
}

/**
 * One cleanup pass: plan the losers from the rows present now, then move them to the backup in
 * batches of `plan.batchSize`, each batch one short transaction. Returns rows moved and groups.
 */
async function cleanupPass(
  sql: Sql,
  plan: DedupePlan,
  runSql: RunSql,
  run: RunRecord,
  pass: number,
  options: DedupeRunOptions,
  counter: { batches: number },
): Promise<{ removed: number; groups: number; losers: number }> {
  const runs = quoteQualified({ schema: BACKUP_SCHEMA, name: RUNS_TABLE });
  options.onProgress?.({ phase: 'plan', pass });
  await sql.unsafe(runSql.dropPlan);
  await sql.begin(async (tx) => {
    for (const statement of runSql.buildPlan) await tx.unsafe(statement);
  });
  const [count] = await sql.unsafe<{ losers: number; groups: number }[]>(runSql.countPlan);
  const losers = count!.losers;
  let removed = 0;
  options.onProgress?.({ phase: 'delete', pass, removed, total: losers });
  for (let from = 0; from < losers; from += plan.batchSize) {
    const moved = (await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext(${`landfall.dedupe:${plan.quoted}`}))`;
      const result = await tx.unsafe(runSql.applyBatch, [from, from + plan.batchSize]);
      await tx.unsafe(`UPDATE ${runs} SET removed = removed + $1, updated_at = now() WHERE id = $2`, [result.count, run.id]);
      return result.count;
    })) as number;
    removed += moved;
    counter.batches += 1;
    options.onProgress?.({ phase: 'delete', pass, removed, total: losers });
    await options.afterBatch?.(counter.batches);
  }
  await sql.unsafe(runSql.dropPlan);
  return { removed, groups: count!.groups, losers };
}

const isUniqueViolation = (error: unknown) => (error as postgres.PostgresError | undefined)?.code === '23505';

/**
 * Removes duplicate rows by `request.key`, keeping one winner per key, and ends with the unique
 * index on the key. Every removed row is copied into `landfall_backup.<table>_<timestamp>` in
 * the transaction that deletes it. Re-running after a crash resumes the unfinished run (same
 * backup table, same keep rule). A duplicate slipped in by a concurrent writer makes
 * `CREATE UNIQUE INDEX CONCURRENTLY` fail: the invalid index is dropped, the table cleaned
 * again, and the index retried.
 */
export async function runDedupe(sql: Sql, request: DedupeRequest, options: DedupeRunOptions = {}): Promise<DedupeSummary> {
  const started = Date.now();
  const { catalog, plan } = await prepare(sql, request);
  const { run, runSql } = await startRun(sql, plan, catalog, options);
  const maxAttempts = options.maxIndexAttempts ?? 10;
  const maxPasses = options.maxPasses ?? 10;
  const counter = { batches: 0 };
  let removed = 0;
  let groups: number | null = null;
  let passes = 0;
  let indexCreated = false;
  /** The index that already made the key unique, when one did (named as it is, e.g. the primary key). */
  let existingIndex: string | null = null;
  let attempt = 0;
  for (;;) {
    attempt += 1;
    // Another pass only when this one had to skip planned losers (rows changed under it) and
    // still removed a batch's worth; what a concurrent writer adds meanwhile is left to the
    // index attempt, whose failure cleans again.
    for (let passInAttempt = 1; passInAttempt <= maxPasses; passInAttempt++) {
      passes += 1;
      const pass = await cleanupPass(sql, plan, runSql, run, passes, options, counter);
      groups ??= pass.groups;
      removed += pass.removed;
      if (pass.removed === pass.losers || pass.removed < plan.batchSize) break;
    }
    const current = await loadCatalog(sql, plan.table);
    const serving = servingIndex(current, plan);
    if (serving) {
      existingIndex = serving.name;
      break;
    }
    const clash = current.uniqueIndexes.find((ix) => ix.name === plan.indexName);
    if (clash?.valid) {
      throw new DedupeError(`an index named "${plan.indexName}" exists but does not make (${plan.key.join(', ')}) unique as needed (${clash.definition}); drop or rename it and re-run`);
    }
    if (clash) await sql.unsafe(plan.dropIndex);
    await options.beforeIndex?.(attempt);
    options.onProgress?.({ phase: 'index', attempt, statement: plan.createIndex });
    try {
      await sql.unsafe(plan.createIndex);
      indexCreated = true;
      break;
    } catch (error) {
      await sql.unsafe(plan.dropIndex);
      if (!isUniqueViolation(error)) throw error;
      if (attempt >= maxAttempts) {
        throw new DedupeError(`CREATE UNIQUE INDEX CONCURRENTLY failed ${attempt} times on new duplicates: a writer keeps adding them; stop it and re-run`, { cause: error });
      }
      options.onProgress?.({ phase: 'index-retry', attempt, reason: (error as Error).message });
    }
  }
  options.onProgress?.({ phase: 'verify' });
  const [stats] = await sql.unsafe<DuplicateStats[]>(plan.sql.duplicateStats);
  const remaining = effective(stats!, plan.nullsNotDistinct).groups;
  if (remaining > 0) throw new DedupeError(`${remaining} duplicate group(s) remain after the index was created; this should not happen, please report it`);
  const runs = quoteQualified({ schema: BACKUP_SCHEMA, name: RUNS_TABLE });
  const [final] = await sql.unsafe<{ removed: number }[]>(
    `UPDATE ${runs} SET status = 'done', finished_at = now(), updated_at = now() WHERE id = $1 RETURNING removed::float8 AS removed`,
    [run.id],
  );
  const backup = quoteQualified(run.backup);
  return {
    table: plan.quoted,
    key: plan.key,
    keep: plan.keepText,
    nullsNotDistinct: plan.nullsNotDistinct,
    tieBreak: describeTieBreak(plan),
    groups: groups ?? 0,
    removed,
    removedTotal: final!.removed,
    resumed: run.resumed,
    passes,
    backupTable: backup,
    indexName: existingIndex ?? plan.indexName,
    indexCreated,
    indexAttempts: attempt,
    remainingDuplicateGroups: remaining,
    durationMs: Date.now() - started,
    restore: [
      indexCreated
        ? `-- the new unique index rejects the restored duplicates; drop it first:\n${plan.dropIndex}`
        : `-- the table's unique index "${existingIndex ?? plan.indexName}" on (${plan.key.join(', ')}) rejects the restored duplicates; drop it first`,
      runSql.restore,
      `-- when the backup is no longer needed: DROP TABLE ${backup};`,
    ],
  };
}
