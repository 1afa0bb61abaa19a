import type { BatchData } from './batch.ts';
import type { CatalogColumn } from './catalog-types.ts';

/**
 * Columns a batch must bind although its file does not carry them: NOT NULL, without a default,
 * not generated. PostgreSQL checks NOT NULL on the row an INSERT proposes before ON CONFLICT
 * finds the stored row, so a file that updates other columns would fail on every row (23502)
 * although it means to leave these alone (DESIGN: columns a file does not carry are left alone on
 * update). Carried as absent in every row, the merge form of the statement proposes the stored
 * value and keeps it; a new key still fails with PostgreSQL's own 23502 and is quarantined.
 */
export function requiredNotCarried(columns: readonly CatalogColumn[], batch: Pick<BatchData, 'columns'>): string[] {
  const carried = new Set(batch.columns);
  return columns.filter((c) => c.notNull && !c.hasDefault && !c.generated && !carried.has(c.name)).map((c) => c.name);
}

/** The batch with each of `names` added as a column absent in every row (BatchData.absent). */
export function withAbsentColumns(batch: BatchData, names: readonly string[]): BatchData {
  if (names.length === 0) return batch;
  const count = batch.rowNumbers.length;
  const every = Array.from({ length: count }, (_, r) => r);
  return {
    ...batch,
    columns: [...batch.columns, ...names],
    values: [...batch.values, ...names.map(() => new Array<string | null>(count).fill(null))],
    absent: { ...batch.absent, ...Object.fromEntries(names.map((name) => [name, every])) },
  };
}
