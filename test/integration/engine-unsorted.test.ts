import { describe, expect, test } from 'vitest';
import type { BatchData } from '../../shared/core/batch.ts';
import { applyBatch, claimBatch, upsertRows } from '../../shared/postgres/apply-batch.ts';
import { keysProvablyDistinct } from '../../shared/postgres/distinct-keys.ts';
import { replayBatch } from '../../shared/postgres/replay-batch.ts';
import { statementFor, type TargetTable } from '../../shared/postgres/target-table.ts';
import { batchOfColumns, fileIdentity, makeBatch } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';

const { sql } = await createTestDatabase();

/**
 * A batch whose keys are provably distinct (their canonical forms differ) takes the statement
 * without the reduction's sort (`CompiledUpsert.unsorted`). The oracle is the sorting statement:
 * the same batches applied to a twin table by `upsertRows` alone, and by replay, must leave the
 * same rows and the same counts.
 */
const COLUMNS = 'tenant int NOT NULL, sku text NOT NULL, name text, qty int, v int NOT NULL, _landfall_arrival text COLLATE "C", UNIQUE (tenant, sku)';

async function table(name: string, columns = COLUMNS, key = ['tenant', 'sku']): Promise<TargetTable> {
  await sql.unsafe(`CREATE TABLE ${name} (${columns})`);
  return prepare(sql, { table: name, conflictKey: key, version: 'v' });
}

const own = (target: TargetTable, batch: BatchData): BatchData => ({ ...batch, table: target.config.table, batchId: `${batch.batchId}-${target.config.table}` });

/** The batch through the sorting statement alone. */
async function sortedOnly(target: TargetTable, batch: BatchData) {
  const mine = own(target, batch);
  return sql.begin(async (tx) => {
    await claimBatch(tx, mine);
    return upsertRows(tx, target, mine, null);
  });
}

const contents = (name: string) => sql.unsafe(`SELECT tenant, sku, name, qty, v, _landfall_arrival AS arrival FROM ${name} ORDER BY tenant, sku`);

