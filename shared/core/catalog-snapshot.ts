import type { ColumnCollation, TableCatalog } from './catalog-types.ts';
import type { TableConfig } from './config.ts';
import type { KeyCheck } from './conflict-key.ts';
import type { KeyColumnType } from './canonical-key.ts';
import { StagingLayout } from './resources.ts';

/**
 * What the producer needs to know of a table, written to staging by whoever reads the catalog
 * (the consumer and replay at each catalog read, the local stack at start-up): the producer
 * runs outside the VPC and never touches the database.
 */
export interface CatalogSnapshot {
  format: 1;
  /** The table as the config names it. */
  table: string;
  readAt: string;
  /** The session TimeZone: how a `timestamptz` key written without an offset is read. */
  timeZone: string;
  columns: { name: string; type: string; baseType: string; baseFormat?: string | null; category: string | null; collation: ColumnCollation | null }[];
  conflictKey: string[];
  /** The unique index ON CONFLICT uses. */
  index: string;
  arrivalColumn: string | null;
}

/** Staging key of a table's catalog snapshot. */
export function catalogSnapshotKeyOf(table: string): string {
  return `${StagingLayout.catalogPrefix}${table}.json`;
}

export function snapshotOf(target: { config: TableConfig; catalog: TableCatalog; keyCheck: KeyCheck }, readAt: Date): CatalogSnapshot {
  return {
    format: 1,
    table: target.config.table,
    readAt: readAt.toISOString(),
    timeZone: target.catalog.timeZone ?? 'UTC',
    columns: target.catalog.columns.map((c) => ({
      name: c.name,
      type: c.type,
      baseType: c.baseType,
      // a domain's base type with its modifier (how its keys canonicalise); absent otherwise
      ...(c.baseFormat ? { baseFormat: c.baseFormat } : {}),
      category: c.category ?? null,
      collation: c.collation ?? null,
    })),
    conflictKey: target.keyCheck.keyColumns.map((c) => c.name),
    index: target.keyCheck.index.name,
    arrivalColumn: target.keyCheck.arrivalColumn?.name ?? null,
  };
}

/** Parses a stored snapshot; null for anything this version cannot use (then it is as if there were none). */
export function parseSnapshot(text: string): CatalogSnapshot | null {
  try {
    const s = JSON.parse(text) as Partial<CatalogSnapshot>;
    if (s.format !== 1 || typeof s.table !== 'string' || !Array.isArray(s.columns) || !Array.isArray(s.conflictKey)) return null;
    return s as CatalogSnapshot;
  } catch {
    return null;
  }
}

/**
 * The key columns' types of a snapshot, in `conflictKey` order, when the snapshot is of this
 * table's conflict key (a config whose key changed since is not partitioned on a stale type).
 */
export function keyTypesOf(snapshot: CatalogSnapshot, table: TableConfig): KeyColumnType[] | null {
  if (snapshot.conflictKey.length !== table.conflictKey.length || snapshot.conflictKey.some((k, i) => k !== table.conflictKey[i])) return null;
  const byName = new Map(snapshot.columns.map((c) => [c.name, c]));
  const types = table.conflictKey.map((k) => byName.get(k));
  return types.every((c) => c !== undefined) ? types : null;
}
