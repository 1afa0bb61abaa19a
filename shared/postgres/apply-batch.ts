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
import { keysProvablyDistinct } from './distinct-keys.ts';
import { quoteIdent } from '../core/identifiers.ts';
import { limitTransaction, type TransactionLimits, workMemFor } from './transaction-limits.ts';
import { newerSnapshotExists, recordSnapshotBatch } from './snapshot-removal.ts';

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
 * The batch's absent values (BatchData.absent) among the rows `rows` (indexes into the batch,
 * all rows when null), as one flag per picked row for each column that has one: the same rows
 * whatever subset replay's bisection or a quarantine retry applies.
 */
export function absentAmong(batch: Pick<BatchData, 'columns' | 'absent' | 'rowNumbers'>, rows: readonly number[] | null): Map<string, boolean[]> {
  const found = new Map<string, boolean[]>();
  for (const column of batch.columns) {
    const indexes = batch.absent?.[column];
    if (!indexes?.length) continue;
    const set = new Set(indexes);
    const flags = rows === null ? batch.rowNumbers.map((_, r) => set.has(r)) : rows.map((r) => set.has(r));
    if (flags.includes(true)) found.set(column, flags);
  }
  return found;
}

/**
 * Whether a statement may skip its reduction's sort (`CompiledUpsert.unsorted`) for rows whose
 * keys are provably distinct; `used` is set when one did, so that a 21000 it raises (a key
 * repeated after all) sends the batch to the sorting statement in a new transaction.
 */
export interface UnsortedUse {
  used: boolean;
}

/**
 * Runs the set-based statement for the rows `rows` (indexes into the batch, in arrival order) and
 * adds their counts to the batch's ledger row. Returns the ledger row's totals. With `unsorted`,
 * rows whose keys are provably distinct (`keysProvablyDistinct`) take the statement without the
 * reduction's sort.
 */
export async function upsertRows(tx: TxSql, target: TargetTable, batch: BatchData, rows: readonly number[] | null, unsorted?: UnsortedUse): Promise<BatchCounts> {
  const absent = absentAmong(batch, rows);
  const { plan, compiled } = statementFor(target, batch.columns, [...absent.keys()]);
  const text = unsorted && compiled.unsorted !== null && keysProvablyDistinct(target, plan, batch, rows) ? compiled.unsorted : compiled.text;
  if (text !== compiled.text) unsorted!.used = true;
  const pick = <T>(column: readonly T[]): T[] => (rows === null ? (column as T[]) : rows.map((r) => column[r]!));
  const extra: Record<ExtraParam, string | number> = {
    rowNumbers: toPgArrayLiteral(pick(batch.rowNumbers)),
    arrival: batch.arrival,
    tombstoneEquals: target.config.delete?.equals ?? '',
    tombstoneRetentionDays: target.config.delete?.retentionDays ?? 0,
    batchId: batch.batchId,
  };
  const params = [
    ...batch.values.map((column) => toPgArrayLiteral(pick(column))),
    ...compiled.extraParams.map((p) => extra[p]),
    // One flag array per absent column of the plan (those of the key and the version stay NULL values).
    ...plan.absent.map((a) => toPgArrayLiteral(absent.get(a.name)!.map((flag) => (flag ? 't' : 'f')))),
  ];
  const [counts] = await tx.unsafe<BatchCounts[]>(text, params);
  return { ...counts! };
}

/** More sets of absent columns than this in one batch: the batch takes the upsert instead of that many COPYs. */
const MAX_COPY_GROUPS = 16;

/**
 * The picked rows (indexes 0.. into them) grouped by the set of the plan's columns they do not
 * carry: COPY writes a column's default only by leaving the column out, for all its rows, so
 * each group is a COPY of its own. One group with `rows` null when no row has an absent value.
 */
