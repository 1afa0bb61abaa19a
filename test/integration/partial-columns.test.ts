import { expect, test } from 'vitest';
import { applyBatch } from '../../shared/postgres/apply-batch.ts';
import { replayBatch } from '../../shared/postgres/replay-batch.ts';
import { makeBatch } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';

const { sql } = await createTestDatabase();

test('a file without a NOT NULL column updates the stored rows and leaves that column alone', async () => {
  await sql`CREATE TABLE pc_items (id int PRIMARY KEY, name text NOT NULL, price int)`;
  await sql`INSERT INTO pc_items VALUES (1, 'one', 10), (2, 'two', 20)`;
  const t = await prepare(sql, { table: 'pc_items', conflictKey: ['id'] });
  const r = await applyBatch(sql, t, makeBatch({ table: 'pc_items', rows: [{ id: '1', price: '11' }, { id: '2', price: '20' }] }));
  expect(r.counts).toMatchObject({ read: 2, updated: 1, unchanged: 1, quarantined: 0 });
  expect(await sql`SELECT id, name, price FROM pc_items ORDER BY id`).toEqual([
    { id: 1, name: 'one', price: 11 },
    { id: 2, name: 'two', price: 20 },
  ]);
});

test('a new key without the NOT NULL column fails as PostgreSQL would, and replay quarantines only it', async () => {
  await sql`CREATE TABLE pc_new (id int PRIMARY KEY, name text NOT NULL, price int)`;
  await sql`INSERT INTO pc_new VALUES (1, 'one', 10)`;
  const t = await prepare(sql, { table: 'pc_new', conflictKey: ['id'] });
  const batch = makeBatch({ table: 'pc_new', rows: [{ id: '1', price: '12' }, { id: '3', price: '30' }] });
  await expect(applyBatch(sql, t, batch)).rejects.toMatchObject({ code: '23502' });

  const replayed = await replayBatch(sql, t, batch);

  expect(replayed.failures.map((f) => [f.row, f.sqlstate, f.column])).toEqual([[1, '23502', 'name']]);
  expect(replayed.counts).toMatchObject({ read: 2, updated: 1, quarantined: 1 });
  expect(await sql`SELECT id, name, price FROM pc_new ORDER BY id`).toEqual([{ id: 1, name: 'one', price: 12 }]);
});

test('a batch of new keys only: the COPY path refuses it the same way', async () => {
  await sql`CREATE TABLE pc_fresh (id int PRIMARY KEY, name text NOT NULL, price int)`;
  const t = await prepare(sql, { table: 'pc_fresh', conflictKey: ['id'] });
  await expect(applyBatch(sql, t, makeBatch({ table: 'pc_fresh', rows: [{ id: '1', price: '1' }] }))).rejects.toMatchObject({ code: '23502' });
  expect(await sql`SELECT count(*)::int AS n FROM pc_fresh`).toEqual([{ n: 0 }]);
});
