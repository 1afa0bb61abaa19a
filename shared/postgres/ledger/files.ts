import type { BatchCounts } from '../../core/batch.ts';
import type { FileManifest } from '../../core/batch-message.ts';
import { manifestKeyOf } from '../../core/keys.ts';
import { fixForUnreadableEnd } from '../../core/read/unreadable-end.ts';
import type { Sql, TxSql } from '../db.ts';
import { toPgArrayLiteral } from '../pg-array.ts';
import type { HeldNumbers } from './snapshot-files.ts';
import { fixForUnreadable, UnreadableReason } from '../../core/read/errors.ts';

/** PostgreSQL text cannot hold NUL: a rejected row's text keeps U+FFFD in its place. */
const storable = (text: string) => text.replaceAll('\0', '\uFFFD');

/**
 * Registers a file from a manifest of it, or brings its ledger row up to a later one: the
 * opening manifest (`producing`: the producer picked the file up; batch count unknown), then the
 * final one (`produced`, with its counts and rejected rows, or `moved-aside` with its reason and
 * where it went). A later manifest corrects an earlier registration: a produced one wins over
 * `producing` and over `moved-aside` (the file was produced after all: dropped again, say), a
 * moved-aside one over `producing` (keeping the table and the manifest of the produced part:
 * batches of it may be applied, and then it is not "not read"). A row
 * that is `produced` never changes, nor does an opening manifest reopen a moved-aside one (a new
 * drop does: reopenMovedAside). A move-aside replaced is kept for audit (`previous_outcome`), with when.
 * A manifest of a file `forgetFile` cleared, written before the forget, registers nothing: a late
 * copy of its notice (SQS delivers at least once) must not bring the forgotten file back.
 */
