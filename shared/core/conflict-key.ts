import type { CatalogColumn, TableCatalog, UniqueIndex } from './catalog-types.ts';
import { ARRIVAL, didYouMean, type TableConfig } from './config.ts';
import { mergeCatalogProblems } from './merge-rules.ts';
import { type QualifiedName, quoteIdent } from './identifiers.ts';

/** The table cannot be owned by Landfall as configured; the message says what to do. */
export class TableConfigError extends Error {
  override name = 'TableConfigError';
  readonly table: string;
  /** What is wrong, without the table name and the fix. */
  readonly reason: string;
  /** The statement or command that fixes it, when there is one. */
  readonly fix: string | null;
  constructor(table: string, message: string, fix: string | null = null, options?: ErrorOptions) {
    super(`table "${table}": ${message}${fix ? `\n  fix: ${fix}` : ''}`, options);
    this.table = table;
    this.reason = message;
    this.fix = fix;
  }
}

export interface KeyCheck {
  /** The unique index or constraint ON CONFLICT will use. */
  index: UniqueIndex;
  /** Key columns in config order, with their catalog entries. */
  keyColumns: CatalogColumn[];
  versionColumn: CatalogColumn | null;
  /** The arrival column when the table has one (rule 1). */
  arrivalColumn: CatalogColumn | null;
  warnings: string[];
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x) => b.includes(x));

/** Why a unique index cannot serve as the ON CONFLICT arbiter for `key`, or null if it can. */
export function indexMismatch(index: UniqueIndex, key: readonly string[]): string | null {
  if (index.expression) return 'is on an expression';
  if (index.partial) return 'is partial (has a WHERE clause)';
  if (!sameSet(index.columns, key)) return `is on (${index.columns.join(', ')})`;
  if (index.deferrable) return 'is DEFERRABLE, which ON CONFLICT cannot use';
  if (!index.valid) return 'is not valid (a failed CREATE INDEX CONCURRENTLY?); drop and re-create it';
  return null;
}

/**
 * Why no unique index on a partitioned table can ever match `key`, or null: PostgreSQL only
 * accepts one that includes every partition key column of every level, and none at all when a
 * partition key has an expression.
 */
export function partitionKeyMismatch(catalog: Pick<TableCatalog, 'partitioning'>, key: readonly string[]): { missing: string[]; expression: string | null } | null {
  const levels = catalog.partitioning ?? [];
  const expression = levels.find((l) => l.expression)?.table ?? null;
  const missing = [...new Set(levels.flatMap((l) => l.columns))].filter((c) => !key.includes(c));
  return missing.length || expression ? { missing, expression } : null;
}

/** The name Landfall gives a unique index it suggests or creates on a key (PostgreSQL's `_key` style, at most 63 bytes). */
export function uniqueIndexName(table: QualifiedName, key: readonly string[]): string {
  return `${table.name}_${key.join('_')}_key`.slice(0, 63);
}

/**
 * The statement that creates the unique index the key needs. A partitioned table cannot build
 * one CONCURRENTLY: the plain statement builds it on every partition (writes wait meanwhile);
 * docs/table-config.md shows the way without the wait (ON ONLY, then each partition).
 */
export function createIndexStatement(catalog: Pick<TableCatalog, 'table' | 'quoted' | 'partitioning'>, key: readonly string[], nullsNotDistinct = false): string {
  const name = quoteIdent(uniqueIndexName(catalog.table, key));
  const partitioned = (catalog.partitioning?.length ?? 0) > 0;
  return (
    `CREATE UNIQUE INDEX${partitioned ? '' : ' CONCURRENTLY'} ${name} ON ${catalog.quoted} (${key.map(quoteIdent).join(', ')})${nullsNotDistinct ? ' NULLS NOT DISTINCT' : ''};` +
    (partitioned ? '  -- a partitioned table: writes wait while it builds on every partition' : '')
  );
}

