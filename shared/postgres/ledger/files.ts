import type { BatchCounts } from '../../core/batch.ts';
import type { FileManifest } from '../../core/batch-message.ts';
import type { Sql, TxSql } from '../db.ts';
import { toPgArrayLiteral } from '../pg-array.ts';

/** PostgreSQL text cannot hold NUL: a rejected row's text keeps U+FFFD in its place. */
const storable = (text: string) => text.replaceAll('\0', '\uFFFD');

/**
 * Registers a file from its manifest on first sight (with the rejected rows the manifest
 * lists, and for a file moved aside its reason and where it went); later calls change nothing.
 */
export async function registerFile(sql: Sql, manifest: FileManifest, manifestKey: string): Promise<void> {
  const f = manifest.file;
  const reason = manifest.reason;
  const rejects = manifest.rejectsListed ?? [];
  await sql.begin(async (tx) => {
    const inserted = await tx`
      INSERT INTO landfall.files (file_id, table_name, bucket, key, version_id, etag, event_time, batch_count, read, rejected, manifest_key, rejects_key,
                                  outcome, reason_code, reason, reason_line, reason_field, moved_to)
      VALUES (${manifest.fileId}, ${manifest.table}, ${f.bucket}, ${f.key}, ${f.versionId}, ${f.etag}, ${f.eventTime}, ${manifest.batchCount},
              ${manifest.read}, ${manifest.rejected}, ${manifestKey}, ${manifest.rejects?.key ?? null},
              ${manifest.status}, ${reason?.code ?? null}, ${reason?.message ?? null}, ${reason?.line ?? null}, ${reason?.field ?? null},
              ${reason ? `s3://${reason.movedTo.bucket}/${reason.movedTo.key}` : null})
      ON CONFLICT (file_id) DO NOTHING
      RETURNING 1`;
    if (inserted.length === 0 || rejects.length === 0) return;
    // One array literal per column (toPgArrayLiteral), as the engine binds its columns.
    await tx`
      INSERT INTO landfall.rejects (file_id, row_number, line, reason, raw, truncated)
      SELECT ${manifest.fileId}::text, * FROM unnest(${toPgArrayLiteral(rejects.map((r) => r.row))}::bigint[], ${toPgArrayLiteral(rejects.map((r) => r.line))}::bigint[],
                                                     ${toPgArrayLiteral(rejects.map((r) => storable(r.reason)))}::text[], ${toPgArrayLiteral(rejects.map((r) => storable(r.raw)))}::text[],
                                                     ${toPgArrayLiteral(rejects.map((r) => String(r.truncated)))}::boolean[])
      ON CONFLICT DO NOTHING`;
  });
}

/**
 * Batches of a file applied while the producer was still reading it (the file is registered only
 * from its last messages, sent after its manifest), and their rows: what a large file has done
 * before it shows in `fileReceipts`.
 */
export async function appliedWhileReading(sql: Sql, fileId: string): Promise<{ batches: number; rows: number }> {
  const [row] = await sql<{ batches: number; rows: number }[]>`
    SELECT count(*)::int AS batches, coalesce(sum(read), 0)::bigint::float8 AS rows FROM landfall.batches WHERE file_id = ${fileId} AND status = 'applied'`;
  return row ?? { batches: 0, rows: 0 };
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
  /** Not read at all: moved to the inbox's rejected/ prefix with a reason. */
  movedAside: 'moved-aside',
  /** Not complete, and its table is refused by the consumer (landfall.blocked_tables): the reason and the fix. */
  blocked: 'blocked',
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
  /** Why a file was moved aside (with the line and field where there is one), else null. */
  reason: string | null;
  reasonCode: string | null;
  /** Where a moved-aside file is now (`s3://…/rejected/…`). */
  movedTo: string | null;
  /** What fixes a blocked file's table (only on a `blocked` receipt). */
  fix?: string;
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
export async function fileReceipts(sql: Sql, filter: { fileIds?: string[]; key?: string; etag?: string } = {}): Promise<FileReceipt[]> {
  const rows = await sql<(FileReceipt & { blockedCode: string | null; blockedReason: string | null; blockedFix: string | null })[]>`
    SELECT f.key AS file, f.bucket, f.file_id AS "fileId", f.table_name AS table,
           CASE WHEN f.outcome = 'moved-aside' THEN 'moved-aside'
                WHEN count(b.*) FILTER (WHERE b.status = 'applied') >= f.batch_count THEN 'complete'
                WHEN bt.table_name IS NOT NULL THEN 'blocked'
                WHEN count(b.*) FILTER (WHERE b.status = 'poisoned') > 0 THEN 'replaying'
                ELSE 'pending' END AS status,
           f.batch_count AS batches,
           count(b.*) FILTER (WHERE b.status = 'applied')::int AS "batchesApplied",
           f.read::int AS read, f.rejected::int AS rejected,
           coalesce(sum(b.collapsed), 0)::int AS collapsed, coalesce(sum(b.inserted), 0)::int AS inserted,
           coalesce(sum(b.updated), 0)::int AS updated, coalesce(sum(b.unchanged), 0)::int AS unchanged,
           coalesce(sum(b.stale), 0)::int AS stale, coalesce(sum(b.deleted), 0)::int AS deleted,
           coalesce(sum(b.quarantined), 0)::int AS quarantined,
           to_char(f.registered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "registeredAt",
           f.reason || coalesce(' (line ' || f.reason_line || coalesce(', field ' || f.reason_field, '') || ')', '') AS reason,
           f.reason_code AS "reasonCode", f.moved_to AS "movedTo",
           bt.code AS "blockedCode", bt.reason AS "blockedReason", bt.fix AS "blockedFix"
    FROM landfall.files f
    LEFT JOIN landfall.batches b ON b.file_id = f.file_id
    -- Blocked: the table refused a delivery since the file was registered (a refusal left over
    -- from before, e.g. the deploy step's for a table created since, does not block a new file).
    LEFT JOIN landfall.blocked_tables bt ON bt.table_name = f.table_name AND f.outcome <> 'moved-aside' AND bt.last_seen >= f.registered_at
    WHERE (${filter.fileIds ?? null}::text[] IS NULL OR f.file_id = ANY(${filter.fileIds ?? null}::text[]))
      AND (${filter.key ?? null}::text IS NULL OR f.key = ${filter.key ?? null}::text)
      AND (${filter.etag ?? null}::text IS NULL OR f.etag = ${filter.etag ?? null}::text)
    GROUP BY f.file_id, bt.table_name
    ORDER BY f.registered_at, f.key`;
  // A blocked file's reason and fix are its table's.
  return rows.map(({ blockedCode, blockedReason, blockedFix, ...r }) =>
    r.status === FileState.blocked ? { ...r, reason: blockedReason, reasonCode: blockedCode, ...(blockedFix ? { fix: blockedFix } : {}) } : { ...r },
  );
}

export async function batchReceipts(sql: Sql, fileId: string): Promise<BatchReceipt[]> {
  const rows = await sql<BatchReceipt[]>`
    SELECT batch_id AS "batchId", partition, chunk, status, first_row::int AS "firstRow", last_row::int AS "lastRow",
           read, collapsed, inserted, updated, unchanged, stale, deleted, quarantined, applications, last_error AS "lastError"
    FROM landfall.batches WHERE file_id = ${fileId} ORDER BY partition, chunk`;
  return rows.map((r) => ({ ...r }));
}

/** A rejected row as the ledger keeps it: where it is in the file, why, and its text. */
export interface RejectReceipt {
  fileId: string;
  file: string;
  table: string;
  row: number;
  line: number;
  reason: string;
  raw: string;
  truncated: boolean;
}

/** Rejected rows, of the given files or all, in file then row order. */
export async function listRejects(sql: Sql, filter: { fileIds?: string[]; limit?: number } = {}): Promise<RejectReceipt[]> {
  const rows = await sql<RejectReceipt[]>`
    SELECT r.file_id AS "fileId", f.key AS file, f.table_name AS table, r.row_number::int AS row, r.line::int AS line, r.reason, r.raw, r.truncated
    FROM landfall.rejects r JOIN landfall.files f USING (file_id)
    WHERE ${filter.fileIds ?? null}::text[] IS NULL OR r.file_id = ANY(${filter.fileIds ?? null}::text[])
    ORDER BY f.registered_at, f.key, r.row_number
    LIMIT ${filter.limit ?? null}`;
  return rows.map((r) => ({ ...r }));
}

export class ForgetRefusedError extends Error {
  override name = 'ForgetRefusedError';
}

/**
 * Clears a failed attempt at a file from the ledger (its row, its batches not applied, its
 * rejected rows), so that dropping it again starts afresh. A file with an applied batch is
 * refused: its rows are in the table, and forgetting it would lose their accounting.
 */
export async function forgetFile(sql: Sql, fileId: string): Promise<{ batches: number; rejects: number }> {
  return (await sql.begin(async (tx) => {
    await tx`SELECT 1 FROM landfall.files WHERE file_id = ${fileId} FOR UPDATE`;
    const [applied] = await tx<{ n: number }[]>`SELECT count(*)::int AS n FROM landfall.batches WHERE file_id = ${fileId} AND status = 'applied'`;
    if (applied!.n > 0) throw new ForgetRefusedError(`${applied!.n} of its batches are applied (its rows are in the table); only a failed attempt can be forgotten`);
    const batches = await tx`DELETE FROM landfall.batches WHERE file_id = ${fileId}`;
    const rejects = await tx`DELETE FROM landfall.rejects WHERE file_id = ${fileId}`;
    await tx`DELETE FROM landfall.files WHERE file_id = ${fileId}`;
    return { batches: batches.count, rejects: rejects.count };
  })) as { batches: number; rejects: number };
}

/** The manifest key a registered file was registered from (null when unknown), newest file first. */
export async function registeredManifests(sql: Sql, filter: { fileId?: string } = {}): Promise<{ fileId: string; table: string; manifestKey: string | null }[]> {
  const rows = await sql<{ fileId: string; table: string; manifestKey: string | null }[]>`
    SELECT file_id AS "fileId", table_name AS table, manifest_key AS "manifestKey" FROM landfall.files
    ${filter.fileId === undefined ? sql`` : sql`WHERE file_id = ${filter.fileId}`}
    ORDER BY registered_at DESC`;
  return rows.map((r) => ({ ...r }));
}

/** False on a database no pipeline has used yet; read-only commands then report nothing instead of failing. */
export async function ledgerExists(sql: Sql): Promise<boolean> {
  const [row] = await sql<{ present: boolean }[]>`SELECT to_regclass('landfall.batches') IS NOT NULL AS present`;
  return row?.present ?? false;
}

/** A batch's ledger row, as `replay` and `quarantine --batch` need it. */
export interface LedgerBatch {
  batchId: string;
  fileId: string;
  table: string;
  partition: number;
  chunk: number;
  status: string;
}

/** Up to three ledger batches named by an id or (six characters or more) a prefix of it, the exact one first. */
export async function batchesMatching(sql: Sql, idOrPrefix: string): Promise<LedgerBatch[]> {
  const pattern = `${idOrPrefix.replace(/[\\%_]/g, '\\$&')}%`;
  const rows = await sql<LedgerBatch[]>`
    SELECT batch_id AS "batchId", file_id AS "fileId", table_name AS table, partition, chunk, status
    FROM landfall.batches
    WHERE batch_id = ${idOrPrefix} OR (${idOrPrefix.length >= 6} AND batch_id LIKE ${pattern})
    ORDER BY batch_id = ${idOrPrefix} DESC, batch_id
    LIMIT 3`;
  return rows.map((r) => ({ ...r }));
}

/** Rows applied per second over the last five minutes, from the ledger's applied batches. */
export async function appliedRowsPerSecond(sql: Sql): Promise<{ t: string; rows: number }[]> {
  const rows = await sql<{ t: string; rows: number }[]>`
    SELECT to_char(date_trunc('second', applied_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS t,
           sum(read)::int AS rows
    FROM landfall.batches
    WHERE status = 'applied' AND applied_at > now() - interval '5 minutes'
    GROUP BY 1 ORDER BY 1`;
  return rows.map((r) => ({ ...r }));
}

