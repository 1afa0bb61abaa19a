import { beforeAll, expect, test } from 'vitest';
import { parseConfig } from '../../shared/core/config.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';
import { csvOf, type Row } from '../helpers/producer-files.ts';

const db = await createTestDatabase();
const { sql } = db;
const config = parseConfig({
  tables: [{ table: 'stock', prefix: 'stock/', conflictKey: ['sku'], version: 'seq', partitions: 8, delete: { column: 'op', equals: 'D' } }],
  batch: { maxRows: 10, maxBytes: 1024 * 1024 },
});

beforeAll(async () => {
  await sql`CREATE TABLE stock (sku text PRIMARY KEY, qty int, seq int NOT NULL, _landfall_arrival text COLLATE "C")`;
});
const t = await startTestStack(config, db.url);

test('GIVEN 40 keys loaded and 20 of them deleted WHEN a late file with older rows for all 40 arrives THEN the deleted keys stay deleted and every receipt adds up', async () => {
  const sku = (i: number) => `sku-${String(i).padStart(3, '0')}`;
  const load: Row[] = Array.from({ length: 40 }, (_, i) => ({ sku: sku(i), qty: 1, seq: 1, op: '' }));
  const deletes: Row[] = Array.from({ length: 20 }, (_, i) => ({ sku: sku(i), qty: null, seq: 5, op: 'D' }));
  // Older than the deletes, newer than the load: keys 0..19 are stale, 20..39 updated.
  const late: Row[] = Array.from({ length: 40 }, (_, i) => ({ sku: sku(i), qty: 2, seq: 3, op: '' }));

  const loaded = await t.run(t.file('stock-1-load.csv', csvOf(load)), 'stock');
  const deleted = await t.run(t.file('stock-2-deletes.csv', csvOf(deletes)), 'stock');
  const lateReceipt = await t.run(t.file('stock-3-late.csv', csvOf(late)), 'stock');

  expect(loaded).toMatchObject({ status: 'complete', read: 40, inserted: 40, addsUp: true });
  expect(deleted).toMatchObject({ status: 'complete', read: 20, deleted: 20, addsUp: true });
  expect(lateReceipt).toMatchObject({ status: 'complete', read: 40, stale: 20, updated: 20, inserted: 0, addsUp: true });
  expect(lateReceipt.batches).toBeGreaterThan(1);
  const rows = await sql<{ sku: string; qty: number }[]>`SELECT sku, qty FROM stock ORDER BY sku`;
  expect(rows.map((r) => r.sku)).toEqual(Array.from({ length: 20 }, (_, i) => sku(i + 20)));
  expect(rows.every((r) => r.qty === 2)).toBe(true);
});

test('GIVEN a key inserted at seq 5 and deleted at seq 6 WHEN a later file without the delete column brings it at seq 3 (the issue\'s reproduction) THEN it is stale and the key stays deleted', async () => {
  const inserted = await t.run(t.file('stock-repro-1.csv', csvOf([{ sku: 'repro', qty: 1, seq: 5 }])), 'stock');
  const deleted = await t.run(t.file('stock-repro-2.csv', csvOf([{ sku: 'repro', qty: null, seq: 6, op: 'D' }])), 'stock');
  const late = await t.run(t.file('stock-repro-3.csv', csvOf([{ sku: 'repro', qty: 3, seq: 3 }, { sku: 'repro-new', qty: 3, seq: 3 }])), 'stock');

  expect(inserted).toMatchObject({ status: 'complete', read: 1, inserted: 1, addsUp: true });
  expect(deleted).toMatchObject({ status: 'complete', read: 1, deleted: 1, addsUp: true });
  expect(late).toMatchObject({ status: 'complete', read: 2, stale: 1, inserted: 1, addsUp: true });
  expect(await sql`SELECT sku FROM stock WHERE sku LIKE 'repro%' ORDER BY sku`).toEqual([{ sku: 'repro-new' }]);
});
