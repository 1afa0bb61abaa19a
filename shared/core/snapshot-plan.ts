import { createHash } from 'node:crypto';
import type { TableCatalog } from './catalog-types.ts';
import type { TableConfig } from './config.ts';
import { quoteQualified, type QualifiedName } from './identifiers.ts';
import { snapshotRuleOf } from './snapshot-config.ts';

/**
 * The names and the plan of the snapshot rule. Each snapshot table has two typed tables in the
 * `landfall` schema (postgres/snapshot-tables.ts owns their DDL, postgres/compile-removal.ts
 * their statements):
 *
 * - the **keys** a snapshot file held (`snapshot_keys_<table>_<hash>`: the file's number, the key and
 *   scope columns with the target's types and collations), written by each batch in its own
 *   transaction and read by the file's removal;
 * - the **scopes** (`snapshot_scopes_<table>_<hash>`: the scope columns, and the arrival of the
 *   newest snapshot whose removal ran for that scope). A row older than its scope's newest
 *   snapshot is stale, so a late older file can neither bring a removed row back nor change a
 *   scope a newer snapshot settled.
 */

/** Column names Landfall adds in those tables; a scope or key column with one of them is refused with the others (upsert-plan.ts). */
export const SNAP_FILE = 'landfall$file';
export const SNAP_ARRIVAL = 'landfall$arrival';
export const SNAP_CHUNK = 'landfall$chunk';
/** A scope's stored rows when the removal of its newest snapshot ran (for the guard). */
export const SNAP_STORED = 'landfall$stored';
/** The one column of a whole-table scope's row (the table is one scope). */
export const SNAP_ALL = 'landfall$all';

/** Scopes one removal statement covers at most: a file that names more is removed chunk by chunk, in one transaction. */
export const SCOPE_CHUNK = 100_000;

function relationOf(kind: 'keys' | 'scopes', table: QualifiedName): { schema: 'landfall'; name: string; quoted: string } {
  const hash = createHash('sha256').update(`${table.schema}\u0000${table.name}`).digest('hex').slice(0, 10);
  const readable = Buffer.from(table.name, 'utf8').subarray(0, 34).toString('utf8').replace(/\uFFFD+$/, '');
  const name = `snapshot_${kind}_${readable}_${hash}`;
  return { schema: 'landfall', name, quoted: quoteQualified({ schema: 'landfall', name }) };
}

/** The table of the keys snapshot files held (readable, unique per table, at most 63 bytes). */
export const snapshotKeysRelationOf = (table: QualifiedName) => relationOf('keys', table);
/** The table of each scope's newest applied snapshot. */
export const snapshotScopesRelationOf = (table: QualifiedName) => relationOf('scopes', table);

/** What the upsert statement needs of a snapshot table (compile-upsert.ts). */
export interface SnapshotPlan {
  /** Scope columns; empty: the whole table is one scope. */
  scope: string[];
  /** Quoted `landfall.snapshot_scopes_…` relation. */
  scopes: string;
  /** The soft-delete column, cleared by every write of its row; null: removed rows are deleted. */
  softDelete: string | null;
}

/**
 * The snapshot part of a table's upsert plan for batches carrying `columns`, or a misfit: a
 * batch must carry the scope columns (its rows are compared with their scope's newest
 * snapshot) and must not carry the soft-delete column (Landfall writes it).
 */
export function snapshotPlanOf(
  config: TableConfig,
  catalog: TableCatalog,
  columns: readonly string[],
): { plan: SnapshotPlan | null; misfit: { column: string; message: string } | null } {
  const rule = snapshotRuleOf(config);
  if (!rule) return { plan: null, misfit: null };
  const missing = rule.scope.find((s) => !columns.includes(s));
  if (missing) return { plan: null, misfit: { column: missing, message: `the file has no column "${missing}" of the snapshot scope` } };
  if (rule.softDelete !== null && columns.includes(rule.softDelete)) {
    return { plan: null, misfit: { column: rule.softDelete, message: `column "${rule.softDelete}" is the snapshot's soft-delete column (missing.softDelete), which Landfall writes; files must not carry it` } };
  }
  return { plan: { scope: [...rule.scope], scopes: snapshotScopesRelationOf(catalog.table).quoted, softDelete: rule.softDelete }, misfit: null };
}
