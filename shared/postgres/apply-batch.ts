import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import { type BatchCounts, type BatchData, batchRowCount } from '../core/batch.ts';
import { arrivalValueOf, type ExtraParam } from './compile-upsert.ts';
import { toCopyCsv } from './copy-csv.ts';
import type { Sql, TxSql } from './db.ts';
import { toPgArrayLiteral } from './pg-array.ts';
import { quarantineRows, type RowFailure } from './quarantine.ts';
import { boundBatch, statementFor, type TargetTable } from './target-table.ts';
import { findUnstorableValues } from '../core/unstorable-values.ts';
import { findNullKeyRows, type UpsertPlan } from '../core/upsert-plan.ts';
import { classifyPgError, ErrorClass } from '../core/classify-pg-error.ts';
import { splitByStoredKeys } from './stored-keys.ts';

export interface ApplyResult {
  /** `already-applied`: an earlier or concurrent application committed; nothing new was written. */
  status: 'applied' | 'already-applied';
  counts: BatchCounts;
  /** How the rows went in: COPY (every key new, see `insertIfFresh`), the set-based upsert, or both split by key (`applyRows`). */
  path?: ApplyPath;
}

export type ApplyPath = 'copy' | 'upsert' | 'split';

const COUNT_COLUMNS = 'read, collapsed, inserted, updated, unchanged, stale, deleted, quarantined';

/**
 * Claims the batch in the ledger (counts reset to zero); false when it was applied before, or
 * concurrently and committed (the INSERT waits for the other transaction, then sees its row).
 */
export async function claimBatch(tx: TxSql, batch: BatchData): Promise<boolean> {
  return (await claimQuery(tx, batch)).length === 1;
}

/** The claim as a query not yet awaited (the fresh path sends it with the COPY, in one round trip). */
function claimQuery(tx: TxSql, batch: BatchData) {
  const first = batch.rowNumbers[0] ?? null;
  const last = batch.rowNumbers.at(-1) ?? null;
  return tx`
    INSERT INTO landfall.batches (batch_id, file_id, table_name, partition, chunk, status, first_row, last_row, applications, applied_at)
    VALUES (${batch.batchId}, ${batch.fileId}, ${batch.table}, ${batch.partition}, ${batch.chunk}, 'applied', ${first}, ${last}, 1, now())
    ON CONFLICT (batch_id) DO UPDATE
      SET status = 'applied', applications = landfall.batches.applications + 1, applied_at = now(), last_error = NULL, updated_at = now(),
          read = 0, collapsed = 0, inserted = 0, updated = 0, unchanged = 0, stale = 0, deleted = 0, quarantined = 0
      WHERE landfall.batches.status <> 'applied'
    RETURNING batch_id`;
}

export async function storedCounts(tx: TxSql | Sql, batchId: string): Promise<BatchCounts> {
  const [stored] = await tx.unsafe<BatchCounts[]>(`SELECT ${COUNT_COLUMNS} FROM landfall.batches WHERE batch_id = $1`, [batchId]);
  if (!stored) throw new Error(`batch ${batchId} is not in the ledger`);
  return { ...stored };
}

/**
 * Runs the set-based statement for the rows `rows` (indexes into the batch, in arrival order) and
 * adds their counts to the batch's ledger row. Returns the ledger row's totals.
 */
export async function upsertRows(tx: TxSql, target: TargetTable, batch: BatchData, rows: readonly number[] | null): Promise<BatchCounts> {
  const { compiled } = statementFor(target, batch.columns);
  const pick = <T>(column: readonly T[]): T[] => (rows === null ? (column as T[]) : rows.map((r) => column[r]!));
  const extra: Record<ExtraParam, string | number> = {
    rowNumbers: toPgArrayLiteral(pick(batch.rowNumbers)),
    arrival: batch.arrival,
    tombstoneEquals: target.config.delete?.equals ?? '',
    tombstoneRetentionDays: target.config.delete?.retentionDays ?? 0,
    batchId: batch.batchId,
  };
  const params = [...batch.values.map((column) => toPgArrayLiteral(pick(column))), ...compiled.extraParams.map((p) => extra[p])];
  const [counts] = await tx.unsafe<BatchCounts[]>(compiled.text, params);
  return { ...counts! };
}

