import { describe, expect, test } from 'vitest';
import { applyBatch } from '../../shared/postgres/apply-batch.ts';
import { type BatchCounts, countsAddUp } from '../../shared/core/batch.ts';
import { listQuarantine, retryQuarantine } from '../../shared/postgres/quarantine-retry.ts';
import { replayBatch } from '../../shared/postgres/replay-batch.ts';
import { prepareTable, type TargetTable, TableConfigError } from '../../shared/postgres/target-table.ts';
import { TOMB_DELETED_AT, tombstoneRelationOf } from '../../shared/core/tombstone-names.ts';
import { fileIdentity, makeBatch } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare, tableConfig } from '../helpers/engine.ts';

const { sql } = await createTestDatabase();

/** A table `name (id int key, name text, v int version)` with a `_op = 'D'` delete rule. */
async function itemsTable(name: string, extra: { arrivalColumn?: boolean; retentionDays?: number; version?: boolean } = {}): Promise<TargetTable> {
  const arrival = extra.arrivalColumn === false ? '' : ', _landfall_arrival text COLLATE "C"';
  await sql.unsafe(`CREATE TABLE ${name} (id int PRIMARY KEY, name text, v int${arrival})`);
  return prepare(sql, {
    table: name,
    conflictKey: ['id'],
    ...(extra.version === false ? {} : { version: 'v' }),
    delete: { column: '_op', equals: 'D', ...(extra.retentionDays ? { retentionDays: extra.retentionDays } : {}) },
  });
}

const up = (id: number, name: string, v: number) => ({ id: String(id), name, v: String(v), _op: null });
const del = (id: number, v: number) => ({ id: String(id), name: null, v: String(v), _op: 'D' });

async function stored(table: string) {
  return (await sql.unsafe<{ id: number; name: string; v: number }[]>(`SELECT id, name, v FROM ${table} ORDER BY id`)).map((r) => ({ ...r }));
}

async function remembered(table: string) {
  const relation = tombstoneRelationOf({ schema: 'public', name: table }).quoted;
  return (await sql.unsafe<{ id: number; v: number }[]>(`SELECT id, "landfall$version" AS v FROM ${relation} ORDER BY id`)).map((r) => ({ ...r }));
}

function expectAddsUp(...counts: BatchCounts[]) {
  for (const c of counts) expect(countsAddUp(c), JSON.stringify(c)).toBe(true);
}

