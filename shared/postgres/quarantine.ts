import type { BatchData } from '../core/batch.ts';
import type { TxSql } from './db.ts';
import { showNul } from '../core/unstorable-values.ts';

/** Why one row could not be applied: what PostgreSQL said, never the row's values. */
export interface RowFailure {
  /** Index of the row in the batch. */
  row: number;
  sqlstate: string | null;
  constraint: string | null;
  column: string | null;
  message: string;
}

/**
 * The row of a batch as a JSON object, column → text value (a NUL, which jsonb cannot hold, shown
 * as ␀). A column the row did not carry (`absent`) is left out, so that a retry leaves it alone too.
 */
export function rowAsObject(batch: Pick<BatchData, 'columns' | 'values' | 'absent'>, row: number): Record<string, string | null> {
  const absent = batch.absent;
  const carried = absent ? batch.columns.flatMap((c, i) => (absent[c]?.includes(row) ? [] : [i])) : batch.columns.map((_, i) => i);
  return Object.fromEntries(carried.map((i) => [batch.columns[i]!, showNul(batch.values[i]![row] ?? null)]));
}

/** The columns row `row` of the batch did not carry (BatchData.absent), in batch column order. */
export function absentColumnsOf(batch: Pick<BatchData, 'columns' | 'absent'>, row: number): string[] {
  if (!batch.absent) return [];
  return batch.columns.filter((c) => batch.absent![c]?.includes(row));
}

/**
 * Records rows in the quarantine with their reason (same transaction as the batch, so a rolled
 * back batch quarantines nothing) and counts them on the batch's ledger row.
 */
export async function quarantineRows(tx: TxSql, batch: BatchData, failures: readonly RowFailure[]): Promise<void> {
  if (failures.length === 0) return;
  const entries = failures.map((f) => ({
    row_number: batch.rowNumbers[f.row],
    row: rowAsObject(batch, f.row),
    sqlstate: f.sqlstate,
    constraint_name: f.constraint,
    column_name: f.column,
    message: f.message,
    absent: absentColumnsOf(batch, f.row),
  }));
  await tx`
    INSERT INTO landfall.quarantine (batch_id, file_id, file_key, table_name, row_number, arrival, row, sqlstate, constraint_name, column_name, message, absent)
    SELECT ${batch.batchId}, ${batch.fileId}, ${batch.file.key}, ${batch.table}, x.row_number, ${batch.arrival}, x.row, x.sqlstate, x.constraint_name, x.column_name, x.message,
           nullif(ARRAY(SELECT jsonb_array_elements_text(x.absent)), '{}')
    FROM jsonb_to_recordset(${tx.json(entries as never)}::jsonb)
      AS x(row_number bigint, row jsonb, sqlstate text, constraint_name text, column_name text, message text, absent jsonb)
    ON CONFLICT (batch_id, row_number) DO UPDATE
      SET absent = EXCLUDED.absent, sqlstate = EXCLUDED.sqlstate, constraint_name = EXCLUDED.constraint_name, column_name = EXCLUDED.column_name,
          message = EXCLUDED.message, last_seen = now(), attempts = landfall.quarantine.attempts + 1, resolved_at = NULL`;
  await tx`
    UPDATE landfall.batches SET read = read + ${failures.length}, quarantined = quarantined + ${failures.length}, updated_at = now()
    WHERE batch_id = ${batch.batchId}`;
}
