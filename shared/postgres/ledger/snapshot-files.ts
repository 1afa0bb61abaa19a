import type postgres from 'postgres';
import type { Sql, TxSql } from '../db.ts';

/**
 * The ledger's part of the snapshot rule: each snapshot file's removal (`landfall.snapshot_files`:
 * waiting for its last batch, held by a guard with the numbers, or done with the count removed)
 * and what each batch recorded for it (`landfall.snapshot_batches`). The removal claims its file
 * here, in the same transaction as its deletes (snapshot-removal.ts).
 */

export const SnapshotState = {
  /** The removal has not run: batches still to apply, or the step between the last batch and the removal. */
  waiting: 'waiting',
  /** A guard held the removal: nothing was removed; `landfall snapshot confirm FILE` goes ahead. */
  held: 'held',
  /** The removal ran (or found nothing to remove): `removed` rows. */
  done: 'done',
} as const;
export type SnapshotState = (typeof SnapshotState)[keyof typeof SnapshotState];

/** Why a removal is held (`held_code`). */
export const HeldCode = {
  empty: 'snapshot-empty',
  rejects: 'snapshot-rejects',
  share: 'snapshot-share',
  keysLost: 'snapshot-keys-lost',
  /** The removal failed on the data (a foreign key that refuses the delete, a trigger): nothing was removed. */
  failed: 'snapshot-failed',
} as const;
export type HeldCode = (typeof HeldCode)[keyof typeof HeldCode];

/** What a held removal would have done, and why it waits (shown by `status`, `run` and the page). */
export interface HeldNumbers {
  read: number;
  rejected: number;
  /** Rows quarantined before their key or scope could be read (no trusted key). */
  keyless: number;
  /** Scopes the file covers; those a newer snapshot settled first (they remove nothing). */
  scopes: number;
  superseded: number;
  /** Stored rows of the live scopes, and those the removal would remove. */
  stored: number;
  removed: number;
  /** Scopes that would lose more than `maxRemovedShare` of their stored rows. */
  over: number;
  maxRemovedShare: number;
  /** The scope that would lose the largest share: its values (`{}`: the whole table) and counts. */
  worst: { scope: Record<string, unknown>; stored: number; removed: number } | null;
  /** `snapshot-failed`: PostgreSQL's SQLSTATE and message (never the rows' values). */
  error?: { sqlstate: string | null; message: string };
}

export interface SnapshotFileRow {
  fileId: string;
  /** The file's number in the keys and scopes tables. */
  seq: number;
  table: string;
  state: SnapshotState;
  force: boolean;
  arrival: string | null;
  scopes: number | null;
  superseded: number | null;
  stored: number | null;
  removed: number;
  heldCode: HeldCode | null;
  heldReason: string | null;
  heldNumbers: HeldNumbers | null;
  confirmedBy: string | null;
}

const ROW = `file_id AS "fileId", seq::float8 AS seq, table_name AS "table", state, force, arrival, scopes, superseded, stored::float8 AS stored, removed::float8 AS removed,
  held_code AS "heldCode", held_reason AS "heldReason", held_numbers AS "heldNumbers", confirmed_by AS "confirmedBy"`;

/**
 * In a batch's transaction: the file is a snapshot file (its receipt says `pending` until the
 * removal ran); returns its number, under which the batch records its keys. A snapshot file's
 * row never blocks a batch: `ON CONFLICT DO NOTHING` takes no row lock.
 */
export async function snapshotFileSeq(tx: TxSql, batch: { fileId: string; table: string; arrival: string }): Promise<number> {
  const [row] = await tx<{ seq: number }[]>`
    WITH ins AS (
      INSERT INTO landfall.snapshot_files (file_id, table_name, arrival) VALUES (${batch.fileId}, ${batch.table}, ${batch.arrival}) ON CONFLICT (file_id) DO NOTHING RETURNING seq
    )
    SELECT seq::float8 AS seq FROM ins UNION ALL SELECT seq::float8 FROM landfall.snapshot_files WHERE file_id = ${batch.fileId} LIMIT 1`;
  if (row) return row.seq;
  // Another batch of the file inserted the row concurrently and committed while this statement
  // waited on it: the statement's snapshot cannot see it, the next statement's can.
  const [again] = await tx<{ seq: number }[]>`SELECT seq::float8 AS seq FROM landfall.snapshot_files WHERE file_id = ${batch.fileId}`;
  return again!.seq;
}