/**
 * A table with a `delete` rule may take COPY only when rule 6 has nothing to decide: no row
 * of the batch is a tombstone, and the table remembers no delete at all (its tombstone table is
 * empty, as before its first delete), so no key of the batch can meet one. One index probe.
 */
async function rememberedDeletesCannotMatter(tx: TxSql, plan: UpsertPlan, batch: BatchData, rows: readonly number[] | null): Promise<boolean> {
  const tomb = plan.tombstone!;
  if (tomb.input !== null) {
    const ops = batch.values[tomb.input]!;
    if (rows === null ? ops.some((v) => v === tomb.equals) : rows.some((r) => ops[r] === tomb.equals)) return false;
  }
  const [found] = await tx.unsafe<{ none: boolean }[]>(`SELECT NOT EXISTS (SELECT 1 FROM ${tomb.remembered}) AS none`);
  return found!.none;
}

/**
 * The fresh-insert fast path: the rows go in through COPY, in a savepoint, and count as
 * inserted. null when they must take the upsert: a table with a `delete` rule that remembers a
 * delete, or a batch with a tombstone (a key with a live remembered tombstone is not new, and its
 * older upsert must come out stale, which COPY cannot see), or a COPY the server refused, rolled
 * back to the savepoint: a key already stored or repeated in the batch (23505, from the unique
 * index itself: the proof that every key was new), or a value COPY cannot store, for which the
 * upsert then raises its own error.
 */
export async function insertIfFresh(tx: TxSql, target: TargetTable, batch: BatchData, rows: readonly number[] | null): Promise<BatchCounts | null> {
  const { plan, fresh } = statementFor(target, batch.columns);
  const pick = <T>(column: readonly T[]): T[] => (rows === null ? (column as T[]) : rows.map((r) => column[r]!));
  const rowNumbers = pick(batch.rowNumbers);
  if (rowNumbers.length === 0) return null;
  if (plan.tombstone && !(await rememberedDeletesCannotMatter(tx, plan, batch, rows))) return null;
  const columns = fresh.copyInputs.map((i) => pick(batch.values[i]!));
  if (plan.arrivalColumn) columns.push(rowNumbers.map((n) => arrivalValueOf(batch.arrival, n)));
  try {
    // The count goes with the COPY (one round trip less) and is rolled back with it.
    const [counts] = await tx.savepoint(async (sp) => {
      const counted = sp.unsafe<BatchCounts[]>(fresh.count, [rowNumbers.length, batch.batchId]).execute();
      await pipeline(Readable.from(toCopyCsv(columns)), await sp.unsafe(fresh.copy).writable());
      return counted;
    });
    return { ...counts! };
  } catch (error) {
    if (error instanceof postgres.PostgresError) return null;
    throw error;
  }
}

/** Rows with a NULL conflict key (when the index would store them twice), as failures. */
export function nullKeyFailures(plan: UpsertPlan, target: TargetTable, batch: BatchData): RowFailure[] {
  return findNullKeyRows(plan, batch.values).map((row) => {
    const column = target.config.conflictKey.find((k) => batch.values[batch.columns.indexOf(k)]![row] === null) ?? null;
    return {
      row,
      sqlstate: '23502',
      constraint: target.keyCheck.index.name,
      column,
      message: `NULL in conflict key column "${column}": the unique index "${target.keyCheck.index.name}" is not NULLS NOT DISTINCT, so the row could be stored twice`,
    };
  });
}

