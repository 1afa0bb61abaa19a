import { describe, expect, test } from 'vitest';
import { applyBatch } from '../../shared/postgres/apply-batch.ts';
import { countsAddUp } from '../../shared/core/batch.ts';
import { listQuarantine, retryQuarantine } from '../../shared/postgres/quarantine-retry.ts';
import { fileIdentity, makeBatch } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';

const { sql } = await createTestDatabase();

async function itemsTable(name: string) {
  await sql.unsafe(`CREATE TABLE ${name} (
    id int PRIMARY KEY, name text, qty int, v int NOT NULL,
    _landfall_arrival text COLLATE "C")`);
  return prepare(sql, { table: name, conflictKey: ['id'], version: 'v', delete: { column: '_op', equals: 'D' } });
}

const row = (id: number, name: string, qty: number, v: number, op: string | null = null) => ({
  id: String(id), name, qty: String(qty), v: String(v), _op: op,
});

describe('counts on a crafted batch', () => {
  test('GIVEN stored rows WHEN a batch has new, changed, identical, older, duplicate and tombstone rows THEN each count is exact', async () => {
    const target = await itemsTable('items_counts');
    await sql`INSERT INTO items_counts (id, name, qty, v) VALUES (2, 'two', 2, 1), (3, 'three', 3, 1), (4, 'four', 4, 5), (6, 'six', 6, 1)`;
    const batch = makeBatch({
      table: 'items_counts',
      rows: [
        row(1, 'one', 1, 1), // new → inserted
        row(2, 'TWO', 20, 2), // newer and different → updated
        row(3, 'three', 3, 1), // same version, same values → unchanged
        row(4, 'old', 40, 4), // older than stored v5 → stale
        row(5, 'five-a', 5, 1), // in-batch duplicate, loses to the next row (same version, later)
        row(5, 'five-b', 5, 1), // → inserted; the row above → collapsed
        row(6, 'six', 6, 2, 'D'), // tombstone, newer → deleted
        row(7, 'seven', 7, 1, 'D'), // tombstone for a key never stored → unchanged
      ],
    });

    const result = await applyBatch(sql, target, batch);

    expect(result.status).toBe('applied');
    expect(result.counts).toEqual({ read: 8, collapsed: 1, inserted: 2, updated: 1, unchanged: 2, stale: 1, deleted: 1, quarantined: 0 });
    expect(countsAddUp(result.counts)).toBe(true);
    const rows = await sql`SELECT id, name, qty, v FROM items_counts ORDER BY id`;
    expect(rows.map((r) => [r.id, r.name, r.qty, r.v])).toEqual([
      [1, 'one', 1, 1],
      [2, 'TWO', 20, 2],
      [3, 'three', 3, 1],
      [4, 'four', 4, 5],
      [5, 'five-b', 5, 1],
    ]);
  });

  test('the counts are stored in the ledger with the batch', async () => {
    const target = await itemsTable('items_ledger');
    const batch = makeBatch({ table: 'items_ledger', rows: [row(1, 'a', 1, 1), row(1, 'b', 1, 2), row(2, 'c', 1, 1)] });

    await applyBatch(sql, target, batch);

    const [stored] = await sql`SELECT status, read, collapsed, inserted, applications FROM landfall.batches WHERE batch_id = ${batch.batchId}`;
    expect(stored).toMatchObject({ status: 'applied', read: 3, collapsed: 1, inserted: 2, applications: 1 });
  });

  test('an identical row writes nothing: no new tuple version, no trigger', async () => {
    const target = await itemsTable('items_nowrite');
    await sql`CREATE TABLE items_nowrite_audit (id int)`;
    await sql.unsafe(`CREATE FUNCTION items_nowrite_audit() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN INSERT INTO items_nowrite_audit VALUES (NEW.id); RETURN NEW; END $$`);
    await sql`CREATE TRIGGER audit AFTER UPDATE ON items_nowrite FOR EACH ROW EXECUTE FUNCTION items_nowrite_audit()`;
    await applyBatch(sql, target, makeBatch({ table: 'items_nowrite', rows: [row(1, 'a', 1, 1)] }));
    const [before] = await sql`SELECT xmin::text AS xmin FROM items_nowrite WHERE id = 1`;

    const again = await applyBatch(sql, target, makeBatch({ table: 'items_nowrite', rows: [row(1, 'a', 1, 1)] }));

    const [after] = await sql`SELECT xmin::text AS xmin FROM items_nowrite WHERE id = 1`;
    const audit = await sql`SELECT * FROM items_nowrite_audit`;
    expect(again.counts).toMatchObject({ unchanged: 1, updated: 0 });
    expect(after!.xmin).toBe(before!.xmin);
    expect(audit).toHaveLength(0);
  });

  test('columns a file does not carry are left alone on update and take their default on insert', async () => {
    await sql`CREATE TABLE partial_cols (id int PRIMARY KEY, a text, b text DEFAULT 'dflt', v int NOT NULL)`;
    const target = await prepare(sql, { table: 'partial_cols', conflictKey: ['id'], version: 'v' });
    await sql`INSERT INTO partial_cols VALUES (1, 'a1', 'kept', 1)`;

    await applyBatch(sql, target, makeBatch({ table: 'partial_cols', rows: [{ id: '1', a: 'a2', v: '2' }, { id: '2', a: 'new', v: '1' }] }));

    const rows = await sql`SELECT id, a, b FROM partial_cols ORDER BY id`;
    expect(rows.map((r) => [r.id, r.a, r.b])).toEqual([
      [1, 'a2', 'kept'],
      [2, 'new', 'dflt'],
    ]);
  });
});

