import { describe, expect, test } from 'vitest';
import { applyBatch, claimBatch, upsertRows } from '../../shared/postgres/apply-batch.ts';
import { makeBatch } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';

const { sql } = await createTestDatabase();

/** Values COPY and the upsert must store alike: NULL vs "", quotes, commas, newlines, backslashes, JSON, arrays, rounding. */
const awkwardRows = [
  { id: '1', name: null, note: '', price: '1.005', attrs: '{"a": [1, "x,y"]}', tags: '{"a b",c}', at: '2024-01-01 01:00:00+01' },
  { id: '2', name: 'say "hi", then\nleave', note: 'back\\slash \\N', price: '2', attrs: null, tags: '{}', at: '2024-01-01T00:00:00Z' },
  { id: '3', name: 'NULL', note: '\\.', price: '-0.5', attrs: '"text"', tags: null, at: null },
];

async function awkwardTable(name: string) {
  await sql.unsafe(`CREATE TABLE ${name} (
    id int PRIMARY KEY, name text, note text, price numeric(10,2), attrs jsonb, tags text[], at timestamptz,
    _landfall_arrival text COLLATE "C")`);
  return prepare(sql, { table: name, conflictKey: ['id'] });
}

const stored = (table: string) => sql.unsafe(`SELECT id, name, note, price::text, attrs::text, tags::text, at::text, _landfall_arrival FROM ${table} ORDER BY id`);

describe('fresh inserts go in through COPY', () => {
  test('GIVEN new keys WHEN the batch is applied THEN it takes COPY and stores exactly what the upsert stores', async () => {
    const viaCopy = await awkwardTable('fresh_copy');
    const viaUpsert = await awkwardTable('fresh_upsert');
    const batch = makeBatch({ table: 'fresh_copy', rows: awkwardRows });
    const sameBatch = { ...batch, table: 'fresh_upsert' };

    const result = await applyBatch(sql, viaCopy, batch);
    await sql.begin(async (tx) => {
      await claimBatch(tx, { ...sameBatch, batchId: `${batch.batchId}-upsert` });
      await upsertRows(tx, viaUpsert, { ...sameBatch, batchId: `${batch.batchId}-upsert` }, null);
    });

    expect(result).toMatchObject({ status: 'applied', path: 'copy' });
    expect(result.counts).toEqual({ read: 3, collapsed: 0, inserted: 3, updated: 0, unchanged: 0, stale: 0, deleted: 0, quarantined: 0 });
    const copied = await stored('fresh_copy');
    expect(copied).toEqual(await stored('fresh_upsert'));
    expect(copied[0]).toMatchObject({ name: null, note: '', price: '1.01' });
    expect(copied[1]).toMatchObject({ name: 'say "hi", then\nleave', note: 'back\\slash \\N' });
  });

  test('the ledger holds the counts with the batch, in the same transaction', async () => {
    const target = await awkwardTable('fresh_ledger');
    const batch = makeBatch({ table: 'fresh_ledger', rows: awkwardRows });

    await applyBatch(sql, target, batch);

    const [ledger] = await sql`SELECT status, read, inserted, applications FROM landfall.batches WHERE batch_id = ${batch.batchId}`;
    expect(ledger).toEqual({ status: 'applied', read: 3, inserted: 3, applications: 1 });
  });
});