/** A deterministic pseudo-random sequence (mulberry32), so a failure repeats. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the statement without the reduction\'s sort', () => {
  test('GIVEN random batches, some with repeated keys (also spelled differently) WHEN applied THEN rows and counts equal the sorting statement and replay', async () => {
    const engine = await table('uns_engine');
    const sorted = await table('uns_sorted');
    const replayed = await table('uns_replayed');
    const next = random(26);
    let unsortedBatches = 0;
    for (let b = 0; b < 24; b++) {
      const size = 1 + Math.floor(next() * 60);
      // Every third batch repeats keys (sometimes as ' 7' for 7: one key to PostgreSQL and to the canonical form).
      const repeats = b % 3 === 2;
      const rows = Array.from({ length: size }, (_, i) => {
        const k = repeats ? Math.floor(next() * size * 0.6) : b * 7 + i * 13 + Math.floor(next() * 5) * 1000;
        const tenant = k % 5;
        return { tenant: repeats && next() < 0.3 ? ` ${tenant}` : String(tenant), sku: `sku-${k % 97}`, name: `n${Math.floor(next() * 3)}`, qty: next() < 0.2 ? null : String(Math.floor(next() * 9)), v: String(Math.floor(next() * 4)) };
      });
      const batch = makeBatch({ table: 'uns_engine', rows }, fileIdentity());
      const { plan } = statementFor(engine, batch.columns);
      if (keysProvablyDistinct(engine, plan, batch, null)) unsortedBatches++;

      const applied = await applyBatch(sql, engine, batch);
      const oracle = await sortedOnly(sorted, batch);
      const replay = await replayBatch(sql, replayed, own(replayed, batch));

      expect(applied.counts, `batch ${b}`).toEqual(oracle);
      expect(replay.counts, `batch ${b}`).toEqual(oracle);
      expect(await contents('uns_engine'), `batch ${b}`).toEqual(await contents('uns_sorted'));
      expect(await contents('uns_replayed'), `batch ${b}`).toEqual(await contents('uns_sorted'));
    }
    // Both forms ran.
    expect(unsortedBatches).toBeGreaterThan(8);
    expect(unsortedBatches).toBeLessThan(24);
  });

  test('GIVEN a table with merge rules and random batches WHEN applied THEN rows and counts equal the sorting statement and replay', async () => {
    const columns = 'id int PRIMARY KEY, name text, qty int, hi int, v int NOT NULL';
    const merge = { name: 'keep', qty: 'add', hi: 'max' } as const;
    const make = async (name: string) => {
      await sql.unsafe(`CREATE TABLE ${name} (${columns})`);
      return prepare(sql, { table: name, conflictKey: ['id'], version: 'v', merge });
    };
    const engine = await make('unsm_engine');
    const sorted = await make('unsm_sorted');
    const replayed = await make('unsm_replayed');
    const next = random(2626);
    let unsortedBatches = 0;
    for (let b = 0; b < 18; b++) {
      const size = 1 + Math.floor(next() * 40);
      const repeats = b % 3 === 2;
      const rows = Array.from({ length: size }, (_, i) => {
        const k = repeats ? Math.floor(next() * size * 0.6) : (b * 11 + i * 7) % 60;
        const maybe = (value: number) => (next() < 0.25 ? null : String(value));
        return { id: String(k), name: maybe(Math.floor(next() * 3)), qty: maybe(Math.floor(next() * 9) - 4), hi: maybe(Math.floor(next() * 50)), v: String(Math.floor(next() * 4)) };
      });
      const batch = makeBatch({ table: 'unsm_engine', rows }, fileIdentity());
      if (keysProvablyDistinct(engine, statementFor(engine, batch.columns).plan, batch, null)) unsortedBatches++;

      const applied = await applyBatch(sql, engine, batch);
      const oracle = await sortedOnly(sorted, batch);
      const replay = await replayBatch(sql, replayed, own(replayed, batch));

      expect(applied.counts, `batch ${b}`).toEqual(oracle);
      expect(replay.counts, `batch ${b}`).toEqual(oracle);
      const merged = (name: string) => sql.unsafe(`SELECT id, name, qty, hi, v FROM ${name} ORDER BY id`);
      expect(await merged('unsm_engine'), `batch ${b}`).toEqual(await merged('unsm_sorted'));
      expect(await merged('unsm_replayed'), `batch ${b}`).toEqual(await merged('unsm_sorted'));
    }
    expect(unsortedBatches).toBeGreaterThan(6);
  });

  test('GIVEN keys whose canonical forms differ but PostgreSQL holds equal (dates spelled two ways) WHEN applied THEN the batch is reduced as by the sorting statement', async () => {
    const columns = 'day date NOT NULL PRIMARY KEY, name text, v int NOT NULL';
    const engine = await table('uns_dates', columns, ['day']);
    const sorted = await table('uns_dates_sorted', columns, ['day']);
    const file = fileIdentity();
    // '2026-01-02' and 'January 2, 2026': one date; the canonical form keeps the second as written.
    const batch = batchOfColumns('uns_dates', file, ['day', 'name', 'v'], [['2026-01-02', 'January 2, 2026', '2026-01-03'], ['first', 'second', 'third'], ['1', '1', '1']]);
    const { plan } = statementFor(engine, batch.columns);
    expect(keysProvablyDistinct(engine, plan, batch, null)).toBe(true);

    const applied = await applyBatch(sql, engine, batch);

    expect(applied.counts).toEqual(await sortedOnly(sorted, batch));
    expect(applied.counts).toMatchObject({ read: 3, collapsed: 1, inserted: 2 });
    expect(await sql`SELECT day::text, name FROM uns_dates ORDER BY day`).toEqual([
      { day: '2026-01-02', name: 'second' },
      { day: '2026-01-03', name: 'third' },
    ]);
  });

  test('GIVEN a trigger that rewrites the key WHEN a batch of distinct keys meets it THEN the 21000 is raised as with the sorting statement, and nothing is committed', async () => {
    const engine = await table('uns_trigger', 'id int PRIMARY KEY, name text, v int NOT NULL', ['id']);
    await sql`CREATE FUNCTION uns_one_key() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.id := 1; RETURN NEW; END $$`;
    await sql`CREATE TRIGGER uns_one_key BEFORE INSERT ON uns_trigger FOR EACH ROW EXECUTE FUNCTION uns_one_key()`;
    await sql`INSERT INTO uns_trigger VALUES (1, 'stored', 0)`;
    const batch = makeBatch({ table: 'uns_trigger', rows: [{ id: '2', name: 'a', v: '1' }, { id: '3', name: 'b', v: '1' }] });

    await expect(applyBatch(sql, engine, batch)).rejects.toMatchObject({ code: '21000' });

    expect(await sql`SELECT count(*)::int AS n FROM landfall.batches WHERE batch_id = ${batch.batchId}`).toEqual([{ n: 0 }]);
    expect(await sql`SELECT id, name FROM uns_trigger`).toEqual([{ id: 1, name: 'stored' }]);
  });
});