describe('winner rule', () => {
  test('out of order: version 3 then version 2 leaves version 3 (the second is stale)', async () => {
    const target = await itemsTable('items_order');

    await applyBatch(sql, target, makeBatch({ table: 'items_order', rows: [row(1, 'v3', 1, 3)] }));
    const late = await applyBatch(sql, target, makeBatch({ table: 'items_order', rows: [row(1, 'v2', 1, 2)] }));

    const [stored] = await sql`SELECT name, v FROM items_order WHERE id = 1`;
    expect(stored).toEqual({ name: 'v3', v: 3 });
    expect(late.counts.stale).toBe(1);
  });

  test('a version tie goes to the later arrival across batches, also when the later file is applied first', async () => {
    const target = await itemsTable('items_tie');
    const early = fileIdentity({ eventTime: '2026-01-01T00:00:00.000Z' });
    const later = fileIdentity({ eventTime: '2026-01-01T00:00:01.000Z' });

    await applyBatch(sql, target, makeBatch({ table: 'items_tie', rows: [row(1, 'later-file', 1, 7)] }, later));
    const redelivered = await applyBatch(sql, target, makeBatch({ table: 'items_tie', rows: [row(1, 'early-file', 1, 7)] }, early));

    const [stored] = await sql`SELECT name FROM items_tie WHERE id = 1`;
    expect(stored!.name).toBe('later-file');
    expect(redelivered.counts.stale).toBe(1);
  });

  test('"$arrival": within one batch the later row wins, across files the later file wins', async () => {
    await sql`CREATE TABLE arrivals (k text PRIMARY KEY, val text, _landfall_arrival text COLLATE "C")`;
    const target = await prepare(sql, { table: 'arrivals', conflictKey: ['k'] });
    const first = fileIdentity({ key: 'arrivals/a.csv', eventTime: '2026-02-01T00:00:00.000Z' });
    const second = fileIdentity({ key: 'arrivals/b.csv', eventTime: '2026-02-01T00:00:00.000Z' });

    await applyBatch(sql, target, makeBatch({ table: 'arrivals', rows: [{ k: 'x', val: 'b1' }, { k: 'x', val: 'b2' }] }, second));
    const older = await applyBatch(sql, target, makeBatch({ table: 'arrivals', rows: [{ k: 'x', val: 'a1' }, { k: 'y', val: 'a2' }] }, first));

    const rows = await sql`SELECT k, val FROM arrivals ORDER BY k`;
    expect(rows.map((r) => [r.k, r.val])).toEqual([
      ['x', 'b2'],
      ['y', 'a2'],
    ]);
    expect(older.counts).toMatchObject({ stale: 1, inserted: 1 });
  });

  test('"$arrival" without an arrival column: the later application wins', async () => {
    await sql`CREATE TABLE arrivals_plain (k text PRIMARY KEY, val text)`;
    const target = await prepare(sql, { table: 'arrivals_plain', conflictKey: ['k'] });

    await applyBatch(sql, target, makeBatch({ table: 'arrivals_plain', rows: [{ k: 'x', val: 'first' }] }));
    const second = await applyBatch(sql, target, makeBatch({ table: 'arrivals_plain', rows: [{ k: 'x', val: 'second' }] }));

    const [stored] = await sql`SELECT val FROM arrivals_plain`;
    expect(stored!.val).toBe('second');
    expect(second.counts.updated).toBe(1);
  });

  test('a tombstone older than the stored row deletes nothing (stale)', async () => {
    const target = await itemsTable('items_tomb');
    await sql`INSERT INTO items_tomb (id, name, qty, v) VALUES (1, 'kept', 1, 5)`;

    const result = await applyBatch(sql, target, makeBatch({ table: 'items_tomb', rows: [row(1, 'x', 1, 4, 'D')] }));

    expect(result.counts).toMatchObject({ stale: 1, deleted: 0 });
    expect(await sql`SELECT id FROM items_tomb`).toHaveLength(1);
  });
});

