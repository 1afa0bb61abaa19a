/**
 * The benches' items table and its generated CSV (bench:e2e, bench:recovery): one definition,
 * so their loads stay the same load.
 */
import { createWriteStream } from 'node:fs';

/** The table, `name` its name: a composite key, a version column, an arrival column. */
export const ITEMS_DDL = (name: string) => `CREATE TABLE ${name} (
  tenant_id int NOT NULL, sku text NOT NULL, name text, qty int, price numeric(12,2), attrs jsonb,
  updated_at timestamptz NOT NULL, active boolean, _landfall_arrival text COLLATE "C", UNIQUE (tenant_id, sku))`;

/** The table config of one items table (8 partitions, 10,000-row batches). */
export const itemsConfig = (table: string) => ({
  tables: [{ table, prefix: `${table}/`, conflictKey: ['tenant_id', 'sku'], version: 'updated_at', partitions: 8 }],
  batch: { maxRows: 10_000, maxBytes: 8 * 1024 * 1024 },
});

/** Writes `rows` rows, or (with `bytes`) rows until the file holds that many bytes; returns the row count. */
export async function generateItemsCsv(path: string, limit: { rows: number } | { bytes: number }): Promise<number> {
  const out = createWriteStream(path);
  const write = (text: string) => (out.write(text) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write('tenant_id,sku,name,qty,price,attrs,updated_at,active\n');
  const base = Date.UTC(2026, 0, 1);
  let written = 0;
  let i = 0;
  const more = () => ('rows' in limit ? i < limit.rows : written < limit.bytes);
  while (more()) {
    let block = '';
    for (const end = ('rows' in limit) ? Math.min(limit.rows, i + 1000) : i + 1000; i < end; i++) {
      block += `${i % 100},sku-${i},item ${i},${i % 1000},${((i % 10_000) / 100).toFixed(2)},"{""color"":""red"",""size"":${i % 5}}",${new Date(base + i * 1000).toISOString()},${i % 2 ? 't' : 'f'}\n`;
    }
    written += block.length;
    await write(block);
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return i;
}
