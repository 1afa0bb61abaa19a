import { describe, expect, test } from 'vitest';
import { applyBatch } from '../../shared/postgres/apply-batch.ts';
import { classifyPgError } from '../../shared/core/classify-pg-error.ts';
import { TableConfigError } from '../../shared/core/conflict-key.ts';
import { statementFor } from '../../shared/postgres/target-table.ts';
import { makeBatch } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';

const { sql } = await createTestDatabase();

/** Runs `fn` and returns what it threw (fails the test if it did not throw). */
async function thrown(fn: () => Promise<unknown>): Promise<Error & { code?: string; constraint_name?: string }> {
  try {
    await fn();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a failure, got none');
}

describe('reduction on cast values', () => {
  test("'1.0' and '1' reduce into one numeric key, no 21000", async () => {
    await sql`CREATE TABLE num_key (k numeric PRIMARY KEY, val text)`;
    const target = await prepare(sql, { table: 'num_key', conflictKey: ['k'] });

    const result = await applyBatch(sql, target, makeBatch({ table: 'num_key', rows: [{ k: '1.0', val: 'first' }, { k: '1', val: 'second' }] }));

    expect(result.counts).toMatchObject({ collapsed: 1, inserted: 1 });
    expect(await sql`SELECT val FROM num_key`).toEqual([{ val: 'second' }]);
  });

  test('2024-01-01T00:00:00Z and 2024-01-01 01:00:00+01 reduce into one timestamptz key', async () => {
    await sql`CREATE TABLE ts_key (at timestamptz PRIMARY KEY, val text)`;
    const target = await prepare(sql, { table: 'ts_key', conflictKey: ['at'] });

    const result = await applyBatch(
      sql,
      target,
      makeBatch({ table: 'ts_key', rows: [{ at: '2024-01-01T00:00:00Z', val: 'a' }, { at: '2024-01-01 01:00:00+01', val: 'b' }] }),
    );

    expect(result.counts).toMatchObject({ collapsed: 1, inserted: 1 });
    expect(await sql`SELECT val FROM ts_key`).toEqual([{ val: 'b' }]);
  });
});

describe('column types', () => {
  test('array columns take their array literals, one array per row', async () => {
    await sql`CREATE TABLE tagged (id int PRIMARY KEY, tags int[], labels text[])`;
    const target = await prepare(sql, { table: 'tagged', conflictKey: ['id'] });

    await applyBatch(sql, target, makeBatch({ table: 'tagged', rows: [{ id: '1', tags: '{1,2}', labels: '{"a b",c}' }, { id: '2', tags: '{}', labels: null }] }));

    expect(await sql`SELECT id, tags, labels FROM tagged ORDER BY id`).toEqual([
      { id: 1, tags: [1, 2], labels: ['a b', 'c'] },
      { id: 2, tags: [], labels: null },
    ]);
  });

  test('numeric(10,2) keys that round to one value reduce together, as the unique index sees them', async () => {
    await sql`CREATE TABLE rounded (k numeric(10,2) PRIMARY KEY, val text)`;
    const target = await prepare(sql, { table: 'rounded', conflictKey: ['k'] });

    const result = await applyBatch(sql, target, makeBatch({ table: 'rounded', rows: [{ k: '1.001', val: 'first' }, { k: '1.004', val: 'second' }] }));

    expect(result.counts).toMatchObject({ collapsed: 1, inserted: 1 });
    expect(await sql`SELECT k::text AS k, val FROM rounded`).toEqual([{ k: '1.00', val: 'second' }]);
  });
});

describe('what the reduction cannot see raises 21000, classified batch-poison', () => {
  test('a BEFORE INSERT trigger that upper-cases the key', async () => {
    await sql`CREATE TABLE trig_key (code text PRIMARY KEY, val text)`;
    await sql.unsafe(`CREATE FUNCTION trig_key_upper() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN NEW.code := upper(NEW.code); RETURN NEW; END $$`);
    await sql`CREATE TRIGGER upper_key BEFORE INSERT ON trig_key FOR EACH ROW EXECUTE FUNCTION trig_key_upper()`;
    const target = await prepare(sql, { table: 'trig_key', conflictKey: ['code'] });

    const error = await thrown(() => applyBatch(sql, target, makeBatch({ table: 'trig_key', rows: [{ code: 'ab1', val: 'x' }, { code: 'AB1', val: 'y' }] })));

    expect(error.code).toBe('21000');
    expect(classifyPgError(error)).toBe('batch-poison');
  });

  test('a second unique index under a case-insensitive nondeterministic collation', async () => {
    await sql`CREATE COLLATION IF NOT EXISTS ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`;
    await sql`CREATE TABLE coll_key (code text PRIMARY KEY, val text)`;
    await sql`CREATE UNIQUE INDEX coll_key_ci ON coll_key (code COLLATE ci)`;
    const target = await prepare(sql, { table: 'coll_key', conflictKey: ['code'] });

    const error = await thrown(() => applyBatch(sql, target, makeBatch({ table: 'coll_key', rows: [{ code: 'ab1', val: 'x' }, { code: 'AB1', val: 'y' }] })));

    expect(error.code).toBe('21000');
    expect(classifyPgError(error)).toBe('batch-poison');
  });

  test('a lower(email) expression index gives 23505 instead, also batch-poison, with the constraint named', async () => {
    await sql`CREATE TABLE users (id int PRIMARY KEY, email text)`;
    await sql`CREATE UNIQUE INDEX users_email_lower ON users (lower(email))`;
    const target = await prepare(sql, { table: 'users', conflictKey: ['id'] });

    const error = await thrown(() => applyBatch(sql, target, makeBatch({ table: 'users', rows: [{ id: '1', email: 'A@x' }, { id: '2', email: 'a@x' }] })));

    expect(error.code).toBe('23505');
    expect(error.constraint_name).toBe('users_email_lower');
    expect(classifyPgError(error)).toBe('batch-poison');
  });

  test('a value too long for varchar(5) is an error (22001), never silently truncated', async () => {
    await sql`CREATE TABLE short_text (id int PRIMARY KEY, code varchar(5), amount numeric(6,2))`;
    const target = await prepare(sql, { table: 'short_text', conflictKey: ['id'] });

    const error = await thrown(() => applyBatch(sql, target, makeBatch({ table: 'short_text', rows: [{ id: '1', code: 'abcdefgh', amount: '1' }] })));

    expect(error.code).toBe('22001');
    expect(classifyPgError(error)).toBe('batch-poison');
  });

  test('a failed batch leaves no trace: no rows, no ledger claim', async () => {
    await sql`CREATE TABLE rollback_t (id int PRIMARY KEY, n int)`;
    const target = await prepare(sql, { table: 'rollback_t', conflictKey: ['id'] });
    const batch = makeBatch({ table: 'rollback_t', rows: [{ id: '1', n: '1' }, { id: '2', n: 'not a number' }] });

    const error = await thrown(() => applyBatch(sql, target, batch));

    expect(error.code).toBe('22P02');
    expect(await sql`SELECT * FROM rollback_t`).toHaveLength(0);
    expect(await sql`SELECT * FROM landfall.batches WHERE batch_id = ${batch.batchId}`).toHaveLength(0);
  });
});

describe('exactly-once', () => {
  const rows = Array.from({ length: 500 }, (_, i) => ({ id: String(i), balance: String(i * 10) }));

  test('the same batch applied twice commits once; the second gets the first counts', async () => {
    await sql`CREATE TABLE balances_seq (id int PRIMARY KEY, balance numeric)`;
    const target = await prepare(sql, { table: 'balances_seq', conflictKey: ['id'] });
    const batch = makeBatch({ table: 'balances_seq', rows });

    const first = await applyBatch(sql, target, batch);
    const second = await applyBatch(sql, target, batch);

    expect(first.status).toBe('applied');
    expect(second).toEqual({ status: 'already-applied', counts: first.counts });
    const [ledger] = await sql`SELECT applications FROM landfall.batches WHERE batch_id = ${batch.batchId}`;
    expect(ledger!.applications).toBe(1);
  });

  test('8 concurrent applications of one batch: one commit, identical table, one application in the ledger', async () => {
    await sql`CREATE TABLE balances_conc (id int PRIMARY KEY, balance numeric)`;
    const target = await prepare(sql, { table: 'balances_conc', conflictKey: ['id'] });
    const batch = makeBatch({ table: 'balances_conc', rows });

    const results = await Promise.all(Array.from({ length: 8 }, () => applyBatch(sql, target, batch)));

    expect(results.filter((r) => r.status === 'applied')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'already-applied')).toHaveLength(7);
    expect(new Set(results.map((r) => JSON.stringify(r.counts))).size).toBe(1);
    const [table] = await sql`SELECT count(*)::int AS n, sum(balance)::text AS total FROM balances_conc`;
    expect(table).toEqual({ n: 500, total: String(rows.reduce((s, r) => s + Number(r.balance), 0)) });
    const [ledger] = await sql`SELECT applications, inserted FROM landfall.batches WHERE batch_id = ${batch.batchId}`;
    expect(ledger).toEqual({ applications: 1, inserted: 500 });
  });
});

