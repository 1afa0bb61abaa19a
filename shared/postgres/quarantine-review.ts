import type { Sql } from './db.ts';
import { toPgArrayLiteral } from './pg-array.ts';

/** Open quarantined rows of one file: how many, since when, and one of their reasons. */
export interface OpenQuarantine {
  table: string;
  fileId: string;
  file: string;
  open: number;
  firstSeen: string;
  /** The SQLSTATE and message of its first open row. */
  sample: string;
}

/** Files with open quarantined rows, newest first (the status page's "needs attention"). */
export async function openQuarantineByFile(sql: Sql): Promise<OpenQuarantine[]> {
  const rows = await sql<OpenQuarantine[]>`
    SELECT table_name AS table, file_id AS "fileId", min(file_key) AS file, count(*)::int AS open,
           to_char(min(first_seen) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "firstSeen",
           (array_agg(coalesce(sqlstate || ': ', '') || message ORDER BY row_number))[1] AS sample
    FROM landfall.quarantine
    WHERE resolved_at IS NULL
    GROUP BY table_name, file_id
    ORDER BY min(first_seen) DESC, min(file_key)`;
  return rows.map((r) => ({ ...r }));
}

/** How someone closes quarantined rows: `resolved` (its data got in another way), `dismissed` (it is not wanted). */
export type Closing = 'resolved' | 'dismissed';

/**
 * Closes the open quarantined rows `ids` names (resolved or dismissed, with the reason), and
 * records each in landfall.quarantine_events with who did it (`actor`, and the database user)
 * and when, in one transaction. Rows already closed are left as they are. Returns the ids it
 * closed, in order.
 */
export async function closeQuarantine(sql: Sql, ids: readonly number[], closing: Closing, reason: string, actor: string): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = await sql<{ id: number }[]>`
    WITH closed AS (
      UPDATE landfall.quarantine SET resolved_at = now(), resolution = ${closing}, resolution_reason = ${reason}
      WHERE id = ANY(${toPgArrayLiteral(ids.map(String))}::bigint[]) AND resolved_at IS NULL
      RETURNING id
    ), logged AS (
      INSERT INTO landfall.quarantine_events (quarantine_id, action, reason, actor)
      SELECT id, ${closing}, ${reason}, ${actor} FROM closed
    )
    SELECT id::int AS id FROM closed ORDER BY id`;
  return rows.map((r) => r.id);
}

/** One act on a quarantined row, as the audit trail keeps it. */
export interface QuarantineEvent {
  quarantineId: number;
  action: 'applied' | Closing;
  reason: string | null;
  actor: string;
  databaseUser: string;
  at: string;
}

/** The audit trail of quarantined rows (of the given ids, or all), oldest first. */
export async function quarantineEvents(sql: Sql, ids?: readonly number[]): Promise<QuarantineEvent[]> {
  const filter = ids ? toPgArrayLiteral(ids.map(String)) : null;
  const rows = await sql<QuarantineEvent[]>`
    SELECT quarantine_id::int AS "quarantineId", action, reason, actor, database_user AS "databaseUser",
           to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at
    FROM landfall.quarantine_events
    WHERE ${filter}::bigint[] IS NULL OR quarantine_id = ANY(${filter}::bigint[])
    ORDER BY at, id`;
  return rows.map((r) => ({ ...r }));
}

/** The distinct tables of the quarantine (open or not), for matching a `--table`. */
export async function quarantinedTables(sql: Sql): Promise<string[]> {
  const rows = await sql<{ table: string }[]>`SELECT DISTINCT table_name AS table FROM landfall.quarantine ORDER BY 1`;
  return rows.map((r) => r.table);
}