function rowsByAbsentColumns(plan: UpsertPlan, absent: Map<string, boolean[]>, values: readonly (readonly (string | null)[])[], count: number): { omitted: Set<string>; rows: number[] | null }[] {
  const flagged = plan.absent.map((a) => ({ name: a.name, flags: absent.get(a.name)! }));
  // Under a merge rule other than replace a NULL gives nothing either: it takes the column's
  // default on insert, as an absent value does (NULL anyway for a column without one).
  if (plan.mode === 'upsert') {
    for (const c of plan.columns) {
      if (!plan.rules[c.name] || !plan.facts[c.name]?.defaultExpr) continue;
      const nulls = values[c.input]!.map((value) => value === null);
      const existing = flagged.find((f) => f.name === c.name);
      if (existing) existing.flags = existing.flags.map((flag, r) => flag || nulls[r]!);
      else if (nulls.includes(true)) flagged.push({ name: c.name, flags: nulls });
    }
  }
  if (flagged.length === 0) return [{ omitted: new Set(), rows: null }];
  const groups = new Map<string, { omitted: Set<string>; rows: number[] }>();
  for (let r = 0; r < count; r++) {
    const omitted = flagged.filter((f) => f.flags[r]).map((f) => f.name);
    const key = omitted.join('\u0000');
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { omitted: new Set(omitted), rows: [] }));
    group.rows.push(r);
  }
  return [...groups.values()];
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
 * upsert then raises its own error. A transient refusal (57014 at the deadline, 40P01) is thrown.
 */
export async function insertIfFresh(tx: TxSql, target: TargetTable, batch: BatchData, rows: readonly number[] | null): Promise<BatchCounts | null> {
  const copy = copyWork(target, batch, rows);
  if (!copy) return null;
  if (copy.plan.tombstone && !(await rememberedDeletesCannotMatter(tx, copy.plan, batch, rows))) return null;
  // A snapshot table whose scopes a newer snapshot settled: rows older than it are stale, which COPY cannot see.
  if (await newerSnapshotExists(tx, target, batch)) return null;
  try {
    // The count goes with the COPYs (one round trip less) and is rolled back with them.
    const [counts] = await tx.savepoint(async (sp) => {
      const counted = sp.unsafe<BatchCounts[]>(copy.fresh.count, [copy.rowCount, batch.batchId]).execute();
      counted.catch(() => {}); // returned below; a refused COPY leaves it behind
      await sendCopies(sp, copy);
      return counted;
    });
    return { ...counts! };
  } catch (error) {
    // A transient refusal (a statement timeout at the function's deadline, a deadlock) is not
    // the data's: thrown, so the record is retried, instead of running the upsert after it.
    if (error instanceof postgres.PostgresError && classifyPgError(error) !== ErrorClass.transient) return null;
    throw error;
  }
}

/** The COPYs that write `rows` (indexes into the batch; all when null) as new keys, one per set of absent columns. */
interface CopyWork {
  plan: UpsertPlan;
  fresh: ReturnType<typeof statementFor>['fresh'];
  rowCount: number;
  parts: { text: string; values: (string | null)[][] }[];
}

/** null when there is nothing to copy, or more sets of absent columns than COPYs worth sending (`MAX_COPY_GROUPS`). */
function copyWork(target: TargetTable, batch: BatchData, rows: readonly number[] | null): CopyWork | null {
  const absent = absentAmong(batch, rows);
  const { plan, fresh } = statementFor(target, batch.columns, [...absent.keys()]);
  const pick = <T>(column: readonly T[]): T[] => (rows === null ? (column as T[]) : rows.map((r) => column[r]!));
  const rowNumbers = pick(batch.rowNumbers);
  if (rowNumbers.length === 0) return null;
  const picked = batch.values.map((column) => pick(column));
  const groups = rowsByAbsentColumns(plan, absent, picked, rowNumbers.length);
  if (groups.length > MAX_COPY_GROUPS) return null;
  const columns = fresh.copyInputs.map((i) => picked[i]!);
  if (plan.arrivalColumn) columns.push(rowNumbers.map((n) => arrivalValueOf(batch.arrival, n)));
  const names = [...plan.columns.map((c) => c.name), ...(plan.arrivalColumn ? [plan.arrivalColumn] : [])];
  const parts = groups.map((group) => {
    const kept = columns.filter((_, c) => !group.omitted.has(names[c]!));
    return {
      text: group.omitted.size ? fresh.copyLeavingOut(group.omitted) : fresh.copy,
      values: group.rows === null ? kept : kept.map((column) => group.rows!.map((r) => column[r]!)),
    };
  });
  return { plan, fresh, rowCount: rowNumbers.length, parts };
}