/** What the batch recorded: `keys` keys, `keyless` rows without a trusted key, into the keys table `relation`. */
export async function noteSnapshotBatch(tx: TxSql, batch: { batchId: string; fileId: string }, recorded: { keys: number; keyless: number; relation: string }): Promise<void> {
  await tx`
    INSERT INTO landfall.snapshot_batches (batch_id, file_id, keys, keyless, keys_relid)
    VALUES (${batch.batchId}, ${batch.fileId}, ${recorded.keys}, ${recorded.keyless}, to_regclass(${recorded.relation})::oid)`;
}

/** A snapshot file known before its removal runs (a file without batches, registered from its notice). */
export async function noteSnapshotFile(sql: Sql | TxSql, file: { fileId: string; table: string; arrival: string | null }): Promise<void> {
  await sql`INSERT INTO landfall.snapshot_files (file_id, table_name, arrival) VALUES (${file.fileId}, ${file.table}, ${file.arrival}) ON CONFLICT (file_id) DO UPDATE SET arrival = coalesce(landfall.snapshot_files.arrival, EXCLUDED.arrival)`;
}

/** The removal's claim: the file's row, locked for this transaction (created waiting when new). */
export async function claimSnapshotFile(tx: TxSql, file: { fileId: string; table: string }): Promise<SnapshotFileRow> {
  await tx`INSERT INTO landfall.snapshot_files (file_id, table_name) VALUES (${file.fileId}, ${file.table}) ON CONFLICT (file_id) DO NOTHING`;
  const [row] = await tx.unsafe<SnapshotFileRow[]>(`SELECT ${ROW} FROM landfall.snapshot_files WHERE file_id = $1 FOR UPDATE`, [file.fileId]);
  return { ...row! };
}

export async function snapshotFile(sql: Sql | TxSql, fileId: string): Promise<SnapshotFileRow | null> {
  const [row] = await sql.unsafe<SnapshotFileRow[]>(`SELECT ${ROW} FROM landfall.snapshot_files WHERE file_id = $1`, [fileId]);
  return row ? { ...row } : null;
}

/** What the removal needs of a registered file: its counts, whether every batch is applied, and what its batches recorded. */
export interface FileForRemoval {
  key: string;
  eventTime: string;
  /** `producing` (picked up, its batch count not final), `produced` or `moved-aside`. */
  outcome: string;
  batchCount: number | null;
  applied: number;
  read: number;
  rejected: number;
  /** Keys the batches recorded, and their rows without a trusted key. */
  keys: number;
  keyless: number;
  /** Some batch recorded its keys into a keys table that is gone (dropped and made again since). */
  keysLost: boolean;
}

export async function fileForRemoval(sql: Sql | TxSql, fileId: string, keysRelation: string): Promise<FileForRemoval | null> {
  const [row] = await sql<FileForRemoval[]>`
    SELECT f.key, to_char(f.event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "eventTime", f.outcome, f.batch_count AS "batchCount",
           (SELECT count(*) FROM landfall.batches b WHERE b.file_id = f.file_id AND b.status = 'applied')::int AS applied,
           f.read::float8 AS read, f.rejected::float8 AS rejected,
           (SELECT coalesce(sum(s.keys), 0) FROM landfall.snapshot_batches s WHERE s.file_id = f.file_id)::float8 AS keys,
           (SELECT coalesce(sum(s.keyless), 0) FROM landfall.snapshot_batches s WHERE s.file_id = f.file_id)::float8 AS keyless,
           EXISTS (SELECT 1 FROM landfall.snapshot_batches s WHERE s.file_id = f.file_id AND s.keys > 0
                   AND s.keys_relid IS DISTINCT FROM to_regclass(${keysRelation})::oid) AS "keysLost"
    FROM landfall.files f WHERE f.file_id = ${fileId}`;
  return row ? { ...row } : null;
}

