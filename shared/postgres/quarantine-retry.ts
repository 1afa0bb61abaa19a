import type { BatchData } from '../core/batch.ts';
import { classifyPgError, ErrorClass, type PgErrorFields, pgErrorFields } from '../core/classify-pg-error.ts';
import type { Sql, TxSql } from './db.ts';
import { withPartitionAdvice } from '../core/partition-routing.ts';
import { explainOverflow, refusedBeforeBinding, upsertRows } from './apply-batch.ts';
import { boundBatch, statementFor } from './target-table.ts';
import type { TargetTable } from './target-table.ts';
import { BatchShapeError } from '../core/upsert-plan.ts';
import { shareSnapshotLock } from './snapshot-removal.ts';
import { toPgArrayLiteral } from './pg-array.ts';
import { screenValues } from './replay-batch.ts';

export interface QuarantinedRow {
  id: number;
  batchId: string;
  fileId: string;
  fileKey: string;
  table: string;
  rowNumber: number;
  arrival: string | null;
  row: Record<string, string | null>;
  /** Columns the record did not carry (left out of `row`): applied as absent, as the first time. */
  absent: string[];
  sqlstate: string | null;
  constraint: string | null;
  column: string | null;
  message: string;
  firstSeen: string;
  lastSeen: string;
  attempts: number;
  /** `open`, or how it left the quarantine: `applied` (retry), `resolved` or `dismissed` (someone, with a reason). */
  status: 'open' | 'applied' | 'resolved' | 'dismissed';
  /** When it left and the reason given (null while open). */
  resolvedAt: string | null;
  resolutionReason: string | null;
}

/** Which quarantined rows: of a table, a batch, some files, some ids; closed ones too with `all`. */
export interface QuarantineFilter {
  table?: string;
  batchId?: string;
  fileIds?: readonly string[];
  ids?: readonly number[];
  /** Also the rows that left the quarantine (applied, resolved, dismissed). */
  all?: boolean;
  limit?: number;
}

/** Quarantined rows (open ones unless `all`), grouped by table, oldest first. */
export async function listQuarantine(sql: Sql, filter: QuarantineFilter = {}): Promise<QuarantinedRow[]> {
  const rows = await sql<QuarantinedRow[]>`
    SELECT id::int AS id, batch_id AS "batchId", file_id AS "fileId", file_key AS "fileKey", table_name AS table,
           row_number::int AS "rowNumber", arrival, row, coalesce(absent, '{}') AS absent, sqlstate, constraint_name AS constraint, column_name AS column, message,
           to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "firstSeen",
           to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "lastSeen", attempts,
           CASE WHEN resolved_at IS NULL THEN 'open' ELSE coalesce(resolution, 'applied') END AS status,
           to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "resolvedAt",
           CASE WHEN resolved_at IS NULL THEN NULL ELSE resolution_reason END AS "resolutionReason"
    FROM landfall.quarantine
    WHERE (${filter.all ?? false}::boolean OR resolved_at IS NULL)
      AND (${filter.table ?? null}::text IS NULL OR table_name = ${filter.table ?? null}::text)
      AND (${filter.batchId ?? null}::text IS NULL OR batch_id = ${filter.batchId ?? null}::text)
      AND (${filter.fileIds ? toPgArrayLiteral(filter.fileIds) : null}::text[] IS NULL OR file_id = ANY(${filter.fileIds ? toPgArrayLiteral(filter.fileIds) : null}::text[]))
      AND (${filter.ids ? toPgArrayLiteral(filter.ids.map(String)) : null}::bigint[] IS NULL OR id = ANY(${filter.ids ? toPgArrayLiteral(filter.ids.map(String)) : null}::bigint[]))
    ORDER BY table_name, min(first_seen) OVER (PARTITION BY file_id), file_key, row_number, id
    LIMIT ${filter.limit ?? 1_000_000}`;
  return rows.map((r) => ({ ...r }));
}

export interface RetryResult {
  applied: number;
  stillFailing: number;
  /** Rows another retry resolved meanwhile (nothing done). */
  resolvedElsewhere: number;
}

/**
 * A one-row batch of the quarantined row, with the arrival it had and the columns it did not
 * carry, under its original batch id.
 */