describe('size and proxy safety', () => {
  test('a 100,000-row batch applies in one call through prepare: false, with SQL text under 16 KB', async () => {
    await sql`CREATE TABLE big (tenant_id int, sku text, qty int, price numeric(12,2), attrs jsonb, updated_at timestamptz, PRIMARY KEY (tenant_id, sku))`;
    const target = await prepare(sql, { table: 'big', conflictKey: ['tenant_id', 'sku'], version: 'updated_at' });
    const n = 100_000;
    const batch = makeBatch({
      table: 'big',
      rows: Array.from({ length: n }, (_, i) => ({
        tenant_id: String(i % 7),
        sku: `sku-${i}`,
        qty: String(i),
        price: '9.99',
        attrs: `{"i":${i}}`,
        updated_at: '2026-01-01T00:00:00Z',
      })),
    });

    const result = await applyBatch(sql, target, batch);

    expect(result.counts.inserted).toBe(n);
    expect(statementFor(target, batch.columns).compiled.text.length).toBeLessThan(16 * 1024);
    const [count] = await sql`SELECT count(*)::int AS n FROM big`;
    expect(count!.n).toBe(n);
  });
});

describe('injection', () => {
  const evil = `x"; drop table t; --`;

  test('values that look like SQL are stored as data', async () => {
    await sql`CREATE TABLE t (id text PRIMARY KEY, note text)`;
    const target = await prepare(sql, { table: 't', conflictKey: ['id'] });

    await applyBatch(sql, target, makeBatch({ table: 't', rows: [{ id: evil, note: `'); DROP TABLE t; --` }, { id: 'NULL', note: '{"a",}' }] }));

    const rows = await sql`SELECT id, note FROM t ORDER BY id`;
    expect(rows.map((r) => [r.id, r.note])).toEqual([
      ['NULL', '{"a",}'],
      [evil, `'); DROP TABLE t; --`],
    ]);
  });

  test('a header that names no column is a clear error naming it, never SQL', async () => {
    await sql`CREATE TABLE t2 (id text PRIMARY KEY, note text)`;
    const target = await prepare(sql, { table: 't2', conflictKey: ['id'] });

    const error = await thrown(() => applyBatch(sql, target, makeBatch({ table: 't2', rows: [{ id: '1', [evil]: 'v' }] })));

    expect(error.name).toBe('BatchShapeError');
    expect(error.message).toContain(`column "${evil}" does not exist`);
    expect(await sql`SELECT to_regclass('t2') IS NOT NULL AS present`).toEqual([{ present: true }]);
  });

  test('a column whose real name needs quoting is written correctly', async () => {
    await sql.unsafe(`CREATE TABLE "odd ""names""" ("the id" text PRIMARY KEY, "${evil.replaceAll('"', '""')}" text)`);
    const target = await prepare(sql, { table: '"odd ""names"""', conflictKey: ['the id'] });

    await applyBatch(sql, target, makeBatch({ table: '"odd ""names"""', rows: [{ 'the id': '1', [evil]: 'v' }] }));

    const rows = await sql.unsafe(`SELECT * FROM "odd ""names"""`);
    expect(rows).toEqual([{ 'the id': '1', [evil]: 'v' }]);
  });
});