/** The refusal of a key that no unique index of the partitioned table can match, with the fix. */
export function partitionKeyError(table: string, catalog: Pick<TableCatalog, 'table' | 'quoted' | 'partitioning' | 'uniqueIndexes'>, key: readonly string[]): TableConfigError | null {
  const mismatch = partitionKeyMismatch(catalog, key);
  if (!mismatch) return null;
  const name = `${catalog.table.schema}.${catalog.table.name}`;
  if (mismatch.expression) {
    return new TableConfigError(
      table,
      `${name} is partitioned by an expression (${mismatch.expression}), and PostgreSQL accepts no unique index on such a table, so ON CONFLICT cannot find a stored row`,
      'partition the table by plain columns of the conflict key (PARTITION BY RANGE (day) on a column the files carry), or load a table that is not partitioned',
    );
  }
  const cols = mismatch.missing.map((c) => `"${c}"`).join(', ');
  const wider = [...key, ...mismatch.missing];
  const existing = catalog.uniqueIndexes.find((ix) => indexMismatch(ix, wider) === null);
  return new TableConfigError(
    table,
    `conflictKey (${key.join(', ')}) lacks the partition key column(s) ${cols} of the partitioned table ${name}: PostgreSQL only accepts a unique index on a partitioned table that includes every partition key column, so none can match this key`,
    `add ${cols} to "conflictKey" (the files must carry ${mismatch.missing.length > 1 ? 'them' : 'it'}): "conflictKey": ${JSON.stringify(wider)}` +
      (existing ? ` (the unique index "${existing.name}" matches it)` : `, then ${createIndexStatement(catalog, wider)}`),
  );
}

export function addArrivalColumnStatement(catalog: Pick<TableCatalog, 'quoted'>, column: string): string {
  return `ALTER TABLE ${catalog.quoted} ADD COLUMN ${quoteIdent(column)} text COLLATE "C";`;
}

/**
 * Checks a table's config against its catalog: the conflict key must equal the columns of a
 * non-partial unique index or constraint, and the configured columns must exist.
 * Throws a TableConfigError that names the fix.
 */
export function checkTableConfig(config: TableConfig, catalog: TableCatalog): KeyCheck {
  const byName = new Map(catalog.columns.map((c) => [c.name, c]));
  const missing = config.conflictKey.filter((k) => !byName.has(k));
  if (missing.length) {
    throw new TableConfigError(config.table, `conflictKey column(s) ${missing.map((m) => `"${m}"`).join(', ')} do not exist in ${catalog.table.schema}.${catalog.table.name}`);
  }
  const matches = catalog.uniqueIndexes.filter((ix) => indexMismatch(ix, config.conflictKey) === null);
  const index = matches.find((ix) => ix.primary) ?? matches.find((ix) => ix.constraint) ?? matches[0];
  if (!index) {
    const partitionError = partitionKeyError(config.table, catalog, config.conflictKey);
    if (partitionError) throw partitionError;
    const others = catalog.uniqueIndexes.map((ix) => `"${ix.name}" ${indexMismatch(ix, config.conflictKey)}`);
    const found = others.length ? `; the unique indexes there: ${others.join('; ')}` : '; the table has no unique index at all';
    throw new TableConfigError(
      config.table,
      `no unique index or constraint matches conflictKey (${config.conflictKey.join(', ')})${found}. ` +
        'Without one, ON CONFLICT cannot find the stored row and every re-delivery would add a duplicate.',
      `${createIndexStatement(catalog, config.conflictKey)}  -- if it fails on existing duplicates: landfall dedupe ${config.table} --key ${config.conflictKey.join(',')}`,
    );
  }
  const keyColumns = config.conflictKey.map((k) => byName.get(k)!);
  let versionColumn: CatalogColumn | null = null;
  if (config.version !== ARRIVAL) {
    versionColumn = byName.get(config.version) ?? null;
    if (!versionColumn) {
      throw new TableConfigError(config.table, `version column "${config.version}" does not exist`, `use an existing column, or "version": "${ARRIVAL}"`);
    }
  }
  const generatedKey = keyColumns.find((c) => c.generated);
  if (generatedKey) throw new TableConfigError(config.table, `conflictKey column "${generatedKey.name}" is generated and cannot be written`);
  const mergeProblems = mergeCatalogProblems(config, catalog.columns, didYouMean);
  if (mergeProblems.length) throw new TableConfigError(config.table, mergeProblems.join('; '), 'change the "merge" rules in the config (docs/rules.md, "Merge rules"), or the column');
  const arrivalColumn = byName.get(config.arrivalColumn) ?? null;
  const warnings: string[] = [];
  const nullable = keyColumns.filter((c) => !c.notNull);
  if (nullable.length > 0 && !index.nullsNotDistinct) {
    warnings.push(
      `key column(s) ${nullable.map((c) => `"${c.name}"`).join(', ')} are nullable and "${index.name}" is not NULLS NOT DISTINCT: rows with a NULL key are quarantined, never stored twice`,
    );
  }
  if (!arrivalColumn && config.mode === 'upsert') {
    warnings.push(
      `no arrival column "${config.arrivalColumn}": ties go to the later application, so a late redelivery could win a tie. Add it with: ${addArrivalColumnStatement(catalog, config.arrivalColumn)}`,
    );
  }
  return { index, keyColumns, versionColumn, arrivalColumn, warnings };
}
