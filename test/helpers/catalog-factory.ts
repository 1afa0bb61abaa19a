import type { CatalogColumn, TableCatalog, UniqueIndex } from '../../shared/catalog.ts';
import { quoteQualified } from '../../shared/identifiers.ts';

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
