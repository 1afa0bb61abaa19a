import type { Sql } from './db.ts';

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