describe('anything but new keys falls back to the upsert', () => {
  async function items(name: string, index = 'PRIMARY KEY') {
    await sql.unsafe(`CREATE TABLE ${name} (id numeric ${index}, name text, v int NOT NULL)`);
    return prepare(sql, { table: name, conflictKey: ['id'], version: 'v', delete: { column: '_op', equals: 'D' } });
  }

  test('GIVEN one key already stored WHEN the batch is applied THEN the upsert applies it with exact counts and no row from the refused COPY', async () => {
    const target = await items('fallback_stored');
    await sql`INSERT INTO fallback_stored VALUES (3, 'old', 1)`;
    const rows = [1, 2, 3, 4].map((id) => ({ id: String(id), name: `n${id}`, v: '2', _op: null }));

    const result = await applyBatch(sql, target, makeBatch({ table: 'fallback_stored', rows }));

    expect(result).toMatchObject({ status: 'applied', path: 'upsert' });
    expect(result.counts).toMatchObject({ read: 4, inserted: 3, updated: 1 });
    expect(await sql`SELECT id::int, name FROM fallback_stored ORDER BY id`).toEqual([1, 2, 3, 4].map((id) => ({ id, name: `n${id}` })));
  });

  test("a key repeated in the batch after casting ('1.0' and '1') takes the upsert, which collapses it", async () => {
    const target = await items('fallback_repeat');

    const result = await applyBatch(
      sql,
      target,
      makeBatch({ table: 'fallback_repeat', rows: [{ id: '1.0', name: 'first', v: '1', _op: null }, { id: '1', name: 'second', v: '1', _op: null }] }),
    );

    expect(result).toMatchObject({ path: 'upsert', counts: { collapsed: 1, inserted: 1 } });
    expect(await sql`SELECT name FROM fallback_repeat`).toEqual([{ name: 'second' }]);
  });

  test('two NULL keys under a NULLS NOT DISTINCT index are one key: the upsert collapses them', async () => {
    await sql`CREATE TABLE fallback_nulls (id int, name text, v int NOT NULL, UNIQUE NULLS NOT DISTINCT (id))`;
    const target = await prepare(sql, { table: 'fallback_nulls', conflictKey: ['id'], version: 'v' });

    const result = await applyBatch(sql, target, makeBatch({ table: 'fallback_nulls', rows: [{ id: null, name: 'a', v: '1' }, { id: null, name: 'b', v: '2' }] }));

    expect(result).toMatchObject({ path: 'upsert', counts: { collapsed: 1, inserted: 1 } });
    expect(await sql`SELECT name FROM fallback_nulls`).toEqual([{ name: 'b' }]);
  });

  test('a batch with a tombstone row never takes COPY', async () => {
    const target = await items('fallback_tombstone');

    const result = await applyBatch(sql, target, makeBatch({ table: 'fallback_tombstone', rows: [{ id: '1', name: 'a', v: '1', _op: null }, { id: '2', name: 'b', v: '1', _op: 'D' }] }));

    expect(result).toMatchObject({ path: 'upsert', counts: { inserted: 1, unchanged: 1 } });
  });

  test('a value COPY refuses: the upsert raises its own error and the batch leaves no trace', async () => {
    await sql`CREATE TABLE fallback_bad (id int PRIMARY KEY, code varchar(3))`;
    const target = await prepare(sql, { table: 'fallback_bad', conflictKey: ['id'] });
    const batch = makeBatch({ table: 'fallback_bad', rows: [{ id: '1', code: 'ok' }, { id: '2', code: 'too long' }] });

    await expect(applyBatch(sql, target, batch)).rejects.toMatchObject({ code: '22001' });

    expect(await sql`SELECT * FROM fallback_bad`).toEqual([]);
    expect(await sql`SELECT * FROM landfall.batches WHERE batch_id = ${batch.batchId}`).toEqual([]);
  });
});

describe('exactly once through COPY', () => {
  test('the same fresh batch applied twice commits once; the second gets the first counts', async () => {
    await sql`CREATE TABLE once_copy (id int PRIMARY KEY, name text)`;
    const target = await prepare(sql, { table: 'once_copy', conflictKey: ['id'] });
    const batch = makeBatch({ table: 'once_copy', rows: Array.from({ length: 100 }, (_, i) => ({ id: String(i), name: `n${i}` })) });

    const first = await applyBatch(sql, target, batch);
    const second = await applyBatch(sql, target, batch);

    expect(first).toMatchObject({ status: 'applied', path: 'copy' });
    expect(second).toEqual({ status: 'already-applied', counts: first.counts });
    expect(await sql`SELECT count(*)::int AS n FROM once_copy`).toEqual([{ n: 100 }]);
  });

  test('6 concurrent applications of one fresh batch: one commit, one application in the ledger', async () => {
    await sql`CREATE TABLE once_concurrent (id int PRIMARY KEY, name text)`;
    const target = await prepare(sql, { table: 'once_concurrent', conflictKey: ['id'] });
    const batch = makeBatch({ table: 'once_concurrent', rows: Array.from({ length: 500 }, (_, i) => ({ id: String(i), name: `n${i}` })) });

    const results = await Promise.all(Array.from({ length: 6 }, () => applyBatch(sql, target, batch)));

    expect(results.filter((r) => r.status === 'applied')).toHaveLength(1);
    expect(new Set(results.map((r) => JSON.stringify(r.counts))).size).toBe(1);
    expect(await sql`SELECT count(*)::int AS n FROM once_concurrent`).toEqual([{ n: 500 }]);
    const [ledger] = await sql`SELECT applications, inserted FROM landfall.batches WHERE batch_id = ${batch.batchId}`;
    expect(ledger).toEqual({ applications: 1, inserted: 500 });
  });
});