describe('a delete is remembered: an older upsert cannot bring the key back', () => {
  test('in one batch: the tombstone wins the reduction, is remembered, and the older row collapses', async () => {
    const target = await itemsTable('t_one_batch');
    await sql`INSERT INTO t_one_batch (id, name, v) VALUES (1, 'stored', 1)`;

    const result = await applyBatch(sql, target, makeBatch({ table: 't_one_batch', rows: [del(1, 3), up(1, 'older', 2)] }));

    expect(result.counts).toMatchObject({ read: 2, collapsed: 1, deleted: 1 });
    expectAddsUp(result.counts);
    expect(await stored('t_one_batch')).toEqual([]);
    expect(await remembered('t_one_batch')).toEqual([{ id: 1, v: 3 }]);
  });

  test('in two batches: the older upsert of the second batch is stale', async () => {
    const target = await itemsTable('t_two_batches');
    await sql`INSERT INTO t_two_batches (id, name, v) VALUES (1, 'stored', 1), (2, 'kept', 1)`;

    const first = await applyBatch(sql, target, makeBatch({ table: 't_two_batches', rows: [del(1, 3)] }));
    const second = await applyBatch(sql, target, makeBatch({ table: 't_two_batches', rows: [up(1, 'older', 2), up(2, 'newer', 2)] }));

    expect(first.counts).toMatchObject({ read: 1, deleted: 1 });
    expect(second.counts).toMatchObject({ read: 2, stale: 1, updated: 1, inserted: 0 });
    expectAddsUp(first.counts, second.counts);
    expect(await stored('t_two_batches')).toEqual([{ id: 2, name: 'newer', v: 2 }]);
  });

  test('in two files with the same version: the earlier file loses the tie to the later tombstone, also when applied after it', async () => {
    const target = await itemsTable('t_two_files');
    const early = fileIdentity({ eventTime: '2026-03-01T00:00:00.000Z' });
    const later = fileIdentity({ eventTime: '2026-03-01T00:00:05.000Z' });

    const deleted = await applyBatch(sql, target, makeBatch({ table: 't_two_files', rows: [del(1, 7)] }, later));
    const redelivered = await applyBatch(sql, target, makeBatch({ table: 't_two_files', rows: [up(1, 'early file', 7)] }, early));

    expect(deleted.counts).toMatchObject({ read: 1, unchanged: 1 }); // nothing stored to delete, but remembered
    expect(redelivered.counts).toMatchObject({ read: 1, stale: 1, inserted: 0 });
    expectAddsUp(deleted.counts, redelivered.counts);
    expect(await stored('t_two_files')).toEqual([]);
  });

  test('"$arrival" without an arrival column: a late redelivery of an older file stays out', async () => {
    const target = await itemsTable('t_arrival_only', { arrivalColumn: false, version: false });
    const early = fileIdentity({ eventTime: '2026-03-02T00:00:00.000Z' });
    const later = fileIdentity({ eventTime: '2026-03-02T00:00:05.000Z' });
    await applyBatch(sql, target, makeBatch({ table: 't_arrival_only', rows: [up(1, 'first', 0)] }, early));
    await applyBatch(sql, target, makeBatch({ table: 't_arrival_only', rows: [del(1, 0)] }, later));

    const late = await applyBatch(sql, target, makeBatch({ table: 't_arrival_only', rows: [up(1, 'first again', 0)] }, { ...early, etag: 'other-version' }));
    const newer = await applyBatch(sql, target, makeBatch({ table: 't_arrival_only', rows: [up(1, 'after the delete', 0)] }, fileIdentity({ eventTime: '2026-03-02T00:00:09.000Z' })));

    expect(late.counts).toMatchObject({ stale: 1 });
    expect(newer.counts).toMatchObject({ inserted: 1 });
    expect(await stored('t_arrival_only')).toEqual([{ id: 1, name: 'after the delete', v: 0 }]);
  });

  test('under replay: the older row is stale, the bad row quarantined, the rest applied', async () => {
    const target = await itemsTable('t_replay');
    await applyBatch(sql, target, makeBatch({ table: 't_replay', rows: [up(1, 'a', 1), up(2, 'b', 1)] }));
    await applyBatch(sql, target, makeBatch({ table: 't_replay', rows: [del(1, 5)] }));
    const batch = makeBatch({ table: 't_replay', rows: [up(1, 'older', 4), { id: '3', name: 'bad', v: 'not a number', _op: null }, up(2, 'b2', 2)] });
    await expect(applyBatch(sql, target, batch)).rejects.toMatchObject({ code: '22P02' });

    const result = await replayBatch(sql, target, batch);

    expect(result.failures.map((f) => [f.row, f.sqlstate])).toEqual([[1, '22P02']]);
    expect(result.counts).toMatchObject({ read: 3, stale: 1, updated: 1, quarantined: 1 });
    expectAddsUp(result.counts);
    expect(await stored('t_replay')).toEqual([{ id: 2, name: 'b2', v: 2 }]);
  });

  test('quarantine retry honours the tombstone: a fixed row older than the delete stays out', async () => {
    await sql`CREATE TABLE t_retry_parent (id int PRIMARY KEY)`;
    await sql`CREATE TABLE t_retry (id int PRIMARY KEY, name text, v int, parent int REFERENCES t_retry_parent, _landfall_arrival text COLLATE "C")`;
    const target = await prepare(sql, { table: 't_retry', conflictKey: ['id'], version: 'v', delete: { column: '_op', equals: 'D' } });
    const batch = makeBatch({ table: 't_retry', rows: [{ id: '1', name: 'orphan', v: '2', parent: '9', _op: null }] });
    await replayBatch(sql, target, batch);
    await applyBatch(sql, target, makeBatch({ table: 't_retry', rows: [{ id: '1', name: null, v: '3', parent: null, _op: 'D' }] }));
    await sql`INSERT INTO t_retry_parent VALUES (9)`;

    const result = await retryQuarantine(sql, async () => target, await listQuarantine(sql, { table: 't_retry' }));

    expect(result.applied).toBe(1);
    expect(await sql`SELECT id FROM t_retry`).toEqual([]);
    const [counts] = await sql`SELECT read, stale, quarantined FROM landfall.batches WHERE batch_id = ${batch.batchId}`;
    expect(counts).toEqual({ read: 1, stale: 1, quarantined: 0 });
  });
});