/** Rows holding a value PostgreSQL can never store (a NUL byte), as failures naming file, row and column. */
export function unstorableValueFailures(plan: UpsertPlan, target: TargetTable, batch: BatchData): RowFailure[] {
  const jsonb = new Set(target.catalog.columns.filter((c) => c.baseType === 'jsonb').map((c) => c.name));
  const inputs = batch.columns.map((name, input) => ({ name, input, jsonb: jsonb.has(name) && plan.columns.some((c) => c.input === input) }));
  const types = new Map(target.catalog.columns.map((c) => [c.name, c.type]));
  const typeOf = (column: string) => (types.has(column) ? ` (${types.get(column)})` : '');
  return findUnstorableValues(inputs, batch.values).map((u) => ({
    row: u.row,
    sqlstate: u.sqlstate,
    constraint: null,
    column: u.column,
    message: `file "${batch.file.key}" row ${batch.rowNumbers[u.row]} column "${u.column}"${typeOf(u.column)} ${u.problem}`,
  }));
}

/**
 * Rows refused before anything is bound (a NULL key the index would store twice, a value
 * PostgreSQL can never store), once each, in row order: the rest of the batch still applies.
 */
export function refusedBeforeBinding(plan: UpsertPlan, target: TargetTable, batch: BatchData): RowFailure[] {
  const byRow = new Map<number, RowFailure>();
  for (const f of [...nullKeyFailures(plan, target, batch), ...unstorableValueFailures(plan, target, batch)]) if (!byRow.has(f.row)) byRow.set(f.row, f);
  return [...byRow.values()].sort((a, b) => a.row - b.row);
}

/** All row indexes of the batch except the listed ones. */
export function rowsExcept(count: number, excluded: readonly { row: number }[]): number[] | null {
  if (excluded.length === 0) return null;
  const skip = new Set(excluded.map((f) => f.row));
  return Array.from({ length: count }, (_, i) => i).filter((i) => !skip.has(i));
}

/** How the last batch of each table went in this container: the next one tries that way first. */
const lastPathOf = new WeakMap<TargetTable, ApplyPath>();

/**
 * Applies `rows` of a claimed batch by the cheapest way that is exact, guessing from the table's
 * last batch (a file's batches are alike: a first load is all new keys, a daily file mostly
 * stored ones or a mix):
 * - after all-new batches (and at first), COPY (`insertIfFresh`); refused, the split below;
 * - after batches of stored keys only, the upsert;
 * - after mixed ones, the split: one look-up of which keys are stored (`splitByStoredKeys`),
 *   the new ones through COPY and the stored ones through the upsert, in this transaction. Every
 *   row of one key is on one side (keys are compared as the upsert compares them), so the winner
 *   rule, the reduction and the counts are the upsert's; a COPY refused (a new key repeated in
 *   the batch, or stored meanwhile by another transaction) rolls back to its savepoint and the
 *   upsert takes every row.
 * Tables with a `delete` rule keep COPY-or-upsert (rule 6 decides per key, against remembered
 * deletes the look-up does not see). The guess only changes how fast, never the outcome.
 */
async function applyRows(tx: TxSql, target: TargetTable, batch: BatchData, rows: readonly number[] | null): Promise<{ counts: BatchCounts; path: ApplyPath }> {
  const { plan, probe } = statementFor(target, batch.columns);
  const expected = lastPathOf.get(target) ?? 'copy';
  const done = (path: ApplyPath, counts: BatchCounts) => {
    const written = counts.read - counts.collapsed - counts.quarantined;
    lastPathOf.set(target, counts.inserted === 0 ? 'upsert' : counts.inserted >= written ? 'copy' : 'split');
    return { counts, path };
  };
  const copyFirst = expected === 'copy' || plan.tombstone !== null;
  if (copyFirst) {
    const copied = await insertIfFresh(tx, target, batch, rows);
    if (copied) return done('copy', copied);
  }
  if (expected !== 'upsert' && !plan.tombstone) {
    const split = await splitByStoredKeys(tx, probe, batch, rows);
    // All new but refused already: the upsert (a key repeated in the batch, say).
    if (split && split.fresh.length > 0 && split.stored.length > 0) {
      // The stored keys' upsert is sent first and the COPY's savepoint right behind it (one round
      // trip less); the COPY's count then returns the batch's totals. Refused, the new keys take
      // the upsert of their own: the two key sets are disjoint, so the counts add up the same.
      const stored = upsertRows(tx, target, batch, split.stored);
      const copied = await insertIfFresh(tx, target, batch, split.fresh);
      await stored;
      return copied ? done('split', copied) : done('upsert', await upsertRows(tx, target, batch, split.fresh));
    }
    if (split && split.fresh.length > 0 && !copyFirst) {
      const copied = await insertIfFresh(tx, target, batch, rows);
      if (copied) return done('copy', copied);
    }
  }
  return done('upsert', await upsertRows(tx, target, batch, rows));
}

