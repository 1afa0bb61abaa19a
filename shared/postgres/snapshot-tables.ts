import type { TableCatalog } from '../core/catalog-types.ts';
import type { TableConfig } from '../core/config.ts';
import { TableConfigError } from '../core/conflict-key.ts';
import { quoteIdent as q } from '../core/identifiers.ts';
import { snapshotTableProblems } from '../core/snapshot-check.ts';
import { snapshotRuleOf } from '../core/snapshot-config.ts';
import { SNAP_ALL, SNAP_ARRIVAL, SNAP_CHUNK, SNAP_FILE, SNAP_STORED, snapshotKeysRelationOf, snapshotScopesRelationOf } from '../core/snapshot-plan.ts';
import type { Sql } from './db.ts';
import { columnShapes } from './tombstones.ts';

/**
 * The DDL of a snapshot table's two tables in the `landfall` schema (snapshot-plan.ts says what
 * they hold). Their key and scope columns are made from the target's own (`CREATE TABLE AS …
 * WITH NO DATA`, as the tombstone tables are), so a key or a scope matches by exactly the
 * equality the target uses.
 */
export interface SnapshotTables {
  keys: string;
  scopes: string;
}

/** Key columns, then the scope columns that are not part of the key: what the keys table holds per row. */
export const keyAndScopeColumns = (config: TableConfig): string[] => {
  const rule = snapshotRuleOf(config);
  return [...config.conflictKey, ...(rule?.scope ?? []).filter((s) => !config.conflictKey.includes(s))];
};

/**
 * Checks a snapshot table against its catalog (the arrival column, the scope and soft-delete
 * columns: a TableConfigError with the fix) and creates its keys and scopes tables once
 * (concurrent cold starts wait on a transaction-scoped lock; proxy-safe). An existing one whose
 * columns no longer match the target's types (or the configured scope) is refused with the
 * `DROP TABLE` that resets it. Null for a table that is not a snapshot table.
 */
export async function ensureSnapshotTables(sql: Sql, config: TableConfig, catalog: TableCatalog): Promise<SnapshotTables | null> {
  const rule = snapshotRuleOf(config);
  if (!rule) return null;
  const [problem] = snapshotTableProblems(config, catalog);
  if (problem) throw new TableConfigError(config.table, problem.reason, problem.fix);
  const keys = snapshotKeysRelationOf(catalog.table);
  const scopes = snapshotScopesRelationOf(catalog.table);
  const keyColumns = keyAndScopeColumns(config);
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${`landfall.snapshots:${keys.name}`}))`;
    const [existing] = await tx<{ keys: boolean; scopes: boolean }[]>`
      SELECT to_regclass(${keys.quoted}) IS NOT NULL AS keys, to_regclass(${scopes.quoted}) IS NOT NULL AS scopes`;
    if (!existing!.keys) {
      await tx.unsafe(`CREATE TABLE ${keys.quoted} AS SELECT NULL::int8 AS ${q(SNAP_FILE)}, ${keyColumns.map(q).join(', ')} FROM ${catalog.quoted} WITH NO DATA`);
      await tx.unsafe(`ALTER TABLE ${keys.quoted} ALTER COLUMN ${q(SNAP_FILE)} SET NOT NULL`);
      // The file, then its keys: whatever the planner thinks of the table's size, a look-up of one
      // stored row's key is an index probe, never a scan of the file's keys.
      await tx.unsafe(`CREATE INDEX ON ${keys.quoted} (${[SNAP_FILE, ...config.conflictKey].map(q).join(', ')})`);
    }
    if (!existing!.scopes) {
      const scopeColumns = rule.scope.length ? rule.scope.map(q).join(', ') : `true AS ${q(SNAP_ALL)}`;
      await tx.unsafe(
        `CREATE TABLE ${scopes.quoted} AS SELECT ${scopeColumns}, NULL::text COLLATE "C" AS ${q(SNAP_ARRIVAL)}, NULL::int8 AS ${q(SNAP_FILE)}, NULL::int AS ${q(SNAP_CHUNK)}, NULL::int8 AS ${q(SNAP_STORED)} FROM ${catalog.quoted} WITH NO DATA`,
      );
      await tx.unsafe(`ALTER TABLE ${scopes.quoted} ALTER COLUMN ${q(SNAP_ARRIVAL)} SET NOT NULL, ALTER COLUMN ${q(SNAP_FILE)} SET NOT NULL, ALTER COLUMN ${q(SNAP_CHUNK)} SET NOT NULL`);
      await tx.unsafe(`CREATE UNIQUE INDEX ON ${scopes.quoted} (${rule.scope.length ? rule.scope.map(q).join(', ') : q(SNAP_ALL)})`);
      await tx.unsafe(`CREATE INDEX ON ${scopes.quoted} (${q(SNAP_FILE)}, ${q(SNAP_CHUNK)})`);
      await tx.unsafe(`CREATE INDEX ON ${scopes.quoted} (${q(SNAP_ARRIVAL)})`);
    }
    await tx`
      INSERT INTO landfall.snapshot_tables (table_name, keys_relation, scopes_relation) VALUES (${config.table}, ${keys.name}, ${scopes.name})
      ON CONFLICT (table_name) DO UPDATE SET keys_relation = EXCLUDED.keys_relation, scopes_relation = EXCLUDED.scopes_relation
      WHERE landfall.snapshot_tables.keys_relation <> EXCLUDED.keys_relation OR landfall.snapshot_tables.scopes_relation <> EXCLUDED.scopes_relation`;
  });
  const target = await columnShapes(sql, catalog.quoted, keyColumns);
  const differs = async (relation: { quoted: string }, names: string[], extra: string[]) => {
    const stored = await columnShapes(sql, relation.quoted, [...names, ...extra]);
    const wrong = names.filter((name) => {
      const a = target.get(name);
      const b = stored.get(name);
      return !a || !b || a.type !== b.type || a.collation !== b.collation;
    });
    // A scopes table made for another scope (the config changed) has columns the scope lacks.
    const [count] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = to_regclass(${relation.quoted}) AND attnum > 0 AND NOT attisdropped`;
    return wrong.length > 0 || count!.n !== names.length + extra.length;
  };
  const keysWrong = await differs(keys, keyColumns, [SNAP_FILE]);
  const scopesWrong = rule.scope.length
    ? await differs(scopes, rule.scope, [SNAP_ARRIVAL, SNAP_FILE, SNAP_CHUNK, SNAP_STORED])
    : (await columnShapes(sql, scopes.quoted, [SNAP_ALL])).size !== 1;
  if (keysWrong || scopesWrong) {
    const drops = [...(keysWrong ? [keys.quoted] : []), ...(scopesWrong ? [scopes.quoted] : [])];
    throw new TableConfigError(
      config.table,
      `the snapshot table(s) ${drops.join(' and ')} have key or scope columns of another type, collation or scope than the table and its config now have, so snapshot keys and scopes cannot be matched`,
      `DROP TABLE ${drops.join(', ')};  -- forgets ${keysWrong ? 'the keys of snapshot files whose removal has not run (confirm or drop those files again)' : ''}${keysWrong && scopesWrong ? ' and ' : ''}${scopesWrong ? "each scope's newest snapshot" : ''}; Landfall re-creates ${drops.length > 1 ? 'them' : 'it'} on the next start`,
    );
  }
  return { keys: keys.quoted, scopes: scopes.quoted };
}
