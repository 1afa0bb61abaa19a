import type { BatchData } from './batch.ts';
import { classifyPgError, ErrorClass } from './classify-pg-error.ts';
import type { Sql, TxSql } from './db.ts';
import { upsertRows } from './apply-batch.ts';
import type { TargetTable } from './target-table.ts';
import { BatchShapeError } from './upsert-plan.ts';

export interface QuarantinedRow {
  id: number;
  batchId: string;
  fileId: string;
  fileKey: string;
  table: string;
  rowNumber: number;
  arrival: string | null;
  row: Record<string, string | null>;
  sqlstate: string | null;
  constraint: string | null;
  column: string | null;
  message: string;
  firstSeen: string;
  lastSeen: string;
  attempts: number;
}

/** Open (unresolved) quarantined rows, oldest first; optionally of one table or batch. */
export async function listQuarantine(sql: Sql, filter: { table?: string; batchId?: string; limit?: number } = {}): Promise<QuarantinedRow[]> {
  const rows = await sql<QuarantinedRow[]>`
    SELECT id::int AS id, batch_id AS "batchId", file_id AS "fileId", file_key AS "fileKey", table_name AS table,
           row_number::int AS "rowNumber", arrival, row, sqlstate, constraint_name AS constraint, column_name AS column, message,
           to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "firstSeen",
           to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "lastSeen", attempts
    FROM landfall.quarantine
    WHERE resolved_at IS NULL
      AND (${filter.table ?? null}::text IS NULL OR table_name = ${filter.table ?? null}::text)
      AND (${filter.batchId ?? null}::text IS NULL OR batch_id = ${filter.batchId ?? null}::text)
    ORDER BY batch_id, row_number
    LIMIT ${filter.limit ?? 1_000_000}`;
  return rows.map((r) => ({ ...r }));
}

export interface RetryResult {
  applied: number;
  stillFailing: number;
}

/** A one-row batch of the quarantined row, with the arrival it had, under its original batch id. */
function batchOfRow(q: QuarantinedRow): BatchData {
  const columns = Object.keys(q.row);
  return {
    format: 1,
    batchId: q.batchId,
    fileId: q.fileId,
    file: { bucket: '', key: q.fileKey, versionId: null, etag: '', eventTime: new Date(0).toISOString() },
    table: q.table,
    partition: 0,
    chunk: 0,
    arrival: q.arrival ?? '',
    columns,
    rowNumbers: [q.rowNumber],
    values: columns.map((c) => [q.row[c] ?? null]),
  };
}

async function retryOne(tx: TxSql, target: TargetTable, q: QuarantinedRow): Promise<boolean> {
  try {
    await tx.savepoint(async (sp) => {
      await upsertRows(sp, target, batchOfRow(q), null);
      // The row moves from `quarantined` to what the upsert counted; `read` stays the same.
      await sp`UPDATE landfall.batches SET read = read - 1, quarantined = quarantined - 1, updated_at = now() WHERE batch_id = ${q.batchId}`;
      await sp`UPDATE landfall.quarantine SET resolved_at = now(), last_seen = now(), attempts = attempts + 1 WHERE id = ${q.id}`;
    });
    return true;
  } catch (error) {
    if (!(error instanceof BatchShapeError) && classifyPgError(error) !== ErrorClass.batchPoison) throw error;
    const e = error as { code?: string; constraint_name?: string; column_name?: string; message: string };
    await tx`
      UPDATE landfall.quarantine SET sqlstate = ${e.code ?? null}, constraint_name = ${e.constraint_name ?? null},
             column_name = ${e.column_name ?? q.column}, message = ${e.message}, last_seen = now(), attempts = attempts + 1
      WHERE id = ${q.id}`;
    return false;
  }
}

/**
 * Re-applies quarantined rows after the cause was fixed (say, the missing FK parent inserted),
 * one at a time in batch and row order, with the winner rule and the arrival each row had.
 * Rows that apply are resolved and counted where the upsert counts them; rows that still fail
 * stay, with the new reason. One transaction: all of it is recorded, or none.
 */
export async function retryQuarantine(sql: Sql, tables: (name: string) => Promise<TargetTable>, rows: readonly QuarantinedRow[]): Promise<RetryResult> {
  const result: RetryResult = { applied: 0, stillFailing: 0 };
  await sql.begin(async (tx) => {
    for (const q of rows) {
      if (await retryOne(tx, await tables(q.table), q)) result.applied++;
      else result.stillFailing++;
    }
  });
  return result;
}