describe('start-up refusal', () => {
  test('a conflict key with no matching unique index is refused with the CREATE UNIQUE INDEX fix', async () => {
    await sql`CREATE TABLE no_index (tenant_id int, sku text, qty int)`;
    await sql`CREATE UNIQUE INDEX no_index_partial ON no_index (tenant_id, sku) WHERE qty > 0`;

    const error = await thrown(() => prepare(sql, { table: 'no_index', conflictKey: ['tenant_id', 'sku'] }));

    expect(error).toBeInstanceOf(TableConfigError);
    expect(error.message).toContain('"no_index_partial" is partial');
    expect((error as TableConfigError).fix).toContain('CREATE UNIQUE INDEX CONCURRENTLY "no_index_tenant_id_sku_key" ON "public"."no_index" ("tenant_id", "sku")');
    expect((error as TableConfigError).fix).toContain('landfall dedupe no_index --key tenant_id,sku');
  });

  test('a key that is only part of a unique index is refused', async () => {
    await sql`CREATE TABLE wider (a int, b int, UNIQUE (a, b))`;

    const error = await thrown(() => prepare(sql, { table: 'wider', conflictKey: ['a'] }));

    expect(error.message).toMatch(/no unique index or constraint matches conflictKey \(a\).*is on \(a, b\)/s);
  });
});