async function sendCopies(tx: TxSql, copy: CopyWork): Promise<void> {
  for (const part of copy.parts) await pipeline(Readable.from(toCopyCsv(part.values)), await tx.unsafe(part.text).writable());
}

/**
 * A row that failed with 22003 (a value out of range) after its values were screened: the `add`
 * of its delta to the stored value overflowed the column type. Names the column (the first whose
 * stored value plus the row's delta does not fit), so the quarantine says which and why.
 */
export async function explainOverflow(tx: TxSql, target: TargetTable, batch: BatchData, failure: RowFailure): Promise<RowFailure> {
  if (failure.sqlstate !== '22003') return failure;
  const { plan } = statementFor(target, batch.columns);
  const byName = new Map(target.catalog.columns.map((c) => [c.name, c]));
  const keyColumns = plan.columns.filter((c) => plan.key.includes(c.name));
  const where = keyColumns.map((c, i) => `${quoteIdent(c.name)} = $${i + 2}::${c.type}`).join(' AND ');
  for (const column of plan.columns.filter((c) => plan.rules[c.name] === 'add')) {
    const delta = batch.values[column.input]![failure.row] ?? null;
    if (delta === null) continue;
    const fullType = byName.get(column.name)!.type;
    // In numeric (an interval's sum, which numeric cannot hold, fails: not this column), in a
    // savepoint, so that the check itself can never abort the transaction.
    const fits = await tx
      .savepoint((sp) =>
        sp.unsafe<{ fits: boolean }[]>(
          `SELECT pg_input_is_valid((coalesce((SELECT ${quoteIdent(column.name)} FROM ${plan.target} WHERE ${where})::numeric, 0) + $1::numeric)::text, $${keyColumns.length + 2}::text) AS fits`,
          [delta, ...keyColumns.map((c) => batch.values[c.input]![failure.row] ?? null), fullType],
        ),
      )
      .then(([row]) => row?.fits !== false)
      .catch(() => true);
    if (!fits) {
      return { ...failure, column: column.name, message: `column "${column.name}" ("add"): the stored value plus the row's delta does not fit ${fullType} (${failure.message})` };
    }
  }
  return failure;
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
 * Merge rules and absent values need nothing more: a new key's COPY writes what the merge form
 * would insert for its one row (a NULL or absent value under a rule takes the column's default,
 * one COPY per set of left-out columns, `copyWork`), and each side reads only its own keys' rows.
 * Tables with a `delete` rule keep COPY-or-upsert (rule 6 decides per key, against remembered
 * deletes the look-up does not see). A snapshot table's new keys take COPY only when no newer
 * snapshot can make them stale (`insertIfFresh`). The guess only changes how fast, never the outcome.
 */
async function applyRows(tx: TxSql, target: TargetTable, batch: BatchData, rows: readonly number[] | null, unsorted?: UnsortedUse): Promise<{ counts: BatchCounts; path: ApplyPath }> {
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
      const stored = upsertRows(tx, target, batch, split.stored, unsorted);
      // Its failure (a CHECK, say) is raised by the `await` below, after the COPY's answer; until
      // then it must not count as an unhandled rejection.
      stored.catch(() => {});
      const copied = await insertIfFresh(tx, target, batch, split.fresh);
      await stored;
      return copied ? done('split', copied) : done('upsert', await upsertRows(tx, target, batch, split.fresh, unsorted));
    }
    if (split && split.fresh.length > 0 && !copyFirst) {
      const copied = await insertIfFresh(tx, target, batch, rows);
      if (copied) return done('copy', copied);
    }
  }
  return done('upsert', await upsertRows(tx, target, batch, rows, unsorted));
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
async function applyFresh(sql: Sql, target: TargetTable, batch: BatchData, limits: TransactionLimits | undefined): Promise<ApplyResult | null> {
  const copy = copyWork(target, batch, null);
  if (!copy) return null;
  try {
    return (await sql.begin(async (tx) => {
      // The deadline's limits first, sent with the rest (not awaited before them: no round trip more).
      const limited = limitTransaction(tx, limits);
      const claimed = claimQuery(tx, batch).execute();
      const counted = tx.unsafe<BatchCounts[]>(copy.fresh.count, [copy.rowCount, batch.batchId]).execute();
      // Awaited after the COPY; a failure of any (the transaction then aborts) is raised there or by the COPY.
      for (const pending of [limited, claimed, counted]) pending.catch(() => {});
      await sendCopies(tx, copy);
      await limited;
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
 * with `classifyPgError`); the transaction is then rolled back whole. `limits` bound its
 * statements by the function's deadline (`limitTransaction`), on every path; the general path's
 * transaction also gets a `work_mem` sized to the batch (`workMemFor`), so its statement sorts
 * in memory.
 */
export async function applyBatch(sql: Sql, target: TargetTable, batch: BatchData, limits?: TransactionLimits): Promise<ApplyResult> {
  const count = batchRowCount(batch);
  const { plan } = statementFor(target, batch.columns);
  const refused = refusedBeforeBinding(plan, target, batch);
  // Not for a delete rule (rule 6 must be asked first) nor a snapshot table (its batches take the
  // snapshot lock and record their keys first, and a newer snapshot makes older rows stale).
  if (count > 0 && refused.length === 0 && !plan.tombstone && !target.snapshot && (lastPathOf.get(target) ?? 'copy') === 'copy') {
    const copied = await applyFresh(sql, target, boundBatch(target, batch), limits);
    if (copied) return copied;
    // Refused (or applied before): the general way, starting with the look-up of stored keys.
    lastPathOf.set(target, 'split');
  }
  const attempt = (unsorted: UnsortedUse | undefined) =>
    sql.begin(async (tx) => {
      // The limits (and the statement's work_mem) and the claim are sent together: one round trip.
      const limited = limitTransaction(tx, limits, workMemFor(batch));
      const claimed = claimBatch(tx, batch);
      claimed.catch(() => {}); // raised below, after the limits' own failure if any
      await limited;
      if (!(await claimed)) return { status: 'already-applied', counts: await storedCounts(tx, batch.batchId) };
      await quarantineRows(tx, batch, refused);
      // A snapshot table: the shared snapshot lock; a snapshot file's keys, for its removal.
      await recordSnapshotBatch(tx, target, batch, refused.length ? 'screened' : 'plain');
      const rows = rowsExcept(count, refused);
      return { status: 'applied', ...(await applyRows(tx, target, boundBatch(target, batch), rows, unsorted)) };
    }) as Promise<ApplyResult>;
  const unsorted: UnsortedUse = { used: false };
  try {
    return await attempt(unsorted);
  } catch (error) {
    // Keys the canonical forms called distinct that PostgreSQL holds equal (a spelling the form
    // does not know): nothing was committed; the sorting statement reduces them, in a new
    // transaction. A 21000 it raises too (a trigger rewriting the key) is the batch's, as always.
    if (unsorted.used && error instanceof postgres.PostgresError && error.code === '21000') return attempt(undefined);
    throw error;
  }
}