/** Rolls the fresh path's transaction back: the batch was applied before (the general path then says so). */
class AppliedBeforeError extends Error {
  override name = 'AppliedBeforeError';
}

/**
 * The fresh path in as few round trips as a transaction allows: the claim, the count and the
 * COPY are sent together (BEGIN, then one round trip for the three, one for the COPY's data, the
 * COMMIT: four, where the claim, a savepoint, the COPY and the count one after another took
 * seven; under load each round trip waits for a core twice). No savepoint: a refused COPY (a
 * stored or repeated key, 23505; a value COPY cannot store, 22xxx) or a batch applied before
 * rolls the whole transaction back, and null sends the batch the general way, in a new
 * transaction, so nothing of this attempt is ever committed. A transient failure is thrown.
 */
async function applyFresh(sql: Sql, target: TargetTable, batch: BatchData): Promise<ApplyResult | null> {
  const { plan, fresh } = statementFor(target, batch.columns);
  const columns = fresh.copyInputs.map((i) => batch.values[i]!);
  if (plan.arrivalColumn) columns.push(batch.rowNumbers.map((n) => arrivalValueOf(batch.arrival, n)));
  try {
    return (await sql.begin(async (tx) => {
      const claimed = claimQuery(tx, batch).execute();
      const counted = tx.unsafe<BatchCounts[]>(fresh.count, [batch.rowNumbers.length, batch.batchId]).execute();
      await pipeline(Readable.from(toCopyCsv(columns)), await tx.unsafe(fresh.copy).writable());
      if ((await claimed).length !== 1) throw new AppliedBeforeError();
      const [counts] = await counted;
      return { status: 'applied', counts: { ...counts! }, path: 'copy' };
    })) as ApplyResult;
  } catch (error) {
    if (error instanceof AppliedBeforeError) return null;
    // As a refused COPY in a savepoint always was: the general way meets the same error, if any,
    // and raises it as the statement's. A transient failure is the batch's retry, as before.
    if (error instanceof postgres.PostgresError && classifyPgError(error) !== ErrorClass.transient) return null;
    throw error;
  }
}

/**
 * Applies one batch to its table exactly once: in ONE transaction, claims the batch id in the
 * ledger, reduces the rows by conflict key (on the cast values), upserts them in one set-based
 * statement and records the counts. A second, concurrent or later application of the same batch
 * commits nothing and returns the counts of the first. A batch of new keys goes in through COPY
 * instead of the statement (`applyFresh`, `insertIfFresh`), one of new and stored keys split
 * between the two (`applyRows`), with the same counts. Errors are the driver's (classify them
 * with `classifyPgError`); the transaction is then rolled back whole.
 */
export async function applyBatch(sql: Sql, target: TargetTable, batch: BatchData): Promise<ApplyResult> {
  const count = batchRowCount(batch);
  const { plan } = statementFor(target, batch.columns);
  const refused = refusedBeforeBinding(plan, target, batch);
  if (count > 0 && refused.length === 0 && !plan.tombstone && (lastPathOf.get(target) ?? 'copy') === 'copy') {
    const copied = await applyFresh(sql, target, boundBatch(target, batch));
    if (copied) return copied;
    // Refused (or applied before): the general way, starting with the look-up of stored keys.
    lastPathOf.set(target, 'split');
  }
  return (await sql.begin(async (tx) => {
    if (!(await claimBatch(tx, batch))) return { status: 'already-applied', counts: await storedCounts(tx, batch.batchId) };
    await quarantineRows(tx, batch, refused);
    const rows = rowsExcept(count, refused);
    return { status: 'applied', ...(await applyRows(tx, target, boundBatch(target, batch), rows)) };
  })) as ApplyResult;
}
