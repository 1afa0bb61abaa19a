import { keyTypesOf } from '../core/catalog-snapshot.ts';
import type { TableConfig } from '../core/config.ts';
import type { KeyColumnType } from '../core/canonical-key.ts';
import type { CatalogSource } from './catalog-source.ts';
import { planColumns, planObjectKeys, type ColumnPlan } from '../core/column-plan.ts';
import { UnreadableFileError, UnreadableReason } from '../core/read/errors.ts';

export interface HeaderPlan {
  plan: ColumnPlan;
  /** One per key column, or null: no snapshot, so the whole file goes to one partition. */
  keyTypes: KeyColumnType[] | null;
  timeZone: string;
}

/**
 * Maps the header against the table's catalog snapshot. A header that does not fit the kept
 * snapshot is checked once more against a fresh one (an ALTER TABLE may have added the column).
 */
export async function planHeader(catalog: CatalogSource | undefined, table: TableConfig, names: readonly string[]): Promise<HeaderPlan> {
  const evolve = table.schema === 'evolve';
  const plan = (snapshot: Awaited<ReturnType<CatalogSource['get']>>) =>
    planColumns(table, names, { ...(snapshot ? { knownColumns: new Set(snapshot.columns.map((c) => c.name)) } : {}), evolve });
  let snapshot = (await catalog?.get(table.table)) ?? null;
  let columns: ColumnPlan;
  try {
    columns = plan(snapshot);
  } catch (error) {
    if (!(error instanceof UnreadableFileError) || error.code !== UnreadableReason.unknownColumn || !catalog) throw error;
    snapshot = await catalog.refresh(table.table);
    try {
      columns = plan(snapshot);
    } catch (again) {
      if (!(again instanceof UnreadableFileError) || again.code !== UnreadableReason.unknownColumn || !snapshot) throw again;
      throw new UnreadableFileError(again.code, `${again.message} (table columns as read from the catalog at ${snapshot.readAt})`, { field: again.field! });
    }
  }
  return { plan: columns, keyTypes: snapshot ? keyTypesOf(snapshot, table) : null, timeZone: snapshot?.timeZone ?? 'UTC' };
}

/**
 * Plans the keys JSON objects brought since `previous` (null: the file's first object). A key the
 * kept snapshot does not know is checked once more against a fresh one (an ALTER TABLE, or an
 * evolve that added it, since); a key that still does not fit refuses only the objects that carry it.
 */
export async function planObjectHeader(catalog: CatalogSource | undefined, table: TableConfig, previous: HeaderPlan | null, keys: readonly string[]): Promise<HeaderPlan> {
  const evolve = table.schema === 'evolve';
  const plan = (snapshot: Awaited<ReturnType<CatalogSource['get']>>) =>
    planObjectKeys(table, previous?.plan ?? null, keys, { ...(snapshot ? { knownColumns: new Set(snapshot.columns.map((c) => c.name)) } : {}), evolve });
  let snapshot = (await catalog?.get(table.table)) ?? null;
  let columns = plan(snapshot);
  const from = previous?.plan.columns.length ?? 0;
  if (snapshot && catalog && columns.refused!.slice(from).some((r) => r !== null)) {
    snapshot = await catalog.refresh(table.table);
    columns = plan(snapshot);
  }
  const keyTypes = previous?.keyTypes ?? (snapshot ? keyTypesOf(snapshot, table) : null);
  return { plan: columns, keyTypes, timeZone: previous?.timeZone ?? snapshot?.timeZone ?? 'UTC' };
}