export function batchOfRow(q: Pick<QuarantinedRow, 'row' | 'absent' | 'batchId' | 'fileId' | 'fileKey' | 'table' | 'arrival' | 'rowNumber'>): BatchData {
  // The row leaves its absent columns out (rowAsObject); they come back as absent values, so
  // that the retry is the same write: left alone on update (a NOT NULL one too), the default on insert.
  const absent = q.absent.filter((c) => !(c in q.row) || q.row[c] === null);
  const columns = [...Object.keys(q.row), ...absent.filter((c) => !(c in q.row))];
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
    values: columns.map((c) => [absent.includes(c) ? null : (q.row[c] ?? null)]),
    ...(absent.length ? { absent: Object.fromEntries(absent.map((c) => [c, [0]])) } : {}),
  };
}

type RetryOutcome = 'applied' | 'failing' | 'resolved-elsewhere';

async function recordStillFailing(tx: TxSql, q: QuarantinedRow, e: Partial<PgErrorFields> & { message: string }) {
  await tx`
    UPDATE landfall.quarantine SET sqlstate = ${e.sqlstate ?? null}, constraint_name = ${e.constraint ?? null},
           column_name = ${e.column ?? q.column}, message = ${e.message}, last_seen = now(), attempts = attempts + 1
    WHERE id = ${q.id}`;
}

async function retryOne(tx: TxSql, target: TargetTable, q: QuarantinedRow, actor: string): Promise<RetryOutcome> {
  const batch = batchOfRow(q);
  try {
    // Same guard as the engine: a NULL key on an index that lets NULLs repeat is never stored.
    const [refused] = refusedBeforeBinding(statementFor(target, batch.columns).plan, target, batch);
    if (refused) {
      await recordStillFailing(tx, q, refused);
      return 'failing';
    }
    // A NUL byte is kept as ␀ in the quarantine: applying that would store a value the file never had.
    if (q.sqlstate === '22021') {
      await recordStillFailing(tx, q, { sqlstate: q.sqlstate, column: q.column, message: q.message });
      return 'failing';
    }
    // The same screen as replay's: a value that still does not cast keeps the same full message
    // (`column "placed" (date): invalid input syntax …`), not the bare one the upsert would give.
    const [bad] = await screenValues(tx, target, batch, [0]);
    if (bad) {
      await recordStillFailing(tx, q, bad);
      return 'failing';
    }
    return await tx.savepoint(async (sp): Promise<RetryOutcome> => {
      // Claim the row first: a concurrent or repeated retry of it then changes nothing.
      const claimed = await sp`UPDATE landfall.quarantine SET resolved_at = now(), resolution = 'applied', resolution_reason = NULL, last_seen = now(), attempts = attempts + 1 WHERE id = ${q.id} AND resolved_at IS NULL RETURNING id`;
      if (claimed.length === 0) return 'resolved-elsewhere';
      await sp`INSERT INTO landfall.quarantine_events (quarantine_id, action, reason, actor) VALUES (${q.id}, 'applied', 'quarantine retry applied it', ${actor})`;
      await shareSnapshotLock(sp, target);
      await upsertRows(sp, target, boundBatch(target, batch), null);
      // The row moves from `quarantined` to what the upsert counted; `read` stays the same.
      await sp`UPDATE landfall.batches SET read = read - 1, quarantined = quarantined - 1, updated_at = now() WHERE batch_id = ${q.batchId}`;
      return 'applied';
    });
  } catch (error) {
    if (!(error instanceof BatchShapeError) && classifyPgError(error) !== ErrorClass.batchPoison) throw error;
    const fields = withPartitionAdvice(pgErrorFields(error), target.catalog);
    const explained = error instanceof BatchShapeError ? fields : await explainOverflow(tx, target, boundBatch(target, batch), { row: 0, ...fields });
    await recordStillFailing(tx, q, explained);
    return 'failing';
  }
}

/**
 * Re-applies quarantined rows after the cause was fixed (say, the missing FK parent inserted),
 * one at a time in batch and row order, with the winner rule and the arrival each row had.
 * Rows that apply are resolved and counted where the upsert counts them; rows that still fail
 * stay, with the new reason. One transaction: all of it is recorded, or none.
 */
export async function retryQuarantine(sql: Sql, tables: (name: string) => Promise<TargetTable>, rows: readonly QuarantinedRow[], actor = 'landfall'): Promise<RetryResult> {
  const result: RetryResult = { applied: 0, stillFailing: 0, resolvedElsewhere: 0 };
  await sql.begin(async (tx) => {
    for (const q of rows) {
      const outcome = await retryOne(tx, await tables(q.table), q, actor);
      if (outcome === 'applied') result.applied++;
      else if (outcome === 'failing') result.stillFailing++;
      else result.resolvedElsewhere++;
    }
  });
  return result;
}
