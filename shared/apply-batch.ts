import { type BatchCounts, type BatchData, batchRowCount } from './batch.ts';
import type { ExtraParam } from './compile-upsert.ts';
import type { Sql, TxSql } from './db.ts';
import { toPgArrayLiteral } from './pg-array.ts';
import { statementFor, type TargetTable } from './target-table.ts';
import { findNullKeyRows } from './upsert-plan.ts';

export interface ApplyResult {
  /** `already-applied`: an earlier or concurrent application committed; nothing new was written. */
  status: 'applied' | 'already-applied';
  counts: BatchCounts;
}

const COUNT_COLUMNS = 'read, collapsed, inserted, updated, unchanged, stale, deleted, quarantined';

/** Keeps only the rows not listed in `drop` (sorted indexes), column by column. */
function withoutRows<T>(column: readonly T[], drop: readonly number[]): T[] {
  if (drop.length === 0) return column as T[];
  const skip = new Set(drop);
  return column.filter((_, i) => !skip.has(i));
}

/** Claims the batch in the ledger; false when it was applied before (or concurrently, and committed). */
async function claimBatch(tx: TxSql, batch: BatchData): Promise<boolean> {
  const first = batch.rowNumbers[0] ?? null;
  const last = batch.rowNumbers.at(-1) ?? null;
  const rows = await tx`
    INSERT INTO landfall.batches (batch_id, file_id, table_name, partition, chunk, status, first_row, last_row, applications, applied_at)
    VALUES (${batch.batchId}, ${batch.fileId}, ${batch.table}, ${batch.partition}, ${batch.chunk}, 'applied', ${first}, ${last}, 1, now())
    ON CONFLICT (batch_id) DO UPDATE
      SET status = 'applied', applications = landfall.batches.applications + 1, applied_at = now(), last_error = NULL, updated_at = now()
      WHERE landfall.batches.status <> 'applied'
    RETURNING batch_id`;
  return rows.length === 1;
}

async function quarantineNullKeys(tx: TxSql, target: TargetTable, batch: BatchData, rows: readonly number[]) {
  const keyColumns = target.config.conflictKey;
  const entries = rows.map((r) => {
    const row = Object.fromEntries(batch.columns.map((c, i) => [c, batch.values[i]![r]]));
    const nullColumn = keyColumns.find((k) => row[k] === null) ?? keyColumns[0]!;
    return {
      row_number: batch.rowNumbers[r],
      row,
      column_name: nullColumn,
      message: `NULL in conflict key column "${nullColumn}": the unique index "${target.keyCheck.index.name}" is not NULLS NOT DISTINCT, so the row could be stored twice`,
    };
  });
  await tx`
    INSERT INTO landfall.quarantine (batch_id, file_id, file_key, table_name, row_number, arrival, row, sqlstate, column_name, message)
    SELECT ${batch.batchId}, ${batch.fileId}, ${batch.file.key}, ${batch.table}, x.row_number, ${batch.arrival}, x.row, '23502', x.column_name, x.message
    FROM jsonb_to_recordset(${tx.json(entries as never)}::jsonb) AS x(row_number bigint, row jsonb, column_name text, message text)
    ON CONFLICT (batch_id, row_number) DO UPDATE SET last_seen = now(), attempts = landfall.quarantine.attempts + 1`;
}

/**
 * Applies one batch to its table exactly once: in ONE transaction, claims the batch id in the
 * ledger, reduces the rows by conflict key (on the cast values), upserts them in one set-based
 * statement and records the counts. A second, concurrent or later application of the same batch
 * commits nothing and returns the counts of the first. Errors are the driver's (classify them
 * with `classifyPgError`); the transaction is then rolled back whole.
 */
export async function applyBatch(sql: Sql, target: TargetTable, batch: BatchData): Promise<ApplyResult> {
  batchRowCount(batch);
  const { plan, compiled } = statementFor(target, batch.columns);
  const nullKeyRows = findNullKeyRows(plan, batch.values);
  const values = batch.values.map((column) => withoutRows(column, nullKeyRows));
  const rowNumbers = withoutRows(batch.rowNumbers, nullKeyRows);
  const extra: Record<ExtraParam, string | number> = {
    rowNumbers: toPgArrayLiteral(rowNumbers),
    arrival: batch.arrival,
    tombstoneEquals: plan.tombstone?.equals ?? '',
    batchId: batch.batchId,
    quarantined: nullKeyRows.length,
  };
  const params = [...values.map((column) => toPgArrayLiteral(column)), ...compiled.extraParams.map((p) => extra[p])];

  return (await sql.begin(async (tx) => {
    if (!(await claimBatch(tx, batch))) {
      const [stored] = await tx.unsafe<BatchCounts[]>(`SELECT ${COUNT_COLUMNS} FROM landfall.batches WHERE batch_id = $1`, [batch.batchId]);
      return { status: 'already-applied', counts: { ...stored! } };
    }
    if (nullKeyRows.length) await quarantineNullKeys(tx, target, batch, nullKeyRows);
    const [counts] = await tx.unsafe<BatchCounts[]>(compiled.text, params);
    return { status: 'applied', counts: { ...counts! } };
  })) as ApplyResult;
}
