import type { TableCatalog } from '../core/catalog-types.ts';
import type { TableConfig } from '../core/config.ts';
import { TableConfigError, type KeyCheck } from '../core/conflict-key.ts';
import type { Sql } from './db.ts';
import { quoteIdent as q } from '../core/identifiers.ts';
import { TOMB_ARRIVAL, TOMB_DELETED_AT, TOMB_VERSION, tombstoneRelationOf } from '../core/tombstone-names.ts';

/**
 * Remembered deletes (DESIGN.md rule 6). Each table with a `delete` rule has a tombstone table
 * in the `landfall` schema holding, per deleted key, the tombstone's version and arrival and
 * when it was recorded. Its key columns are made from the target's own (`CREATE TABLE AS`, so
 * type, modifier and collation are the target's), so a key matches its tombstone by exactly the
 * equality the target's unique index uses. The compiled statement (compile-upsert.ts) reads and
 * writes it; this module owns its DDL.
 */
interface ColumnShape {
  name: string;
  type: string;
  collation: string | null;
}

export async function columnShapes(sql: Sql, relation: string, names: readonly string[]): Promise<Map<string, ColumnShape>> {
  const rows = await sql<ColumnShape[]>`
    SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
           CASE WHEN a.attcollation = 0 THEN NULL ELSE a.attcollation::regcollation::text END AS collation
    FROM pg_attribute a
    WHERE a.attrelid = to_regclass(${relation}) AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY(${names as string[]})`;
  return new Map(rows.map((r) => [r.name, { ...r }]));
}

/**
 * Creates the tombstone table of a table with a `delete` rule, once (concurrent cold starts wait
 * on a transaction-scoped lock; proxy-safe), and records it in `landfall.tombstone_tables`. An
 * existing one whose key or version columns no longer match the target's types is refused with
 * the fix, rather than compared under another equality.
 */
export async function ensureTombstoneTable(sql: Sql, config: TableConfig, catalog: TableCatalog, keyCheck: KeyCheck): Promise<void> {
  if (!config.delete) return;
  const relation = tombstoneRelationOf(catalog.table);
  const keys = config.conflictKey;
  const version = keyCheck.versionColumn?.name ?? null;
  const wanted = [...keys, ...(version ? [version] : [])];
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${`landfall.tombstones:${relation.name}`}))`;
    const [existing] = await tx<{ exists: boolean }[]>`SELECT to_regclass(${relation.quoted}) IS NOT NULL AS exists`;
    if (!existing!.exists) {
      const select = [
        ...keys.map((k) => `${q(k)}`),
        ...(version ? [`${q(version)} AS ${q(TOMB_VERSION)}`] : []),
        `NULL::text COLLATE "C" AS ${q(TOMB_ARRIVAL)}`,
        `now() AS ${q(TOMB_DELETED_AT)}`,
      ];
      await tx.unsafe(`CREATE TABLE ${relation.quoted} AS SELECT ${select.join(', ')} FROM ${catalog.quoted} WITH NO DATA`);
      await tx.unsafe(`ALTER TABLE ${relation.quoted} ALTER COLUMN ${q(TOMB_ARRIVAL)} SET NOT NULL, ALTER COLUMN ${q(TOMB_DELETED_AT)} SET NOT NULL`);
      const nulls = keyCheck.index.nullsNotDistinct ? ' NULLS NOT DISTINCT' : '';
      await tx.unsafe(`CREATE UNIQUE INDEX ON ${relation.quoted} (${keys.map(q).join(', ')})${nulls}`);
      await tx.unsafe(`CREATE INDEX ON ${relation.quoted} (${q(TOMB_DELETED_AT)})`);
    }
    await tx`
      INSERT INTO landfall.tombstone_tables (table_name, relation) VALUES (${config.table}, ${relation.name})
      ON CONFLICT (table_name) DO UPDATE SET relation = EXCLUDED.relation WHERE landfall.tombstone_tables.relation <> EXCLUDED.relation`;
  });
  const target = await columnShapes(sql, catalog.quoted, wanted);
  const stored = await columnShapes(sql, relation.quoted, [...keys, ...(version ? [TOMB_VERSION] : [])]);
  const differs = wanted.filter((name) => {
    const a = target.get(name);
    const b = stored.get(name === version ? TOMB_VERSION : name);
    return !a || !b || a.type !== b.type || a.collation !== b.collation;
  });
  if (differs.length) {
    throw new TableConfigError(
      config.table,
      `the tombstone table ${relation.quoted} has column(s) ${differs.map((d) => `"${d}"`).join(', ')} of another type, collation or version column than the table now has, so remembered deletes cannot be matched`,
      `DROP TABLE ${relation.quoted};  -- forgets the remembered deletes; Landfall re-creates it on the next start`,
    );
  }
}
