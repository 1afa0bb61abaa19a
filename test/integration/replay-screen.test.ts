import { describe, expect, test } from 'vitest';
import { countsAddUp } from '../../shared/core/batch.ts';
import { applyBatch, claimBatch } from '../../shared/postgres/apply-batch.ts';
import { replayBatch } from '../../shared/postgres/replay-batch.ts';
import { suspectRows } from '../../shared/postgres/screen-constraints.ts';
import { fileIdentity, makeBatch } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';

// Issue 19 item 4: a load with a few rows a CHECK constraint refuses poisons every batch, and
// replay bisected each one (about 25 times an ordinary apply per 10,000-row batch). Replay now
// screens the rows the table's own CHECK and NOT NULL rules would refuse, in one query, and
// applies them on their own; the verdict is still PostgreSQL's.
const { sql } = await createTestDatabase();

describe('the constraint screen', () => {
  test('names the rows a CHECK constraint or a NOT NULL column refuses, only for constraints on carried columns', async () => {
    await sql`CREATE TABLE screened (id int PRIMARY KEY, qty int CHECK (qty >= 0), lo int, hi int, note text NOT NULL, CHECK (lo <= hi))`;
    const target = await prepare(sql, { table: 'screened', conflictKey: ['id'] });
    // hi is not in the file: CHECK (lo <= hi) depends on stored values, so it is not screened.
    const batch = makeBatch({
      table: 'screened',
      rows: [
        { id: '1', qty: '5', lo: '9', note: 'a' },
        { id: '2', qty: '-1', lo: '1', note: 'b' },
        { id: '3', qty: null, lo: '1', note: 'c' },
        { id: '4', qty: '0', lo: '1', note: null },
        { id: '5', qty: '-7', lo: '1', note: null },
      ],
    });

    const suspects = await sql.begin((tx) => suspectRows(tx, target, batch, [0, 1, 2, 3, 4]));

    // A NULL qty passes CHECK (qty >= 0) (NULL is not false), as PostgreSQL decides.
    expect([...suspects].sort()).toEqual([1, 3, 4]);
  });

  test('a screen the database refuses (a domain whose own CHECK fails in the cast) finds nothing, and the transaction goes on', async () => {
    await sql`CREATE DOMAIN positive AS int CHECK (VALUE > 0)`;
    await sql`CREATE TABLE domained (id int PRIMARY KEY, n positive, m int, CHECK (n < m))`;
    const target = await prepare(sql, { table: 'domained', conflictKey: ['id'] });
    const batch = makeBatch({ table: 'domained', rows: [{ id: '1', n: '0', m: '-5' }] });

    const found = await sql.begin(async (tx) => {
      const suspects = await suspectRows(tx, target, batch, [0]);
      return { suspects: [...suspects], after: await tx`SELECT 1 AS ok` };
    });

    expect(found).toEqual({ suspects: [], after: [{ ok: 1 }] });
  });
});

describe('replay with the screen keeps the outcome of row-by-row application', () => {
  test('every refused row quarantined (an older one too: PostgreSQL checks the proposed row before the conflict), the rest applied in arrival order', async () => {
    await sql`CREATE TABLE stock (sku text PRIMARY KEY, qty int CHECK (qty >= 0), v int NOT NULL)`;
    const target = await prepare(sql, { table: 'stock', conflictKey: ['sku'], version: 'v' });
    await applyBatch(sql, target, makeBatch({ table: 'stock', rows: [{ sku: 'old', qty: '10', v: '5' }] }, fileIdentity()));
    const rows = [
      { sku: 'old', qty: '-1', v: '1' }, // older than the stored row, and refused all the same
      { sku: 'k', qty: '1', v: '1' },
      { sku: 'k', qty: '-2', v: '2' }, // refused: quarantined
      { sku: 'k', qty: '3', v: '2' }, // same version, later arrival: wins
      ...Array.from({ length: 40 }, (_, i) => ({ sku: `s${i}`, qty: i % 13 === 0 ? '-1' : String(i), v: '1' })),
    ];
    const batch = makeBatch({ table: 'stock', rows }, fileIdentity());
    await expect(applyBatch(sql, target, batch)).rejects.toMatchObject({ code: '23514' });

    const result = await replayBatch(sql, target, batch);

    const bad = rows.flatMap((r, i) => (r.qty.startsWith('-') ? [batch.rowNumbers[i]] : []));
    expect(result.failures.map((f) => [batch.rowNumbers[f.row], f.sqlstate])).toEqual(bad.map((n) => [n, '23514']));
    expect(await sql`SELECT qty, v FROM stock WHERE sku IN ('old', 'k') ORDER BY sku`).toEqual([
      { qty: 3, v: 2 },
      { qty: 10, v: 5 },
    ]);
    expect(result.counts).toMatchObject({ read: rows.length, quarantined: bad.length });
    expect(countsAddUp(result.counts)).toBe(true);
  });

  test('a row the screen cannot see (a constraint on a column the file lacks) is still found by bisection', async () => {
    await sql`CREATE TABLE ranges (id int PRIMARY KEY, lo int, hi int DEFAULT 10, CHECK (lo <= hi))`;
    const target = await prepare(sql, { table: 'ranges', conflictKey: ['id'] });
    const rows = Array.from({ length: 30 }, (_, i) => ({ id: String(i), lo: i === 17 ? '50' : String(i % 10) }));
    const batch = makeBatch({ table: 'ranges', rows }, fileIdentity());

    const result = await sql.begin(async (tx) => {
      await claimBatch(tx, batch);
      return suspectRows(tx, target, batch, rows.map((_, i) => i));
    });
    expect([...result]).toEqual([]);
    await sql`DELETE FROM landfall.batches WHERE batch_id = ${batch.batchId}`;

    const replayed = await replayBatch(sql, target, batch);

    expect(replayed.failures.map((f) => batch.rowNumbers[f.row])).toEqual([batch.rowNumbers[17]]);
    expect(await sql`SELECT count(*)::int AS n FROM ranges`).toEqual([{ n: 29 }]);
  });
});
