import { describe, expect, test } from 'vitest';
import { applyBatch, upsertRows } from '../../shared/postgres/apply-batch.ts';
import { type BatchData, countsAddUp } from '../../shared/core/batch.ts';
import { listQuarantine, retryQuarantine } from '../../shared/postgres/quarantine-retry.ts';
import { replayBatch } from '../../shared/postgres/replay-batch.ts';
import { prepareTable, type TargetTable } from '../../shared/postgres/target-table.ts';
import { batchOfObjects } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare, tableConfig } from '../helpers/engine.ts';

// Issue 20 item 0, the consumer's side: NDJSON objects may differ in their keys. A key an object
// does not carry is absent (BatchData.absent): it leaves the stored column alone on update and
// takes the column's default on insert, row by row; an explicit null writes NULL.

const { sql } = await createTestDatabase();

type Obj = Record<string, string | null>;

async function people(name: string, merge?: Record<string, string>): Promise<TargetTable> {
  await sql.unsafe(`CREATE TABLE ${name} (
    id int PRIMARY KEY, seq int NOT NULL, name text NOT NULL DEFAULT 'unknown', email text, city text CHECK (city <> 'Atlantis'),
    visits int NOT NULL DEFAULT 0, _landfall_arrival text COLLATE "C")`);
  return prepare(sql, { table: name, conflictKey: ['id'], version: 'seq', ...(merge ? { merge } : {}) });
}

async function rowsOf(table: string) {
  return (await sql.unsafe(`SELECT id, seq, name, email, city, visits FROM ${table} ORDER BY id`)).map((r) => ({ ...r }));
}

/** Applies the batch through the upsert alone (as when a key is already stored), in its own claimed transaction. */
async function upsertOnly(target: TargetTable, batch: BatchData) {
  await sql.begin(async (tx) => {
    await tx`INSERT INTO landfall.batches (batch_id, file_id, table_name, partition, chunk, status) VALUES (${batch.batchId}, ${batch.fileId}, ${batch.table}, 0, 0, 'applied')`;
    await upsertRows(tx, target, batch, null);
  });
}

const FIRST: Obj[] = [
  { id: '1', seq: '1', name: 'Ann', email: 'ann@x' },
  { id: '2', seq: '1', email: null },
  { id: '3', seq: '1', name: 'Cy', city: 'Oslo', visits: '4' },
];

