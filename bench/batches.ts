import type { BatchData } from '../shared/core/batch.ts';
import { batchOfColumns, fileIdentity } from '../test/helpers/batches.ts';

/**
 * One batch of a new file, as the consumer receives it: each call is a file of its own (later
 * arrival, new batch id), rows numbered from `firstRow`.
 */
export function batchOfNewFile(table: string, columns: readonly string[], values: (string | null)[][], firstRow = 1): BatchData {
  return batchOfColumns(table, fileIdentity({ bucket: 'bench' }), columns, values, { firstRow });
}
