import type { TableCatalog } from './catalog-types.ts';
import type { PgErrorFields } from './classify-pg-error.ts';

/** PostgreSQL's message for a row that no partition of a partitioned table accepts (SQLSTATE 23514). */
const NO_PARTITION = /^no partition of relation .* found for row/;

/**
 * The reason a row no partition accepts is quarantined with: PostgreSQL's message, the partition
 * key columns and the fix (never the row's values: the message names the relation only). Any
 * other failure is returned as it is.
 *
 * @example withPartitionAdvice({ sqlstate: '23514', message: 'no partition of relation "t" found for row', ... }, catalog)
 * // → message 'no partition of relation "t" found for row (partition key: day). Fix: create a partition …'
 */
export function withPartitionAdvice(failure: PgErrorFields, catalog: Pick<TableCatalog, 'partitioning'>): PgErrorFields {
  if (failure.sqlstate !== '23514' || !NO_PARTITION.test(failure.message)) return failure;
  const columns = [...new Set((catalog.partitioning ?? []).flatMap((l) => l.columns))];
  const key = columns.length ? ` (partition key: ${columns.join(', ')})` : '';
  return {
    ...failure,
    column: failure.column ?? columns[0] ?? null,
    message: `${failure.message}${key}. Fix: create a partition that takes its values (or a DEFAULT partition), then: landfall quarantine retry`,
  };
}