describe('insert mode (append-only)', () => {
  test('existing rows are never changed; new keys are inserted once', async () => {
    await sql`CREATE TABLE events (id text PRIMARY KEY, payload jsonb)`;
    const target = await prepare(sql, { table: 'events', conflictKey: ['id'], mode: 'insert' });
    await sql`INSERT INTO events VALUES ('e1', '{"a":1}')`;

    const result = await applyBatch(
      sql,
      target,
      makeBatch({ table: 'events', rows: [{ id: 'e1', payload: '{"a":2}' }, { id: 'e2', payload: '{"b":1}' }, { id: 'e2', payload: '{"b":2}' }, { id: 'e1', payload: '{"a": 1}' }] }),
    );

    const rows = await sql`SELECT id, payload FROM events ORDER BY id`;
    expect(rows.map((r) => [r.id, r.payload])).toEqual([
      ['e1', { a: 1 }],
      ['e2', { b: 1 }],
    ]);
    expect(result.counts).toMatchObject({ read: 4, collapsed: 2, inserted: 1, stale: 1, unchanged: 0 });
    expect(countsAddUp(result.counts)).toBe(true);
  });
});

describe('NULL keys', () => {
  test('a NULL in a nullable key without NULLS NOT DISTINCT is quarantined, never stored', async () => {
    await sql`CREATE TABLE nullable_key (a text, b text, val text, UNIQUE (a, b))`;
    const target = await prepare(sql, { table: 'nullable_key', conflictKey: ['a', 'b'] });
    const batch = makeBatch({ table: 'nullable_key', rows: [{ a: 'x', b: null, val: '1' }, { a: 'x', b: null, val: '2' }, { a: 'x', b: 'y', val: '3' }] });

    const result = await applyBatch(sql, target, batch);

    expect(result.counts).toMatchObject({ read: 3, inserted: 1, quarantined: 2 });
    expect(countsAddUp(result.counts)).toBe(true);
    const quarantined = await sql`SELECT row_number, sqlstate, column_name, row FROM landfall.quarantine WHERE batch_id = ${batch.batchId} ORDER BY row_number`;
    expect(quarantined.map((q) => [Number(q.row_number), q.sqlstate, q.column_name, q.row.val])).toEqual([
      [1, '23502', 'b', '1'],
      [2, '23502', 'b', '2'],
    ]);
  });

  test('quarantine retry keeps refusing a NULL-key row (it would be stored twice)', async () => {
    await sql`CREATE TABLE nullable_retry (a text, val text, UNIQUE (a))`;
    const target = await prepare(sql, { table: 'nullable_retry', conflictKey: ['a'] });
    await applyBatch(sql, target, makeBatch({ table: 'nullable_retry', rows: [{ a: null, val: '1' }] }));

    const result = await retryQuarantine(sql, async () => target, await listQuarantine(sql, { table: 'nullable_retry' }));

    expect(result).toEqual({ applied: 0, stillFailing: 1, resolvedElsewhere: 0 });
    expect(await sql`SELECT * FROM nullable_retry`).toEqual([]);
  });

  test('with NULLS NOT DISTINCT, NULL keys are one key', async () => {
    await sql`CREATE TABLE nnd_key (a text, b text, val text, UNIQUE NULLS NOT DISTINCT (a, b))`;
    const target = await prepare(sql, { table: 'nnd_key', conflictKey: ['a', 'b'] });

    await applyBatch(sql, target, makeBatch({ table: 'nnd_key', rows: [{ a: 'x', b: null, val: '1' }] }));
    const second = await applyBatch(sql, target, makeBatch({ table: 'nnd_key', rows: [{ a: 'x', b: null, val: '2' }, { a: 'x', b: null, val: '3' }] }));

    const rows = await sql`SELECT val FROM nnd_key`;
    expect(rows.map((r) => r.val)).toEqual(['3']);
    expect(second.counts).toMatchObject({ collapsed: 1, updated: 1 });
  });
});