export async function registerFile(sql: Sql, manifest: FileManifest, manifestKey: string): Promise<void> {
  const f = manifest.file;
  // A file whose end was unreadable is produced (the rows before it apply), with its reason and nowhere moved.
  const reason = manifest.reason ?? (manifest.unreadableEnd ? { ...manifest.unreadableEnd, movedTo: null, line: null, field: null } : null);
  const rejects = manifest.rejectsListed ?? [];
  const producing = manifest.status === 'producing';
  // When the manifest was written: a notice of a forgotten file whose manifest is older than the
  // forget is a late copy (SQS delivers at least once) and registers nothing.
  const writtenAt = (producing ? manifest.startedAt : manifest.finishedAt) || manifest.startedAt || null;
  await sql.begin(async (tx) => {
    const written = await tx`
      INSERT INTO landfall.files AS f (file_id, table_name, bucket, key, version_id, etag, event_time, batch_count, read, rejected, manifest_key, rejects_key,
                                       outcome, reason_code, reason, reason_line, reason_field, moved_to)
      SELECT ${manifest.fileId}, ${manifest.table}, ${f.bucket}, ${f.key}, ${f.versionId}, ${f.etag}, ${f.eventTime}::timestamptz, ${producing ? null : manifest.batchCount}::int,
             ${producing ? 0 : manifest.read}::bigint, ${producing ? 0 : manifest.rejected}::bigint, ${manifestKey}, ${manifest.rejects?.key ?? null}::text,
             ${manifest.status}, ${reason?.code ?? null}::text, ${reason?.message ?? null}::text, ${reason?.line ?? null}::bigint, ${reason?.field ?? null}::text,
             ${reason?.movedTo ? `s3://${reason.movedTo.bucket}/${reason.movedTo.key}` : null}::text
      WHERE NOT EXISTS (SELECT 1 FROM landfall.forgotten_files g WHERE g.file_id = ${manifest.fileId} AND g.forgotten_at >= ${writtenAt}::timestamptz)
      ON CONFLICT (file_id) DO UPDATE SET
        -- A move-aside after the file was picked up keeps what is known of the produced part.
        table_name = CASE WHEN EXCLUDED.outcome = 'moved-aside' AND f.outcome = 'producing' THEN f.table_name ELSE EXCLUDED.table_name END,
        event_time = CASE WHEN EXCLUDED.outcome = 'moved-aside' AND f.outcome = 'producing' THEN f.event_time ELSE EXCLUDED.event_time END,
        batch_count = EXCLUDED.batch_count,
        manifest_key = CASE WHEN EXCLUDED.outcome = 'moved-aside' AND f.outcome = 'producing' THEN f.manifest_key ELSE EXCLUDED.manifest_key END,
        read = EXCLUDED.read, rejected = EXCLUDED.rejected, rejects_key = EXCLUDED.rejects_key,
        outcome = EXCLUDED.outcome, reason_code = EXCLUDED.reason_code, reason = EXCLUDED.reason, reason_line = EXCLUDED.reason_line,
        reason_field = EXCLUDED.reason_field, moved_to = EXCLUDED.moved_to,
        -- Only a correction is kept (a move-aside undone); producing → produced is the normal course.
        previous_outcome = CASE WHEN f.outcome = 'moved-aside' THEN 'moved-aside' ELSE f.previous_outcome END, outcome_changed_at = now()
      WHERE (f.outcome = 'producing' AND EXCLUDED.outcome <> 'producing') OR (f.outcome = 'moved-aside' AND EXCLUDED.outcome = 'produced')
      RETURNING 1`;
    if (written.length === 0 || rejects.length === 0) return;
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

/** How the ledger has a file: `producing` (picked up, manifest not final), `produced`, `moved-aside`; null when not at all. */
export type FileOutcome = 'producing' | 'produced' | 'moved-aside';

export async function fileOutcome(sql: Sql | TxSql, fileId: string): Promise<FileOutcome | null> {
  const [row] = await sql<{ outcome: FileOutcome }[]>`SELECT outcome FROM landfall.files WHERE file_id = ${fileId}`;
  return row?.outcome ?? null;
}

/**
 * A file moved aside and then dropped again (or forgotten after a wrong move-aside, its batches
 * applied): back to `producing`, its reason cleared (kept as the previous outcome), so that
 * nothing reads the old move-aside as the new attempt's outcome. Returns whether it was moved aside.
 */
export async function reopenMovedAside(sql: Sql | TxSql, fileId: string): Promise<boolean> {
  const reopened = await sql`
    UPDATE landfall.files SET outcome = 'producing', batch_count = NULL, previous_outcome = outcome, outcome_changed_at = now(),
                              reason_code = NULL, reason = NULL, reason_line = NULL, reason_field = NULL, moved_to = NULL
    WHERE file_id = ${fileId} AND outcome = 'moved-aside'
    RETURNING 1`;
  return reopened.length > 0;
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
  /**
   * In progress: picked up by the producer (its manifest not final yet: the batch count is not
   * known), or batches not applied yet; after a crash, what was applied so far.
   */
  pending: 'pending',
  /** Some batches failed as a set and wait for replay. */
  replaying: 'replaying',
  /** Not read at all: moved to the inbox's rejected/ prefix with a reason (a file with an applied batch never is). */
  movedAside: 'moved-aside',
  /** Not complete, and its table is refused by the consumer (landfall.blocked_tables): the reason and the fix. */
  blocked: 'blocked',
  /** A snapshot file whose batches are applied and whose removal a guard holds (snapshot-files.ts): the numbers and `landfall snapshot confirm FILE`. */
  held: 'held',
  /**
   * Final, not complete: the producer stopped reading it part-way (the per-file invocation cap,
   * `too-many-invocations`) after sending the batches of the part it read, and every one of them
   * is applied. Its counts account for the rows read; the rest of the file was not read.
   */
  stopped: 'stopped',
} as const;
export type FileState = (typeof FileState)[keyof typeof FileState];

/**
 * What a file's receipt says to a person, finer than its `status` (which scripts wait on): a
 * complete file that loaded nothing, or has rejected or quarantined rows, says so.
 */
export const FileDisplayState = {
  inProgress: 'in progress',
  complete: 'complete',
  completeWithRejects: 'complete with rejects',
  completeNothingLoaded: 'complete, 0 loaded',
  /** Every batch applied, but the file's end was unreadable (corrupt or truncated compressed data, a Parquet row group): the rest of it was not read. */
  completeEndUnreadable: 'complete, end unreadable',
  replaying: 'replaying',
  blocked: 'blocked',
  movedAside: 'moved aside',
  /** A snapshot file whose removal a guard holds. */
  held: 'held',
  stopped: 'stopped',
} as const;
export type FileDisplayState = (typeof FileDisplayState)[keyof typeof FileDisplayState];

/**
 * Rows of the file that reached its table (written, or found equal, older, collapsed or
 * deleted): the read rows that were neither rejected by the producer nor quarantined.
 */
export const loadedOf = (c: BatchCounts): number => c.collapsed + c.inserted + c.updated + c.unchanged + c.stale + c.deleted;

/** The display state of a receipt (see FileDisplayState); pure. */
export function displayStateOf(r: Pick<FileReceipt, 'status' | 'rejected'> & Partial<Pick<FileReceipt, 'reasonCode'>> & BatchCounts): FileDisplayState {
  switch (r.status) {
    case FileState.complete:
      // A complete file has a reason only when its end was unreadable (UnreadableEnd).
      if (r.reasonCode) return FileDisplayState.completeEndUnreadable;
      if (loadedOf(r) === 0) return FileDisplayState.completeNothingLoaded;
      return r.rejected + r.quarantined > 0 ? FileDisplayState.completeWithRejects : FileDisplayState.complete;
    case FileState.pending:
      return FileDisplayState.inProgress;
    case FileState.movedAside:
      return FileDisplayState.movedAside;
    case FileState.stopped:
      return FileDisplayState.stopped;
    default:
      return r.status;
  }
}

/** Per-file receipt (DESIGN.md rule 4): read = rejected + collapsed + … + quarantined once complete. */
export interface FileReceipt extends BatchCounts {
  file: string;
  bucket: string;
  fileId: string;
  table: string;
  status: FileState;
  /** What to tell a person: `complete with rejects`, `complete, 0 loaded`, `in progress`… (displayStateOf). */
  state: FileDisplayState;
  /** Rows that reached the table (loadedOf): 0 for a file that loaded nothing. */
  loaded: number;
  /** The file's batches; null while the producer is still reading it (its manifest not final). */
  batches: number | null;
  batchesApplied: number;
  /** Rows read: the final count once the file is produced; while it is read, the rows of its applied batches. */
  read: number;
  rejected: number;
  registeredAt: string;
  /** Why a file was moved aside (with the line and field where there is one), else null. */
  reason: string | null;
  reasonCode: string | null;
  /** Where a moved-aside file is now (`s3://…/rejected/…`). */
  movedTo: string | null;
  /** What fixes a blocked file's table, or finishes a file interrupted by a move-aside; how to go ahead with a `held` one. */
  fix?: string;
  /** What the ledger said of the file before a later registration corrected it (`moved-aside`, say), else null. */
  previousOutcome: string | null;
  /** Rows a snapshot file removed because it did not hold their keys: beside rule 4, not inside `read`. */
  removed: number;
  /** A held snapshot file: what the removal would do (only on a `held` receipt). */
  held?: HeldNumbers;
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
  type Row = Omit<FileReceipt, 'state' | 'loaded'> & {
    outcome: FileOutcome;
    blockedCode: string | null;
    blockedReason: string | null;
    blockedFix: string | null;
    heldCode: string | null;
    heldReason: string | null;
    heldNumbers: HeldNumbers | null;
  };
  const rows = await sql<Row[]>`
    SELECT f.key AS file, f.bucket, f.file_id AS "fileId", f.table_name AS table, f.outcome,
           -- What was applied decides: a file with an applied batch is never "moved aside, not read".
           CASE WHEN f.outcome = 'moved-aside' AND count(b.*) FILTER (WHERE b.status = 'applied') = 0 THEN 'moved-aside'
                -- Stopped part-way (the invocation cap): final once the batches of the part read are applied.
                WHEN f.outcome = 'moved-aside' AND f.reason_code = ${UnreadableReason.tooManyInvocations}
                     AND count(b.*) FILTER (WHERE b.status = 'applied') >= f.batch_count THEN 'stopped'
                -- A snapshot file is complete once its removal ran; until then pending, or held by a guard.
                WHEN f.outcome = 'produced' AND count(b.*) FILTER (WHERE b.status = 'applied') >= f.batch_count
                  THEN CASE s.state WHEN 'held' THEN 'held' WHEN 'waiting' THEN 'pending' ELSE 'complete' END
                WHEN bt.table_name IS NOT NULL THEN 'blocked'
                WHEN count(b.*) FILTER (WHERE b.status = 'poisoned') > 0 THEN 'replaying'
                ELSE 'pending' END AS status,
           -- A move-aside's 0 batches is not the count of a file whose batches were applied: unknown.
           -- (A file stopped by the invocation cap counts the batches it sent.)
           CASE WHEN f.outcome = 'moved-aside' AND f.reason_code IS DISTINCT FROM ${UnreadableReason.tooManyInvocations}
                     AND count(b.*) FILTER (WHERE b.status = 'applied') > 0 THEN NULL ELSE f.batch_count END AS batches,
           count(b.*) FILTER (WHERE b.status = 'applied')::int AS "batchesApplied",
           (CASE WHEN f.outcome = 'produced' THEN f.read ELSE f.rejected + coalesce(sum(b.read) FILTER (WHERE b.status = 'applied'), 0) END)::int AS read,
           f.rejected::int AS rejected,
           coalesce(sum(b.collapsed), 0)::int AS collapsed, coalesce(sum(b.inserted), 0)::int AS inserted,
           coalesce(sum(b.updated), 0)::int AS updated, coalesce(sum(b.unchanged), 0)::int AS unchanged,
           coalesce(sum(b.stale), 0)::int AS stale, coalesce(sum(b.deleted), 0)::int AS deleted,
           coalesce(sum(b.quarantined), 0)::int AS quarantined,
           to_char(f.registered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "registeredAt",
           f.reason || coalesce(' (line ' || f.reason_line || coalesce(', field ' || f.reason_field, '') || ')', '') AS reason,
           f.reason_code AS "reasonCode", f.moved_to AS "movedTo", f.previous_outcome AS "previousOutcome",
           bt.code AS "blockedCode", bt.reason AS "blockedReason", bt.fix AS "blockedFix",
           coalesce(s.removed, 0)::float8 AS removed, s.held_code AS "heldCode", s.held_reason AS "heldReason", s.held_numbers AS "heldNumbers"
    FROM landfall.files f
    LEFT JOIN landfall.snapshot_files s ON s.file_id = f.file_id
    LEFT JOIN landfall.batches b ON b.file_id = f.file_id
    -- Blocked: the table refused a delivery since the file was registered (a refusal left over
    -- from before, e.g. the deploy step's for a table created since, does not block a new file).
    LEFT JOIN landfall.blocked_tables bt ON bt.table_name = f.table_name AND f.outcome <> 'moved-aside' AND bt.last_seen >= f.registered_at
    WHERE (${filter.fileIds ?? null}::text[] IS NULL OR f.file_id = ANY(${filter.fileIds ?? null}::text[]))
      AND (${filter.key ?? null}::text IS NULL OR f.key = ${filter.key ?? null}::text)
      AND (${filter.etag ?? null}::text IS NULL OR f.etag = ${filter.etag ?? null}::text)
    GROUP BY f.file_id, bt.table_name, s.file_id
    ORDER BY f.registered_at, f.key`;
  return rows.map(({ outcome, blockedCode, blockedReason, blockedFix, heldCode, heldReason, heldNumbers, ...r }) => {
    const receipt: FileReceipt = { ...r, state: displayStateOf(r), loaded: loadedOf(r) };
    // A blocked file's reason and fix are its table's.
    if (r.status === FileState.blocked) return { ...receipt, reason: blockedReason, reasonCode: blockedCode, ...(blockedFix ? { fix: blockedFix } : {}) };
    // Stopped by the invocation cap: the reason says how far it was read; the fix is the cap's.
    if (r.reasonCode === UnreadableReason.tooManyInvocations && r.status !== FileState.movedAside) {
      const fix = fixForUnreadable(r.reasonCode);
      if (r.status === FileState.stopped) return { ...receipt, fix };
      return { ...receipt, reason: `stopping: the batches of the part read are applying (${r.batchesApplied} of ${r.batches ?? '?'}): ${r.reason ?? ''}`, fix };
    }
    // A held snapshot file's are its removal's: what it would remove, and the command that goes ahead.
    if (r.status === FileState.held) return { ...receipt, reason: heldReason, reasonCode: heldCode, fix: confirmCommandOf(r.file), ...(heldNumbers ? { held: heldNumbers } : {}) };
    // Produced with a reason: its end was unreadable (UnreadableEnd), the rows before it apply.
    if (outcome === 'produced' && r.reasonCode) return { ...receipt, fix: fixForUnreadableEnd() };
    // Moved aside after some of its batches were applied (the config lost its table, say): in progress, never "not read".
    if (outcome === 'moved-aside' && r.status !== FileState.movedAside) {
      return {
        ...receipt,
        reason: `moved aside after ${r.batchesApplied} of its batches were applied: ${r.reason ?? 'unreadable'}`,
        fix: `drop it again to finish it (landfall run --force FILE, from ${r.movedTo ?? 'its copy under rejected/'}); landfall forget ${r.file} clears the move-aside`,
      };
    }
    return receipt;
  });
}

/** The command that goes ahead with a held snapshot file's removal (`--force` on `run`/`drop` does too). */
export const confirmCommandOf = (key: string) => `landfall snapshot confirm ${/^[A-Za-z0-9_.,:/=@+-]+$/.test(key) ? key : `'${key.replaceAll("'", `'\\''`)}'`}`;

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

/** What `forgetFile` did: the failed attempt cleared, or a wrong move-aside of a file with applied batches undone. */
export type Forgotten = { cleared: true; batches: number; rejects: number } | { cleared: false; reopened: true; appliedBatches: number };

/**
 * Clears a failed attempt at a file from the ledger (its row, its batches not applied, its
 * rejected rows), so that dropping it again starts afresh. A file with an applied batch keeps its
 * row: its rows are in the table, and forgetting it would lose their accounting. If it was moved
 * aside anyway (a restart whose config lacked its table, say), the wrong move-aside is undone: it
 * is in progress again, with what was applied, until it is dropped again. Any other file with an
 * applied batch is refused.
 */
export async function forgetFile(sql: Sql, fileId: string): Promise<Forgotten> {
  return (await sql.begin(async (tx) => {
    await tx`SELECT 1 FROM landfall.files WHERE file_id = ${fileId} FOR UPDATE`;
    const [applied] = await tx<{ n: number }[]>`SELECT count(*)::int AS n FROM landfall.batches WHERE file_id = ${fileId} AND status = 'applied'`;
    if (applied!.n > 0) {
      if (await reopenMovedAside(tx, fileId)) return { cleared: false, reopened: true, appliedBatches: applied!.n };
      throw new ForgetRefusedError(`${applied!.n} of its batches are applied (its rows are in the table); only a failed attempt can be forgotten`);
    }
    const batches = await tx`DELETE FROM landfall.batches WHERE file_id = ${fileId}`;
    const rejects = await tx`DELETE FROM landfall.rejects WHERE file_id = ${fileId}`;
    await tx`DELETE FROM landfall.files WHERE file_id = ${fileId}`;
    // Remembered, so that a late copy of its notice (delivered again after this) does not bring it back.
    await tx`INSERT INTO landfall.forgotten_files (file_id) VALUES (${fileId}) ON CONFLICT (file_id) DO UPDATE SET forgotten_at = now()`;
    return { cleared: true, batches: batches.count, rejects: rejects.count };
  })) as Forgotten;
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


/** A ledger row that disagrees with the batches (`landfall status --check`), with what repairs it. */
export interface LedgerFinding {
  kind: 'moved-aside-but-applied' | 'batches-without-file' | 'more-batches-than-manifest' | 'read-disagrees' | 'batch-does-not-add-up' | 'stalled';
  fileId: string;
  /** The inbox key, when the ledger has the file. */
  file: string | null;
  table: string;
  detail: string;
  /** Commands that repair it, in order (`landfall status --check --repair` does the ledger's part). */
  repair: string[];
  /** A batch the finding is about, where there is one. */
  batchId?: string;
}

/** In progress with no batch applied for this long: stalled, unless the producer is still reading it. */
export const STALLED_AFTER_MINUTES = 60;

/**
 * Every ledger row that disagrees with the batches: a file moved aside although batches of it
 * are applied; applied batches of a file the ledger does not have; more applied batches than the
 * manifest counted; a complete file whose read count is not its rejected rows plus its batches'
 * reads; an applied batch whose counts do not add up (rule 4); a file in progress with nothing
 * applied for an hour. Read-only.
 */
export async function checkLedger(sql: Sql): Promise<LedgerFinding[]> {
  const findings: LedgerFinding[] = [];
  const movedAside = await sql<{ fileId: string; file: string; table: string; applied: number; movedTo: string | null; reasonCode: string | null }[]>`
    SELECT f.file_id AS "fileId", f.key AS file, f.table_name AS table, count(b.*)::int AS applied, f.moved_to AS "movedTo", f.reason_code AS "reasonCode"
    FROM landfall.files f JOIN landfall.batches b ON b.file_id = f.file_id AND b.status = 'applied'
    WHERE f.outcome = 'moved-aside'
      -- A file stopped by the invocation cap sent the batches of the part it read: they apply.
      AND f.reason_code IS DISTINCT FROM ${UnreadableReason.tooManyInvocations}
    GROUP BY f.file_id ORDER BY f.registered_at`;
  for (const r of movedAside) {
    findings.push({
      kind: 'moved-aside-but-applied',
      fileId: r.fileId,
      file: r.file,
      table: r.table,
      detail: `recorded as moved aside (${r.reasonCode ?? 'unreadable'}), yet ${r.applied} of its batches are applied: its rows are in the table`,
      repair: ['landfall status --check --repair', `landfall run --force FILE   # the file again (its copy: ${r.movedTo ?? 'under rejected/ in the inbox'}), to finish it`],
    });
  }
  const orphans = await sql<{ fileId: string; table: string; applied: number; batchId: string }[]>`
    SELECT b.file_id AS "fileId", b.table_name AS table, count(*) FILTER (WHERE b.status = 'applied')::int AS applied, min(b.batch_id) AS "batchId"
    FROM landfall.batches b LEFT JOIN landfall.files f ON f.file_id = b.file_id
    WHERE f.file_id IS NULL GROUP BY b.file_id, b.table_name ORDER BY min(b.updated_at)`;
  for (const r of orphans) {
    findings.push({
      kind: 'batches-without-file',
      fileId: r.fileId,
      file: null,
      table: r.table,
      batchId: r.batchId,
      detail: `${r.applied} applied batch(es) of a file the ledger does not list`,
      repair: ['landfall status --check --repair   # registers the file from its manifest in the staging bucket'],
    });
  }
  const counted = await sql<{ fileId: string; file: string; table: string; batches: number; applied: number; read: number; rejected: number; batchRead: number }[]>`
    SELECT f.file_id AS "fileId", f.key AS file, f.table_name AS table, f.batch_count AS batches, count(b.*)::int AS applied,
           f.read::int AS read, f.rejected::int AS rejected, coalesce(sum(b.read), 0)::int AS "batchRead"
    FROM landfall.files f JOIN landfall.batches b ON b.file_id = f.file_id AND b.status = 'applied'
    WHERE f.outcome = 'produced' GROUP BY f.file_id
    HAVING count(b.*) > f.batch_count OR (count(b.*) = f.batch_count AND f.read <> f.rejected + coalesce(sum(b.read), 0))
    ORDER BY f.registered_at`;
  for (const r of counted) {
    const more = r.applied > r.batches;
    findings.push({
      kind: more ? 'more-batches-than-manifest' : 'read-disagrees',
      fileId: r.fileId,
      file: r.file,
      table: r.table,
      detail: more
        ? `${r.applied} applied batches, but its manifest counted ${r.batches}`
        : `read ${r.read}, but its rejected rows (${r.rejected}) and its batches' reads (${r.batchRead}) make ${r.rejected + r.batchRead}`,
      repair: [`landfall status ${r.file}   # which batch; a person must look (the batches hold what was applied)`],
    });
  }
  const batches = await sql<{ fileId: string; file: string | null; table: string; batchId: string; read: number; accounted: number }[]>`
    SELECT b.file_id AS "fileId", f.key AS file, b.table_name AS table, b.batch_id AS "batchId", b.read,
           (b.collapsed + b.inserted + b.updated + b.unchanged + b.stale + b.deleted + b.quarantined)::int AS accounted
    FROM landfall.batches b LEFT JOIN landfall.files f ON f.file_id = b.file_id
    WHERE b.status = 'applied' AND b.read <> b.collapsed + b.inserted + b.updated + b.unchanged + b.stale + b.deleted + b.quarantined
    ORDER BY b.updated_at`;
  for (const r of batches) {
    findings.push({
      kind: 'batch-does-not-add-up',
      fileId: r.fileId,
      file: r.file,
      table: r.table,
      batchId: r.batchId,
      detail: `batch ${r.batchId.slice(0, 12)} read ${r.read} but accounts for ${r.accounted}`,
      repair: [`landfall status ${r.file ?? r.fileId}   # a person must look: the batch's counts were written in its own transaction`],
    });
  }
  const stalled = await sql<{ fileId: string; file: string; table: string; applied: number; minutes: number }[]>`
    SELECT f.file_id AS "fileId", f.key AS file, f.table_name AS table, count(b.*) FILTER (WHERE b.status = 'applied')::int AS applied,
           floor(extract(epoch FROM now() - greatest(f.registered_at, max(b.updated_at))) / 60)::int AS minutes
    FROM landfall.files f LEFT JOIN landfall.batches b ON b.file_id = f.file_id
    WHERE f.outcome = 'producing' GROUP BY f.file_id
    HAVING greatest(f.registered_at, max(b.updated_at)) < now() - make_interval(mins => ${STALLED_AFTER_MINUTES})
    ORDER BY f.registered_at`;
  for (const r of stalled) {
    findings.push({
      kind: 'stalled',
      fileId: r.fileId,
      file: r.file,
      table: r.table,
      detail: `in progress (its manifest never closed), ${r.applied} batch(es) applied, nothing for ${r.minutes} minutes`,
      repair: [`landfall run --force FILE   # if the producer is not still reading it (a crash, or a stopped landfall dev): the file again finishes it`],
    });
  }
  return findings;
}

/** What `repairLedger` did with one finding. */
export interface LedgerRepair {
  kind: LedgerFinding['kind'];
  fileId: string;
  done: string;
}

/**
 * The ledger's part of the repairs `checkLedger` prints: a file moved aside although batches of
 * it are applied is reopened (in progress, with what was applied, until it is dropped again); a
 * file whose applied batches the ledger does not list is registered from its manifest in staging
 * (`readManifest`). Other findings need a person (or the file dropped again) and are left.
 */
export async function repairLedger(sql: Sql, findings: readonly LedgerFinding[], readManifest: ((key: string) => Promise<FileManifest>) | null): Promise<LedgerRepair[]> {
  const repairs: LedgerRepair[] = [];
  for (const f of findings) {
    if (f.kind === 'moved-aside-but-applied' && (await reopenMovedAside(sql, f.fileId))) {
      repairs.push({ kind: f.kind, fileId: f.fileId, done: 'reopened: in progress with its applied batches; drop the file again to finish it' });
    } else if (f.kind === 'batches-without-file' && readManifest) {
      const key = manifestKeyOf(f.table, f.fileId);
      const manifest = await readManifest(key).catch(() => null);
      if (!manifest || manifest.fileId !== f.fileId) {
        repairs.push({ kind: f.kind, fileId: f.fileId, done: `not repaired: no manifest of it at ${key} (expired?)` });
        continue;
      }
      await registerFile(sql, manifest, key);
      repairs.push({ kind: f.kind, fileId: f.fileId, done: `registered from ${key} (${manifest.status})` });
    }
  }
  return repairs;
}