describe('rule 6 holds for every batch of a delete-rule table, with or without the delete column', () => {
  /** A row of a file that has no `_op` column at all. */
  const plain = (id: number, name: string, v: number) => ({ id: String(id), name, v: String(v) });

  test('the issue\'s reproduction: insert v5, delete v6 with _op, then a file without _op brings v3: stale, the key stays deleted', async () => {
    const target = await itemsTable('t_no_op_column');
    const inserted = await applyBatch(sql, target, makeBatch({ table: 't_no_op_column', rows: [plain(1, 'v5', 5)] }));
    const deleted = await applyBatch(sql, target, makeBatch({ table: 't_no_op_column', rows: [del(1, 6)] }));

    const late = await applyBatch(sql, target, makeBatch({ table: 't_no_op_column', rows: [plain(1, 'v3', 3)] }));

    expect(inserted.counts).toMatchObject({ read: 1, inserted: 1 });
    expect(deleted.counts).toMatchObject({ read: 1, deleted: 1 });
    expect(late.counts).toMatchObject({ read: 1, stale: 1, inserted: 0 });
    expect(late.path).toBe('upsert');
    expectAddsUp(inserted.counts, deleted.counts, late.counts);
    expect(await stored('t_no_op_column')).toEqual([]);
    expect(await remembered('t_no_op_column')).toEqual([{ id: 1, v: 6 }]);
  });

  test('while a delete is remembered, a batch without the delete column takes the upsert, not COPY: a new key beside a remembered one is inserted, the remembered one stays out', async () => {
    const target = await itemsTable('t_no_op_copy');
    await applyBatch(sql, target, makeBatch({ table: 't_no_op_copy', rows: [del(1, 6)] }));

    const result = await applyBatch(sql, target, makeBatch({ table: 't_no_op_copy', rows: [plain(1, 'older', 2), plain(2, 'new', 1)] }));

    expect(result.path).toBe('upsert');
    expect(result.counts).toMatchObject({ read: 2, stale: 1, inserted: 1 });
    expectAddsUp(result.counts);
    expect(await stored('t_no_op_copy')).toEqual([{ id: 2, name: 'new', v: 1 }]);
  });

  test('before any delete is remembered, new keys take COPY, with or without the delete column; a batch with a tombstone takes the upsert', async () => {
    const target = await itemsTable('t_no_op_fresh');

    const plainFile = await applyBatch(sql, target, makeBatch({ table: 't_no_op_fresh', rows: [plain(1, 'a', 1), plain(2, 'b', 1)] }));
    const withOps = await applyBatch(sql, target, makeBatch({ table: 't_no_op_fresh', rows: [up(3, 'c', 1), up(4, 'd', 1)] }));
    const withTombstone = await applyBatch(sql, target, makeBatch({ table: 't_no_op_fresh', rows: [up(5, 'e', 1), del(6, 1)] }));

    expect([plainFile.path, withOps.path, withTombstone.path]).toEqual(['copy', 'copy', 'upsert']);
    expect(withTombstone.counts).toMatchObject({ read: 2, inserted: 1, unchanged: 1 });
    expectAddsUp(plainFile.counts, withOps.counts, withTombstone.counts);
    expect((await stored('t_no_op_fresh')).map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
    expect(await remembered('t_no_op_fresh')).toEqual([{ id: 6, v: 1 }]);
    // Now a delete is remembered: even new keys take the upsert.
    const after = await applyBatch(sql, target, makeBatch({ table: 't_no_op_fresh', rows: [plain(7, 'g', 1)] }));
    expect(after).toMatchObject({ path: 'upsert', counts: { inserted: 1 } });
  });

  test('a newer row without the delete column beats the remembered delete and clears it', async () => {
    const target = await itemsTable('t_no_op_newer');
    await applyBatch(sql, target, makeBatch({ table: 't_no_op_newer', rows: [del(1, 6)] }));

    const result = await applyBatch(sql, target, makeBatch({ table: 't_no_op_newer', rows: [plain(1, 'back', 7)] }));

    expect(result.counts).toMatchObject({ read: 1, inserted: 1 });
    expect(await stored('t_no_op_newer')).toEqual([{ id: 1, name: 'back', v: 7 }]);
    expect(await remembered('t_no_op_newer')).toEqual([]);
  });

  test('under replay, a batch without the delete column honours the remembered delete', async () => {
    const target = await itemsTable('t_no_op_replay');
    await applyBatch(sql, target, makeBatch({ table: 't_no_op_replay', rows: [del(1, 6)] }));
    const batch = makeBatch({ table: 't_no_op_replay', rows: [plain(1, 'older', 3), { id: '2', name: 'bad', v: 'x' }, plain(3, 'new', 1)] });

    const result = await replayBatch(sql, target, batch);

    expect(result.counts).toMatchObject({ read: 3, stale: 1, inserted: 1, quarantined: 1 });
    expectAddsUp(result.counts);
    expect(await stored('t_no_op_replay')).toEqual([{ id: 3, name: 'new', v: 1 }]);
  });
});

describe('what a tombstone does not stop', () => {
  test('a newer upsert wins and clears the tombstone', async () => {
    const target = await itemsTable('t_newer');
    await applyBatch(sql, target, makeBatch({ table: 't_newer', rows: [del(1, 3)] }));

    const result = await applyBatch(sql, target, makeBatch({ table: 't_newer', rows: [up(1, 'back', 4)] }));

    expect(result.counts).toMatchObject({ inserted: 1 });
    expect(await stored('t_newer')).toEqual([{ id: 1, name: 'back', v: 4 }]);
    expect(await remembered('t_newer')).toEqual([]);
  });

  test('an older tombstone does not replace a newer remembered one', async () => {
    const target = await itemsTable('t_tomb_order');
    await applyBatch(sql, target, makeBatch({ table: 't_tomb_order', rows: [del(1, 7)] }));
    await applyBatch(sql, target, makeBatch({ table: 't_tomb_order', rows: [del(1, 5)] }));

    const result = await applyBatch(sql, target, makeBatch({ table: 't_tomb_order', rows: [up(1, 'between', 6)] }));

    expect(result.counts).toMatchObject({ stale: 1 });
    expect(await remembered('t_tomb_order')).toEqual([{ id: 1, v: 7 }]);
  });

  test('a tombstone that loses to the stored row is not remembered', async () => {
    const target = await itemsTable('t_lost');
    await sql`INSERT INTO t_lost (id, name, v) VALUES (1, 'newer', 9)`;

    const result = await applyBatch(sql, target, makeBatch({ table: 't_lost', rows: [del(1, 3)] }));

    expect(result.counts).toMatchObject({ stale: 1, deleted: 0 });
    expect(await remembered('t_lost')).toEqual([]);
  });

  test('after the retention window the key may be inserted again, and the expired tombstone is purged', async () => {
    const target = await itemsTable('t_retention', { retentionDays: 10 });
    await applyBatch(sql, target, makeBatch({ table: 't_retention', rows: [del(1, 5), del(2, 5), del(3, 5)] }));
    const relation = tombstoneRelationOf({ schema: 'public', name: 't_retention' }).quoted;
    await sql.unsafe(`UPDATE ${relation} SET "${TOMB_DELETED_AT}" = now() - interval '9 days' WHERE id = 2`);
    await sql.unsafe(`UPDATE ${relation} SET "${TOMB_DELETED_AT}" = now() - interval '11 days' WHERE id IN (1, 3)`);

    const result = await applyBatch(sql, target, makeBatch({ table: 't_retention', rows: [up(1, 'again', 4), up(2, 'still deleted', 4)] }));

    expect(result.counts).toMatchObject({ inserted: 1, stale: 1 });
    expect(await stored('t_retention')).toEqual([{ id: 1, name: 'again', v: 4 }]);
    // Key 1's tombstone was cleared by its upsert, key 3's purged on the way: only the live one is left.
    expect(await remembered('t_retention')).toEqual([{ id: 2, v: 5 }]);
  });
});

describe('expired tombstones', () => {
  test('a new delete of a key whose tombstone expired replaces it, whatever its version; other expired ones are purged', async () => {
    const target = await itemsTable('t_expired_again');
    await applyBatch(sql, target, makeBatch({ table: 't_expired_again', rows: [del(1, 9), del(2, 9), del(3, 9)] }));
    const relation = tombstoneRelationOf({ schema: 'public', name: 't_expired_again' }).quoted;
    await sql.unsafe(`UPDATE ${relation} SET "${TOMB_DELETED_AT}" = now() - interval '30 days'`);

    const result = await applyBatch(sql, target, makeBatch({ table: 't_expired_again', rows: [del(1, 4), up(2, 'back', 1)] }));

    expect(result.counts).toMatchObject({ read: 2, unchanged: 1, inserted: 1 });
    expect(await remembered('t_expired_again')).toEqual([{ id: 1, v: 4 }]);
    expect(await stored('t_expired_again')).toEqual([{ id: 2, name: 'back', v: 1 }]);
    const later = await applyBatch(sql, target, makeBatch({ table: 't_expired_again', rows: [up(1, 'older than the new delete', 3)] }));
    expect(later.counts).toMatchObject({ stale: 1 });
  });
});

describe('the tombstone table', () => {
  test('concurrent cold starts create it once, with the key column types and collations of the table', async () => {
    await sql`CREATE TABLE t_shape (code text COLLATE "C", n numeric(10,2), v timestamptz NOT NULL, PRIMARY KEY (code, n))`;
    const config = tableConfig({ table: 't_shape', conflictKey: ['code', 'n'], version: 'v', delete: { column: '_op', equals: 'D' } });

    await Promise.all(Array.from({ length: 4 }, () => prepareTable(sql, config)));

    const relation = tombstoneRelationOf({ schema: 'public', name: 't_shape' });
    const columns = await sql`
      SELECT attname AS name, format_type(atttypid, atttypmod) AS type, CASE WHEN attcollation = 0 THEN NULL ELSE attcollation::regcollation::text END AS collation
      FROM pg_attribute WHERE attrelid = to_regclass(${relation.quoted}) AND attnum > 0 ORDER BY attnum`;
    expect(columns.map((c) => [c.name, c.type, c.collation])).toEqual([
      ['code', 'text', '"C"'],
      ['n', 'numeric(10,2)', null],
      ['landfall$version', 'timestamp with time zone', null],
      ['landfall$arrival', 'text', '"C"'],
      ['landfall$deleted_at', 'timestamp with time zone', null],
    ]);
    expect(await sql`SELECT table_name, relation FROM landfall.tombstone_tables WHERE table_name = 't_shape'`).toEqual([{ table_name: 't_shape', relation: relation.name }]);
  });

  test('a key column whose type changed afterwards is refused with the fix, not compared under another equality', async () => {
    await sql`CREATE TABLE t_altered (id int PRIMARY KEY, v int NOT NULL)`;
    const config = tableConfig({ table: 't_altered', conflictKey: ['id'], version: 'v', delete: { column: '_op', equals: 'D' } });
    await prepareTable(sql, config);
    await sql`ALTER TABLE t_altered ALTER COLUMN id TYPE text`;

    const error = await prepareTable(sql, config).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TableConfigError);
    expect((error as TableConfigError).message).toMatch(/tombstone table .* column\(s\) "id" of another type/);
    expect((error as TableConfigError).fix).toMatch(/^DROP TABLE "landfall"."tombstones_t_altered_[0-9a-f]{10}";/);
  });
});
