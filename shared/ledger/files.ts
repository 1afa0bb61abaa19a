import type { BatchCounts } from '../batch.ts';
import type { FileManifest } from '../batch-message.ts';
import type { Sql, TxSql } from '../db.ts';

/** Registers a file from its manifest on first sight; later calls change nothing. */
export async function registerFile(sql: Sql | TxSql, manifest: FileManifest, manifestKey: string): Promise<void> {
  const f = manifest.file;
  await sql`
    INSERT INTO landfall.files (file_id, table_name, bucket, key, version_id, etag, event_time, batch_count, read, rejected, manifest_key, rejects_key)
    VALUES (${manifest.fileId}, ${manifest.table}, ${f.bucket}, ${f.key}, ${f.versionId}, ${f.etag}, ${f.eventTime}, ${manifest.batchCount},
            ${manifest.read}, ${manifest.rejected}, ${manifestKey}, ${manifest.rejects?.key ?? null})
    ON CONFLICT (file_id) DO NOTHING`;
}

export async function isFileRegistered(sql: Sql | TxSql, fileId: string): Promise<boolean> {
  const rows = await sql`SELECT 1 FROM landfall.files WHERE file_id = ${fileId}`;
  return rows.length > 0;
}

/** Records that a batch failed as a set and went to replay (outside the rolled-back transaction). */
export async function markBatchPoisoned(
  sql: Sql,
  batch: { batchId: string; fileId: string; table: string; partition: number; chunk: number },
  reason: string,
): Promise<void> {
  await sql`
    INSERT INTO landfall.batches (batch_id, file_id, table_name, partition, chunk, status, last_error)
    VALUES (${batch.batchId}, ${batch.fileId}, ${batch.table}, ${batch.partition}, ${batch.chunk}, 'poisoned', ${reason})
    ON CONFLICT (batch_id) DO UPDATE SET last_error = EXCLUDED.last_error, updated_at = now()
      WHERE landfall.batches.status <> 'applied'`;
}

export const FileState = {
  /** Every batch applied or replayed. */
  complete: 'complete',
  /** Some batches not applied yet. */
  pending: 'pending',
  /** Some batches failed as a set and wait for replay. */
  replaying: 'replaying',
} as const;
export type FileState = (typeof FileState)[keyof typeof FileState];

/** Per-file receipt (DESIGN.md rule 4): read = rejected + collapsed + … + quarantined once complete. */
export interface FileReceipt extends BatchCounts {
  file: string;
  bucket: string;
  fileId: string;
  table: string;
  status: FileState;
  batches: number;
  batchesApplied: number;
  rejected: number;
  registeredAt: string;
}

export interface BatchReceipt extends BatchCounts {
  batchId: string;
  partition: number;
  chunk: number;
  status: string;
  firstRow: number | null;
  lastRow: number | null;
  applications: number;
  lastError: string | null;
}

/** Receipts of files: all, or those with the given ids or inbox key. */
export async function fileReceipts(sql: Sql, filter: { fileIds?: string[]; key?: string } = {}): Promise<FileReceipt[]> {
  const rows = await sql<FileReceipt[]>`
    SELECT f.key AS file, f.bucket, f.file_id AS "fileId", f.table_name AS table,
           CASE WHEN count(b.*) FILTER (WHERE b.status = 'applied') >= f.batch_count THEN 'complete'
                WHEN count(b.*) FILTER (WHERE b.status = 'poisoned') > 0 THEN 'replaying'
                ELSE 'pending' END AS status,
           f.batch_count AS batches,
           count(b.*) FILTER (WHERE b.status = 'applied')::int AS "batchesApplied",
           f.read::int AS read, f.rejected::int AS rejected,
           coalesce(sum(b.collapsed), 0)::int AS collapsed, coalesce(sum(b.inserted), 0)::int AS inserted,
           coalesce(sum(b.updated), 0)::int AS updated, coalesce(sum(b.unchanged), 0)::int AS unchanged,
           coalesce(sum(b.stale), 0)::int AS stale, coalesce(sum(b.deleted), 0)::int AS deleted,
           coalesce(sum(b.quarantined), 0)::int AS quarantined,
           to_char(f.registered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "registeredAt"
    FROM landfall.files f
    LEFT JOIN landfall.batches b ON b.file_id = f.file_id
    WHERE (${filter.fileIds ?? null}::text[] IS NULL OR f.file_id = ANY(${filter.fileIds ?? null}::text[]))
      AND (${filter.key ?? null}::text IS NULL OR f.key = ${filter.key ?? null}::text)
    GROUP BY f.file_id
    ORDER BY f.registered_at, f.key`;
  return rows.map((r) => ({ ...r }));
}

export async function batchReceipts(sql: Sql, fileId: string): Promise<BatchReceipt[]> {
  const rows = await sql<BatchReceipt[]>`
    SELECT batch_id AS "batchId", partition, chunk, status, first_row::int AS "firstRow", last_row::int AS "lastRow",
           read, collapsed, inserted, updated, unchanged, stale, deleted, quarantined, applications, last_error AS "lastError"
    FROM landfall.batches WHERE file_id = ${fileId} ORDER BY partition, chunk`;
  return rows.map((r) => ({ ...r }));
}
