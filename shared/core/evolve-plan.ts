import type { BatchData } from './batch.ts';
import type { TableCatalog } from './catalog-types.ts';
import type { TableConfig } from './config.ts';

/** A column `"schema": "evolve"` adds for a batch: nullable, of a type every value of the batch fits. */
export interface ColumnAddition {
  name: string;
  type: 'text' | 'jsonb';
}

function isJsonContainer(value: string): boolean {
  const first = value.trimStart()[0];
  if (first !== '{' && first !== '[') return false;
  try {
    JSON.parse(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * The columns a batch carries that its table lacks (the tombstone column excepted), each typed
 * `jsonb` when every non-NULL value is a JSON object or array (nested NDJSON), else `text`:
 * any value fits `text`, so adding a column never makes a row fail. Empty for a strict table.
 *
 * @example planColumnAdditions(config, catalog, batch) // [{ name: 'colour', type: 'text' }]
 */
export function planColumnAdditions(config: TableConfig, catalog: Pick<TableCatalog, 'columns'>, batch: Pick<BatchData, 'columns' | 'values'>): ColumnAddition[] {
  if (config.schema !== 'evolve') return [];
  const known = new Set(catalog.columns.map((c) => c.name));
  const additions: ColumnAddition[] = [];
  batch.columns.forEach((name, i) => {
    if (known.has(name) || name === config.delete?.column) return;
    const values = batch.values[i]!.filter((v): v is string => v !== null);
    additions.push({ name, type: values.length > 0 && values.every(isJsonContainer) ? 'jsonb' : 'text' });
  });
  return additions;
}
