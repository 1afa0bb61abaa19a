import type { Sql } from '../db.ts';

/** Why the consumer or replay refused a table, and what fixes it (what `status` shows as `blocked`). */
export interface TableRefusal {
  /** Which check refused it: `table-missing`, `table-config` (key index, key or version column), or `sqlstate <code>`. */
  code: string;
  reason: string;
  fix: string | null;
}

export interface BlockedTable extends TableRefusal {
  table: string;
  firstSeen: string;
  lastSeen: string;
  /** Deliveries refused since the table was first blocked. */
  attempts: number;
}

/** Records (or refreshes) a refused table; the latest reason wins. */
export async function recordBlockedTable(sql: Sql, table: string, refusal: TableRefusal): Promise<void> {
  await sql`
    INSERT INTO landfall.blocked_tables (table_name, code, reason, fix)
    VALUES (${table}, ${refusal.code}, ${refusal.reason}, ${refusal.fix})
    ON CONFLICT (table_name) DO UPDATE SET code = EXCLUDED.code, reason = EXCLUDED.reason, fix = EXCLUDED.fix,
                                           last_seen = now(), attempts = landfall.blocked_tables.attempts + 1`;
}

/** The refusals a catalog read alone decides: a table that prepares again is clear of them. */
export const CATALOG_REFUSALS = ['table-missing', 'table-config'] as const;

/**
 * A batch of the table applied (or, with `codes`, the catalog read that refused it passes
 * again): it is no longer blocked. Returns whether it was.
 */
export async function clearBlockedTable(sql: Sql, table: string, codes?: readonly string[]): Promise<boolean> {
  const cleared = await sql`
    DELETE FROM landfall.blocked_tables
    WHERE table_name = ${table} AND (${codes ? [...codes] : null}::text[] IS NULL OR code = ANY(${codes ? [...codes] : null}::text[]))
    RETURNING 1`;
  return cleared.length > 0;
}

export async function listBlockedTables(sql: Sql): Promise<BlockedTable[]> {
  const rows = await sql<BlockedTable[]>`
    SELECT table_name AS table, code, reason, fix, attempts,
           to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "firstSeen",
           to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "lastSeen"
    FROM landfall.blocked_tables ORDER BY first_seen, table_name`;
  return rows.map((r) => ({ ...r }));
}
