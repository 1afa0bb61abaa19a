import { describe, expect, test } from 'vitest';
import { applyBatch } from '../../shared/postgres/apply-batch.ts';
import { countsAddUp } from '../../shared/core/batch.ts';
import { replayBatch } from '../../shared/postgres/replay-batch.ts';
import { makeBatch, ordersWithSixBadRows } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';

const { sql } = await createTestDatabase();

describe('replay resolves CardinalityViolation by applying rows one at a time', () => {
  test('a BEFORE INSERT trigger that upper-cases the key: the later row wins, nothing quarantined', async () => {
    await sql`CREATE TABLE codes (code text PRIMARY KEY, val text)`;
    await sql.unsafe(`CREATE FUNCTION codes_upper() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.code := upper(NEW.code); RETURN NEW; END $$`);
    await sql`CREATE TRIGGER upper_key BEFORE INSERT ON codes FOR EACH ROW EXECUTE FUNCTION codes_upper()`;
    const target = await prepare(sql, { table: 'codes', conflictKey: ['code'] });
    const batch = makeBatch({ table: 'codes', rows: [{ code: 'ab1', val: 'first' }, { code: 'AB1', val: 'second' }] });
    await expect(applyBatch(sql, target, batch)).rejects.toMatchObject({ code: '21000' });

    const result = await replayBatch(sql, target, batch);

    expect(await sql`SELECT code, val FROM codes`).toEqual([{ code: 'AB1', val: 'second' }]);
    expect(result.failures).toEqual([]);
    expect(result.counts).toMatchObject({ read: 2, inserted: 1, updated: 1, quarantined: 0 });
    expect(countsAddUp(result.counts)).toBe(true);
  });

  test('a second unique index under a nondeterministic collation: the later row wins', async () => {
    await sql`CREATE COLLATION IF NOT EXISTS ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`;
    await sql`CREATE TABLE ci_codes (code text PRIMARY KEY, val text, _landfall_arrival text COLLATE "C")`;
    await sql`CREATE UNIQUE INDEX ci_codes_ci ON ci_codes (code COLLATE ci)`;
    const target = await prepare(sql, { table: 'ci_codes', conflictKey: ['code'] });
    const batch = makeBatch({ table: 'ci_codes', rows: [{ code: 'ab1', val: 'first' }, { code: 'AB1', val: 'second' }] });

    const result = await replayBatch(sql, target, batch);

    // ON CONFLICT (code) takes both unique indexes on code as arbiters, so applied one at a time
    // the later row updates the row the earlier one inserted.
    expect(await sql`SELECT code, val FROM ci_codes`).toEqual([{ code: 'ab1', val: 'second' }]);
    expect(result.failures).toEqual([]);
    expect(result.counts).toMatchObject({ read: 2, inserted: 1, updated: 1, quarantined: 0 });
    expect(countsAddUp(result.counts)).toBe(true);
  });
});

describe('bad rows are pinned and quarantined; the rest lands', () => {
  test('1,000 rows with 3 bad dates, 2 NOT NULL violations and 1 FK violation: exactly those 6 are quarantined', async () => {
    await sql`CREATE TABLE customers (id int PRIMARY KEY)`;
    await sql`INSERT INTO customers SELECT generate_series(1, 10)`;
    await sql`CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, placed date NOT NULL, note text NOT NULL)`;
    const target = await prepare(sql, { table: 'orders', conflictKey: ['id'] });
    const rows = ordersWithSixBadRows('999');
    const batch = makeBatch({ table: 'orders', rows });
    await expect(applyBatch(sql, target, batch)).rejects.toMatchObject({ code: '22008' });

    const result = await replayBatch(sql, target, batch);

    expect(result.failures.map((f) => [batch.rowNumbers[f.row], f.sqlstate])).toEqual([
      [100, '22008'],
      [200, '23502'],
      [300, '23502'],
      [500, '22007'],
      [700, '23503'],
      [900, '22008'],
    ]);
    expect(result.counts).toMatchObject({ read: 1000, inserted: 994, quarantined: 6 });
    expect(countsAddUp(result.counts)).toBe(true);
    const [stored] = await sql`SELECT count(*)::int AS n FROM orders`;
    expect(stored!.n).toBe(994);
    const quarantined = await sql`SELECT row_number::int AS n, sqlstate, constraint_name, column_name, row FROM landfall.quarantine WHERE batch_id = ${batch.batchId} ORDER BY row_number`;
    expect(quarantined.map((q) => q.n)).toEqual([100, 200, 300, 500, 700, 900]);
    expect(quarantined.find((q) => q.n === 700)).toMatchObject({ constraint_name: 'orders_customer_id_fkey', row: { customer_id: '999' } });
    expect(quarantined.find((q) => q.n === 200)).toMatchObject({ column_name: 'note' });
    expect(quarantined.find((q) => q.n === 100)).toMatchObject({ column_name: 'placed' });
  });

  test('a lower(email) unique index: the later of two different entities is quarantined with the constraint', async () => {
    await sql`CREATE TABLE people (id int PRIMARY KEY, email text)`;
    await sql`CREATE UNIQUE INDEX people_email_lower ON people (lower(email))`;
    const target = await prepare(sql, { table: 'people', conflictKey: ['id'] });
    const batch = makeBatch({ table: 'people', rows: [{ id: '1', email: 'A@x' }, { id: '2', email: 'a@x' }] });

    const result = await replayBatch(sql, target, batch);

    expect(result.failures).toMatchObject([{ row: 1, sqlstate: '23505', constraint: 'people_email_lower' }]);
    expect(await sql`SELECT id, email FROM people`).toEqual([{ id: 1, email: 'A@x' }]);
  });

  test('replaying an applied batch commits nothing new', async () => {
    await sql`CREATE TABLE replay_once (id int PRIMARY KEY, n int)`;
    const target = await prepare(sql, { table: 'replay_once', conflictKey: ['id'] });
    const batch = makeBatch({ table: 'replay_once', rows: [{ id: '1', n: '1' }, { id: '2', n: 'x' }] });
    const first = await replayBatch(sql, target, batch);

    const second = await replayBatch(sql, target, batch);

    expect(second).toEqual({ status: 'already-applied', counts: first.counts, failures: [] });
    const [q] = await sql`SELECT count(*)::int AS n, max(attempts) AS attempts FROM landfall.quarantine WHERE batch_id = ${batch.batchId}`;
    expect(q).toEqual({ n: 1, attempts: 1 });
  });
});
