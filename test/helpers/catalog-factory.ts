import type { CatalogColumn, TableCatalog, UniqueIndex } from '../../shared/core/catalog-types.ts';
import type { CatalogSnapshot } from '../../shared/core/catalog-snapshot.ts';
import { quoteQualified } from '../../shared/core/identifiers.ts';

/** A catalog column: `column('id', 'int8', { notNull: true })`. */
export function column(name: string, baseType = 'text', extra: Partial<CatalogColumn> = {}): CatalogColumn {
  return { name, type: baseType, castType: baseType, baseType, notNull: false, hasDefault: false, generated: false, ...extra };
}

export function uniqueIndex(name: string, columns: string[], extra: Partial<UniqueIndex> = {}): UniqueIndex {
  return {
    name,
    columns,
    primary: false,
    constraint: null,
    partial: false,
    expression: false,
    nullsNotDistinct: false,
    valid: true,
    deferrable: false,
    definition: `CREATE UNIQUE INDEX ${name} ON t (${columns.join(', ')})`,
    ...extra,
  };
}

/** A table catalog as `loadCatalog` returns it, without a database. */
export function tableCatalog(name: string, columns: CatalogColumn[], uniqueIndexes: UniqueIndex[] = [], estimatedRows = 1000): TableCatalog {
  const table = { schema: 'public', name };
  return { table, quoted: quoteQualified(table), columns, uniqueIndexes, estimatedRows };
}

/** A catalog snapshot as the consumer writes it: `catalogSnapshot('orders', { id: 'int8', name: 'text' }, ['id'])`. */
export function catalogSnapshot(table: string, columns: Record<string, string>, conflictKey: string[], extra: Partial<CatalogSnapshot> = {}): CatalogSnapshot {
  return {
    format: 1,
    table,
    readAt: '2026-12-01T00:00:00.000Z',
    timeZone: 'UTC',
    columns: Object.entries(columns).map(([name, baseType]) => ({ name, type: baseType, baseType, category: null, collation: null })),
    conflictKey,
    index: `${table}_pkey`,
    arrivalColumn: null,
    ...extra,
  };
}