describe('objects that differ in their keys', () => {
  test('in one fresh batch: the COPY fast path writes the default where a key is absent and NULL where it is null, as the upsert does', async () => {
    const copied = await people('p_fresh');
    const twin = await people('p_fresh_twin');

    const result = await applyBatch(sql, copied, batchOfObjects('p_fresh', FIRST));
    await upsertOnly(twin, batchOfObjects('p_fresh_twin', FIRST));

    expect(result.path).toBe('copy');
    expect(result.counts).toMatchObject({ read: 3, inserted: 3 });
    expect(await rowsOf('p_fresh')).toEqual([
      { id: 1, seq: 1, name: 'Ann', email: 'ann@x', city: null, visits: 0 },
      { id: 2, seq: 1, name: 'unknown', email: null, city: null, visits: 0 },
      { id: 3, seq: 1, name: 'Cy', email: null, city: 'Oslo', visits: 4 },
    ]);
    expect(await rowsOf('p_fresh_twin')).toEqual(await rowsOf('p_fresh'));
  });

  test('across batches: an absent key leaves the stored column alone, an explicit null writes NULL, a new key takes the defaults', async () => {
    const target = await people('p_across');
    await applyBatch(sql, target, batchOfObjects('p_across', FIRST));

    const { counts } = await applyBatch(
      sql,
      target,
      batchOfObjects('p_across', [
        { id: '1', seq: '2', city: 'Rome' },
        { id: '3', seq: '2', city: null, email: 'cy@x' },
        { id: '4', seq: '1' },
      ]),
    );

    expect(counts).toMatchObject({ read: 3, inserted: 1, updated: 2 });
    expect(countsAddUp(counts)).toBe(true);
    expect(await rowsOf('p_across')).toEqual([
      { id: 1, seq: 2, name: 'Ann', email: 'ann@x', city: 'Rome', visits: 0 },
      { id: 2, seq: 1, name: 'unknown', email: null, city: null, visits: 0 },
      { id: 3, seq: 2, name: 'Cy', email: 'cy@x', city: null, visits: 4 },
      { id: 4, seq: 1, name: 'unknown', email: null, city: null, visits: 0 },
    ]);
  });

  test('several objects of one key in one batch: the latest that carries a key supplies it; one older than the stored row gives nothing', async () => {
    const target = await people('p_several');
    await applyBatch(sql, target, batchOfObjects('p_several', FIRST));

    await applyBatch(
      sql,
      target,
      batchOfObjects('p_several', [
        { id: '1', seq: '4', city: 'Paris' },
        { id: '1', seq: '0', email: 'old@x', name: 'Old' },
        { id: '1', seq: '3', name: 'Anna' },
        { id: '3', seq: '3', email: 'c@x' },
        { id: '3', seq: '4', email: null },
      ]),
    );

    expect(await rowsOf('p_several')).toEqual([
      { id: 1, seq: 4, name: 'Anna', email: 'ann@x', city: 'Paris', visits: 0 },
      { id: 2, seq: 1, name: 'unknown', email: null, city: null, visits: 0 },
      { id: 3, seq: 4, name: 'Cy', email: null, city: 'Oslo', visits: 4 },
    ]);
  });

  test('an absent value of a NOT NULL column without a default updates a stored row and leaves that column alone', async () => {
    await sql`CREATE TABLE p_required (id int PRIMARY KEY, label text NOT NULL, note text)`;
    const target = await prepare(sql, { table: 'p_required', conflictKey: ['id'] });
    await applyBatch(sql, target, batchOfObjects('p_required', [{ id: '1', label: 'one', note: 'a' }]));

    const { counts } = await applyBatch(sql, target, batchOfObjects('p_required', [{ id: '1', note: 'b' }, { id: '1', note: 'c' }, { id: '2', label: 'two' }]));

    expect(counts).toMatchObject({ read: 3, collapsed: 1, updated: 1, inserted: 1 });
    expect((await sql`SELECT id, label, note FROM p_required ORDER BY id`).map((r) => ({ ...r }))).toEqual([
      { id: 1, label: 'one', note: 'c' },
      { id: 2, label: 'two', note: null },
    ]);
  });

  test('with merge rules: an absent delta adds nothing, an absent or null ignoreNull value leaves the stored one', async () => {
    const target = await people('p_rules', { visits: 'add', email: 'ignoreNull' });
    await applyBatch(sql, target, batchOfObjects('p_rules', FIRST));

    await applyBatch(
      sql,
      target,
      batchOfObjects('p_rules', [
        { id: '1', seq: '2', visits: '3' },
        { id: '1', seq: '3', email: null },
        { id: '3', seq: '2', visits: '1', email: 'cy@x' },
        { id: '5', seq: '1', visits: null },
      ]),
    );

    expect(await rowsOf('p_rules')).toEqual([
      { id: 1, seq: 3, name: 'Ann', email: 'ann@x', city: null, visits: 3 },
      { id: 2, seq: 1, name: 'unknown', email: null, city: null, visits: 0 },
      { id: 3, seq: 2, name: 'Cy', email: 'cy@x', city: 'Oslo', visits: 5 },
      { id: 5, seq: 1, name: 'unknown', email: null, city: null, visits: 0 },
    ]);
  });

  test('replay: bisection keeps each row its absent keys; a quarantined row keeps them, and retry applies it with the same meaning', async () => {
    const target = await people('p_replay');
    await applyBatch(sql, target, batchOfObjects('p_replay', FIRST));
    const batch = batchOfObjects('p_replay', [
      { id: '1', seq: '5', email: 'e@x' },
      { id: '5', seq: '1', city: 'Atlantis', email: 'z@x' },
      { id: '2', seq: '5', name: 'Bo' },
      { id: '3', seq: '6', city: 'Atlantis' },
    ]);

    await expect(applyBatch(sql, target, batch)).rejects.toMatchObject({ code: '23514' });
    const replayed = await replayBatch(sql, target, batch);

    expect(replayed.failures.map((f) => [f.row, f.sqlstate])).toEqual([
      [1, '23514'],
      [3, '23514'],
    ]);
    expect(await rowsOf('p_replay')).toEqual([
      { id: 1, seq: 5, name: 'Ann', email: 'e@x', city: null, visits: 0 },
      { id: 2, seq: 5, name: 'Bo', email: null, city: null, visits: 0 },
      { id: 3, seq: 1, name: 'Cy', email: null, city: 'Oslo', visits: 4 },
    ]);
    const quarantined = await listQuarantine(sql, { table: 'p_replay' });
    expect(quarantined.map((q) => [q.rowNumber, q.absent])).toEqual([
      [2, ['name']],
      [4, ['email', 'name']],
    ]);

    await sql`ALTER TABLE p_replay DROP CONSTRAINT p_replay_city_check`;
    const fixed = await prepareTable(sql, tableConfig({ table: 'p_replay', conflictKey: ['id'], version: 'seq' }));
    expect(await retryQuarantine(sql, async () => fixed, quarantined)).toMatchObject({ applied: 2, stillFailing: 0 });

    expect(await rowsOf('p_replay')).toEqual([
      { id: 1, seq: 5, name: 'Ann', email: 'e@x', city: null, visits: 0 },
      { id: 2, seq: 5, name: 'Bo', email: null, city: null, visits: 0 },
      { id: 3, seq: 6, name: 'Cy', email: null, city: 'Atlantis', visits: 4 },
      { id: 5, seq: 1, name: 'unknown', email: 'z@x', city: 'Atlantis', visits: 0 },
    ]);
  });

  test('insert mode: an absent key takes the default on insert; a later object equal on the keys it carries is unchanged, another stale', async () => {
    await sql`CREATE TABLE p_insert (id int PRIMARY KEY, name text DEFAULT 'unknown', email text)`;
    const target = await prepare(sql, { table: 'p_insert', conflictKey: ['id'], mode: 'insert' });
    await applyBatch(sql, target, batchOfObjects('p_insert', [{ id: '1', email: 'a@x' }, { id: '2', name: 'Bo', email: 'b@x' }]));

    const { counts } = await applyBatch(sql, target, batchOfObjects('p_insert', [{ id: '1', email: 'a@x' }, { id: '2', name: 'Other' }, { id: '3' }]));

    expect(counts).toMatchObject({ read: 3, inserted: 1, unchanged: 1, stale: 1 });
    expect((await sql`SELECT id, name, email FROM p_insert ORDER BY id`).map((r) => ({ ...r }))).toEqual([
      { id: 1, name: 'unknown', email: 'a@x' },
      { id: 2, name: 'Bo', email: 'b@x' },
      { id: 3, name: 'unknown', email: null },
    ]);
  });

  test('a fresh batch with more sets of absent keys than the fast path splits into takes the upsert, with the same result', async () => {
    await sql`CREATE TABLE p_many (id int PRIMARY KEY, a text DEFAULT 'a', b text DEFAULT 'b', c text DEFAULT 'c', d text DEFAULT 'd', e text DEFAULT 'e')`;
    const target = await prepare(sql, { table: 'p_many', conflictKey: ['id'] });
    const optional = ['a', 'b', 'c', 'd', 'e'];
    // 32 objects, each carrying another subset of the optional keys.
    const objects: Record<string, string>[] = Array.from({ length: 32 }, (_, i) => ({ id: String(i), ...Object.fromEntries(optional.filter((_, b) => i & (1 << b)).map((k) => [k, `${k}${i}`])) }));

    const result = await applyBatch(sql, target, batchOfObjects('p_many', objects));

    expect(result.path).toBe('upsert');
    const stored = await sql<{ id: number; a: string; e: string }[]>`SELECT id, a, e FROM p_many ORDER BY id`;
    expect(stored.map((r) => [r.a, r.e])).toEqual(objects.map((o) => [o.a ?? 'a', o.e ?? 'e']));
  });
});
