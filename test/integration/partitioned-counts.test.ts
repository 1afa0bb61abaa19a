import { describe, expect, test } from 'vitest';
import { countsAddUp } from '../../shared/core/batch.ts';
import { applyBatch } from '../../shared/postgres/apply-batch.ts';
import { makeBatch } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';

const { sql } = await createTestDatabase();

/** A range-partitioned table by day, the shape of a high-volume event table. */
async function readingsTable(name: string, fields: { delete?: boolean; mode?: 'upsert' | 'insert' } = {}) {
  await sql.unsafe(`CREATE TABLE ${name} (id int, day date, qty int, v int NOT NULL, PRIMARY KEY (id, day)) PARTITION BY RANGE (day)`);
  await sql.unsafe(`CREATE TABLE ${name}_jan PARTITION OF ${name} FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')`);
  await sql.unsafe(`CREATE TABLE ${name}_feb PARTITION OF ${name} FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')`);
  return prepare(sql, {
    table: name,
    conflictKey: ['id', 'day'],
    version: 'v',
    ...(fields.mode ? { mode: fields.mode } : {}),
    ...(fields.delete ? { delete: { column: '_op', equals: 'D' } } : {}),
  });
}

const reading = (id: number, day: string, qty: number, v: number, op?: string) => ({ id: String(id), day, qty: String(qty), v: String(v), ...(op === undefined ? {} : { _op: op }) });

describe('counts on a partitioned table', () => {
  test('GIVEN stored rows in two partitions WHEN a batch has new, changed, identical, older and duplicate rows THEN each count is exact', async () => {
    const target = await readingsTable('readings_counts');
    await sql`INSERT INTO readings_counts VALUES (2, '2026-01-02', 2, 1), (3, '2026-02-03', 3, 1), (4, '2026-01-04', 4, 5)`;
    const batch = makeBatch({
      table: 'readings_counts',
      rows: [
        reading(1, '2026-02-01', 1, 1), // new → inserted
        reading(2, '2026-01-02', 20, 2), // newer and different → updated
        reading(3, '2026-02-03', 3, 1), // same → unchanged
        reading(4, '2026-01-04', 40, 4), // older → stale
        reading(5, '2026-01-05', 5, 1), // collapsed into the next
        reading(5, '2026-01-05', 6, 1), // → inserted
      ],
    });

    const result = await applyBatch(sql, target, batch);

    expect(result).toMatchObject({ status: 'applied', path: 'upsert' });
    expect(result.counts).toEqual({ read: 6, collapsed: 1, inserted: 2, updated: 1, unchanged: 1, stale: 1, deleted: 0, quarantined: 0 });
    expect(countsAddUp(result.counts)).toBe(true);
    const rows = await sql`SELECT id, day::text AS day, qty, v FROM readings_counts ORDER BY id`;
    expect(rows.map((r) => [r.id, r.day, r.qty, r.v])).toEqual([
      [1, '2026-02-01', 1, 1],
      [2, '2026-01-02', 20, 2],
      [3, '2026-02-03', 3, 1],
      [4, '2026-01-04', 4, 5],
      [5, '2026-01-05', 6, 1],
    ]);
  });

  test('the first file goes in through COPY, the second file updates it (the way a user meets it)', async () => {
    const target = await readingsTable('readings_files');
    const first = await applyBatch(sql, target, makeBatch({ table: 'readings_files', rows: [reading(1, '2026-01-01', 1, 1), reading(2, '2026-02-02', 2, 1)] }));
    expect(first).toMatchObject({ path: 'copy', counts: { inserted: 2 } });

    const second = await applyBatch(sql, target, makeBatch({ table: 'readings_files', rows: [reading(1, '2026-01-01', 10, 2), reading(3, '2026-02-03', 3, 1)] }));

    expect(second.counts).toMatchObject({ read: 2, inserted: 1, updated: 1, unchanged: 0, stale: 0 });
  });

  test('insert mode: a new key is inserted, a stored one is left alone', async () => {
    const target = await readingsTable('readings_insert', { mode: 'insert' });
    await sql`INSERT INTO readings_insert VALUES (1, '2026-01-01', 1, 1)`;

    const result = await applyBatch(sql, target, makeBatch({ table: 'readings_insert', rows: [reading(1, '2026-01-01', 9, 9), reading(1, '2026-01-02', 2, 1), reading(2, '2026-01-01', 1, 1)] }));

    expect(result.counts).toMatchObject({ read: 3, inserted: 2, updated: 0, stale: 1 });
    const [kept] = await sql`SELECT qty FROM readings_insert WHERE id = 1 AND day = '2026-01-01'`;
    expect(kept!.qty).toBe(1);
  });

  test('a delete rule: tombstones delete and are remembered, the counts exact', async () => {
    const target = await readingsTable('readings_del', { delete: true });
    await sql`INSERT INTO readings_del VALUES (1, '2026-01-01', 1, 1), (2, '2026-02-02', 2, 1)`;

    const result = await applyBatch(sql, target, makeBatch({
      table: 'readings_del',
      rows: [reading(1, '2026-01-01', 1, 2, 'D'), reading(2, '2026-02-02', 3, 2, ''), reading(3, '2026-02-03', 3, 1, '')],
    }));
    const late = await applyBatch(sql, target, makeBatch({ table: 'readings_del', rows: [reading(1, '2026-01-01', 5, 1, '')] }));

    expect(result.counts).toMatchObject({ read: 3, inserted: 1, updated: 1, deleted: 1, unchanged: 0, stale: 0 });
    expect(late.counts).toMatchObject({ read: 1, inserted: 0, stale: 1 });
    const rows = await sql`SELECT id FROM readings_del ORDER BY id`;
    expect(rows.map((r) => r.id)).toEqual([2, 3]);
  });
});

describe('two transactions on one key (replay and the consumer)', () => {
  /** Waits until some backend of this database waits on a lock (the second writer of the key). */
  async function untilSomeoneWaits() {
    for (;;) {
      const [w] = await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`;
      if (w!.n > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  test('GIVEN another transaction inserts the key and commits while the upsert waits THEN the row is written once and the counts add up', async () => {
    const target = await readingsTable('readings_race');
    // A stored key first in the batch: COPY stops at it (23505) before it reaches the raced key,
    // so the set-based statement is the one that waits.
    await sql`INSERT INTO readings_race VALUES (9, '2026-01-09', 9, 1)`;
    const other = await sql.reserve();
    await other`BEGIN`;
    await other`INSERT INTO readings_race VALUES (1, '2026-01-01', 1, 1)`;

    const applying = applyBatch(sql, target, makeBatch({ table: 'readings_race', rows: [reading(9, '2026-01-09', 9, 1), reading(1, '2026-01-01', 2, 2)] }));
    await untilSomeoneWaits();
    await other`COMMIT`;
    other.release();
    const result = await applying;

    // The statement's snapshot did not hold the key, so the write counts as an insert (under
    // `xmax` it would have been an update); the total written and every other count are exact.
    expect(countsAddUp(result.counts)).toBe(true);
    expect(result.counts).toMatchObject({ read: 2, unchanged: 1, stale: 0 });
    expect(result.counts.inserted + result.counts.updated).toBe(1);
    const [stored] = await sql`SELECT qty, v FROM readings_race WHERE id = 1`;
    expect(stored).toEqual({ qty: 2, v: 2 });
  });
});