/**
 * Whether the removal step has work: the file is registered, produced, every batch applied, and
 * its removal neither done nor held. One indexed look, run after every batch of a snapshot file.
 */
export async function removalDue(sql: Sql | TxSql, fileId: string): Promise<boolean> {
  const [row] = await sql<{ due: boolean }[]>`
    SELECT f.outcome = 'produced'
           AND (SELECT count(*) FROM landfall.batches b WHERE b.file_id = f.file_id AND b.status = 'applied') >= f.batch_count
           AND coalesce(s.state, 'waiting') = 'waiting' AS due
    FROM landfall.files f LEFT JOIN landfall.snapshot_files s ON s.file_id = f.file_id
    WHERE f.file_id = ${fileId}`;
  return row?.due ?? false;
}

export async function recordRemovalDone(
  tx: TxSql,
  fileId: string,
  done: { arrival: string; scopes: number; superseded: number; stored: number; removed: number; confirmedBy: string | null; keysForgotten: boolean },
): Promise<void> {
  await tx`
    UPDATE landfall.snapshot_files SET state = 'done', arrival = ${done.arrival}, scopes = ${done.scopes}, superseded = ${done.superseded}, stored = ${done.stored},
           removed = ${done.removed}, confirmed_by = ${done.confirmedBy}, keys_forgotten = keys_forgotten OR ${done.keysForgotten}, decided_at = now(), updated_at = now()
    WHERE file_id = ${fileId}`;
}

export async function recordRemovalHeld(tx: TxSql, fileId: string, held: { arrival: string; code: HeldCode; reason: string; numbers: HeldNumbers }): Promise<void> {
  await tx`
    UPDATE landfall.snapshot_files SET state = 'held', arrival = ${held.arrival}, scopes = ${held.numbers.scopes}, superseded = ${held.numbers.superseded},
           stored = ${held.numbers.stored}, removed = 0, held_code = ${held.code}, held_reason = ${held.reason}, held_numbers = ${tx.json(held.numbers as unknown as postgres.JSONValue)},
           decided_at = now(), updated_at = now()
    WHERE file_id = ${fileId}`;
}

/**
 * Whether a removal may forget the keys table whole (TRUNCATE) once it ran: no other file of the
 * table still needs its keys (every other file's removal is done). Asked under the table's
 * exclusive snapshot lock, so no batch is recording keys meanwhile. Returns the other done
 * files whose keys were not forgotten yet (a crash after an earlier removal), to mark with it.
 */
export async function keysOnlyOf(tx: TxSql, table: string, fileId: string): Promise<{ only: boolean; doneOthers: string[] }> {
  const rows = await tx<{ fileId: string; state: SnapshotState }[]>`
    SELECT file_id AS "fileId", state FROM landfall.snapshot_files WHERE table_name = ${table} AND file_id <> ${fileId} AND NOT keys_forgotten`;
  return { only: rows.every((r) => r.state === 'done'), doneOthers: rows.filter((r) => r.state === 'done').map((r) => r.fileId) };
}

/** The keys of these files are gone from the keys table. */
export async function markKeysForgotten(sql: Sql | TxSql, fileIds: readonly string[]): Promise<void> {
  if (fileIds.length) await sql`UPDATE landfall.snapshot_files SET keys_forgotten = true WHERE file_id = ANY(${fileIds as string[]})`;
}

/**
 * `--force` on `run`/`drop` for a snapshot file: its removal goes ahead whatever the guards say.
 * Recorded before the removal runs (the removal reads it); returns the state it found, so a file
 * already held is confirmed by the caller.
 */
export async function forceSnapshotFile(sql: Sql, file: { fileId: string; table: string }): Promise<SnapshotState> {
  const [row] = await sql<{ state: SnapshotState }[]>`
    INSERT INTO landfall.snapshot_files (file_id, table_name, force) VALUES (${file.fileId}, ${file.table}, true)
    ON CONFLICT (file_id) DO UPDATE SET force = true, updated_at = now()
    RETURNING state`;
  return row!.state;
}
