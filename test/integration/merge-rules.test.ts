import { describe, expect, test } from 'vitest';
import { applyBatch, upsertRows } from '../../shared/postgres/apply-batch.ts';
import { type BatchCounts, countsAddUp } from '../../shared/core/batch.ts';
import { listQuarantine, retryQuarantine } from '../../shared/postgres/quarantine-retry.ts';
import { replayBatch } from '../../shared/postgres/replay-batch.ts';
import { prepareTable, type TargetTable } from '../../shared/postgres/target-table.ts';
import { fileIdentity, makeBatch } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { blockingReports, preflightTables } from '../../shared/tools/doctor/preflight.ts';
import { prepare, tableConfig } from '../helpers/engine.ts';

const { sql } = await createTestDatabase();

const RULES = { first_seen: 'keep', email: 'ignoreNull', balance: 'add', peak: 'max', low: 'min' };
const COLUMNS = ['id', 'seq', 'name', 'first_seen', 'email', 'balance', 'peak', 'low'] as const;
type Row = Partial<Record<(typeof COLUMNS)[number] | '_op', string | null>>;

/** docs/rules.md's `accounts` table, with the worked example's merge map (and optionally a delete rule). */
async function accounts(name: string, options: { deletes?: boolean } = {}): Promise<TargetTable> {
  await sql.unsafe(`CREATE TABLE ${name} (
    id int PRIMARY KEY, seq int NOT NULL, name text, first_seen date, email text,
    balance numeric(12,2) NOT NULL DEFAULT 0, peak int, low int, _landfall_arrival text COLLATE "C")`);
  return prepare(sql, { table: name, conflictKey: ['id'], version: 'seq', merge: RULES, ...(options.deletes ? { delete: { column: '_op', equals: 'D' } } : {}) });
}

/** Rows with every column of the table (NULL where not given), as a CSV file carries them. */
function rows(table: string, given: Row[], deletes = false) {
  const columns = [...COLUMNS, ...(deletes ? ['_op' as const] : [])];
  return makeBatch({ table, rows: given.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? null]))) });
}

async function storedRow(table: string, id: number) {
  const [row] = await sql.unsafe(`SELECT seq, name, to_char(first_seen, 'YYYY-MM-DD') AS first_seen, email, balance::text AS balance, peak, low FROM ${table} WHERE id = $1`, [id]);
  return row ? { ...row } : undefined;
}

function expectAddsUp(counts: BatchCounts) {
  expect(countsAddUp(counts), JSON.stringify(counts)).toBe(true);
}

const ANN = { id: '1', seq: '5', name: 'Ann', first_seen: '2026-01-03', email: 'ann@example.com', balance: '100.00', peak: '120', low: '80' };

describe('merge rules: docs/rules.md, the worked example', () => {
  test('one file, three rows of one key: each column by its rule, the older row adds its delta and gives the positional columns nothing', async () => {
    const target = await accounts('acc_example');
    await applyBatch(sql, target, rows('acc_example', [ANN]));

    const { counts } = await applyBatch(
      sql,
      target,
      rows('acc_example', [
        { id: '1', seq: '6', name: 'Anna', first_seen: '2026-02-01', email: null, balance: '10.50', peak: '130', low: '90' },
        { id: '1', seq: '4', name: 'Old', first_seen: '2025-12-01', email: 'old@example.com', balance: '-0.50', peak: '150', low: '70' },
        { id: '1', seq: '6', name: 'Anne', first_seen: null, email: null, balance: '0', peak: null, low: null },
      ]),
    );

    expect(await storedRow('acc_example', 1)).toEqual({ seq: 6, name: 'Anne', first_seen: '2026-01-03', email: 'ann@example.com', balance: '110.00', peak: 150, low: 70 });
    expect(counts).toMatchObject({ read: 3, collapsed: 2, updated: 1, unchanged: 0, stale: 0 });
    expectAddsUp(counts);
  });

  test('keep: a NULL stored value takes the first non-NULL of the rows that beat it, in winner order', async () => {
    const target = await accounts('acc_keep');
    await applyBatch(sql, target, rows('acc_keep', [{ ...ANN, first_seen: null }]));

    await applyBatch(
      sql,
      target,
      rows('acc_keep', [
        { id: '1', seq: '7', first_seen: '2026-02-05' },
        { id: '1', seq: '4', first_seen: '2025-12-01' },
        { id: '1', seq: '6', first_seen: '2026-02-01' },
      ]),
    );
    expect((await storedRow('acc_keep', 1))!.first_seen).toBe('2026-02-01');

    // Once set it stays, even against a newer row.
    await applyBatch(sql, target, rows('acc_keep', [{ id: '1', seq: '8', first_seen: '2026-03-01' }]));
    expect((await storedRow('acc_keep', 1))!.first_seen).toBe('2026-02-01');
  });

  test('ignoreNull: stored seq 5; rows seq 4 email=a and seq 6 email=NULL leave the stored email (the older row gives nothing)', async () => {
    const target = await accounts('acc_ignore');
    await applyBatch(sql, target, rows('acc_ignore', [ANN]));

    const first = await applyBatch(sql, target, rows('acc_ignore', [{ id: '1', seq: '4', email: 'a@example.com' }, { id: '1', seq: '6', email: null }]));
    expect((await storedRow('acc_ignore', 1))!.email).toBe('ann@example.com');
    expect(first.counts).toMatchObject({ read: 2, collapsed: 1, updated: 1 }); // seq moved to 6

    await applyBatch(sql, target, rows('acc_ignore', [{ id: '1', seq: '7', email: 'b@example.com' }, { id: '1', seq: '8', email: null }]));
    expect(await storedRow('acc_ignore', 1)).toMatchObject({ seq: 8, email: 'b@example.com' });

    // A NULL under ignoreNull (and NULL deltas and marks) change nothing: unchanged.
    const same = await applyBatch(sql, target, rows('acc_ignore', [{ id: '1', seq: '8', email: null }]));
    expect(same.counts).toMatchObject({ read: 1, unchanged: 1, updated: 0 });
    expect((await storedRow('acc_ignore', 1))!.email).toBe('b@example.com');
  });

  test('add: every applied row adds its delta once, whatever its version; a delta of 0 is unchanged, an older delta updated', async () => {
    const target = await accounts('acc_add');
    await applyBatch(sql, target, rows('acc_add', [{ ...ANN, seq: '6' }]));

    const zero = await applyBatch(sql, target, rows('acc_add', [{ ...ANN, seq: '6', balance: '0' }]));
    // The same values under the same seq, a delta of 0: nothing changes.
    expect(zero.counts).toMatchObject({ read: 1, unchanged: 1, updated: 0, stale: 0 });
    const older = await applyBatch(sql, target, rows('acc_add', [{ id: '1', seq: '3', name: 'Older', balance: '2.50' }]));
    expect(older.counts).toMatchObject({ read: 1, updated: 1, stale: 0 });
    expect(await storedRow('acc_add', 1)).toMatchObject({ seq: 6, name: 'Ann', balance: '102.50' });

    // An older row whose delta is 0 wrote nothing and lost: stale.
    const stale = await applyBatch(sql, target, rows('acc_add', [{ id: '1', seq: '2', name: 'Oldest', balance: '0' }]));
    expect(stale.counts).toMatchObject({ read: 1, stale: 1 });
  });

  test('max and min: a mark that does not move is unchanged; every row counts, whatever its version', async () => {
    const target = await accounts('acc_marks');
    await applyBatch(sql, target, rows('acc_marks', [ANN]));

    const flat = await applyBatch(sql, target, rows('acc_marks', [{ ...ANN, balance: null, peak: '110', low: '85' }]));
    expect(flat.counts).toMatchObject({ unchanged: 1 });
    await applyBatch(sql, target, rows('acc_marks', [{ ...ANN, seq: '1', balance: null, peak: '140', low: '10' }]));
    expect(await storedRow('acc_marks', 1)).toMatchObject({ seq: 5, peak: 140, low: 10 });
  });

  test('a new key in a fresh batch goes in through COPY with the same values the upsert writes', async () => {
    const copied = await accounts('acc_copy');
    const upserted = await accounts('acc_copy_twin');
    const given: Row[] = [
      { id: '1', seq: '1', name: 'A', first_seen: '2026-01-01', email: null, balance: '1.005', peak: '5', low: '5' },
      { id: '2', seq: '3', name: null, first_seen: null, email: 'b@example.com', balance: null, peak: null, low: '-1' },
    ];

    const viaCopy = await applyBatch(sql, copied, rows('acc_copy', given));
    const twin = rows('acc_copy_twin', given);
    await sql.begin(async (tx) => {
      await tx`INSERT INTO landfall.batches (batch_id, file_id, table_name, partition, chunk, status) VALUES (${twin.batchId}, ${twin.fileId}, 'acc_copy_twin', 0, 0, 'applied')`;
      await upsertRows(tx, upserted, twin, null);
    });

    expect(viaCopy.path).toBe('copy');
    const read = (t: string) => sql.unsafe(`SELECT id, seq, name, first_seen, email, balance, peak, low FROM ${t} ORDER BY id`);
    expect((await read('acc_copy')).map((r) => ({ ...r }))).toEqual((await read('acc_copy_twin')).map((r) => ({ ...r })));
  });
});

describe('merge rules and deletes', () => {
  test('a delete followed by newer rows in one batch re-creates the row from them: the counter starts again', async () => {
    const target = await accounts('acc_reset', { deletes: true });
    await applyBatch(sql, target, rows('acc_reset', [{ id: '2', seq: '3', name: 'Bo', first_seen: '2025-01-01', balance: '40.00', peak: '99' }], true));

    const { counts } = await applyBatch(
      sql,
      target,
      rows(
        'acc_reset',
        [
          { id: '2', seq: '2', balance: '1000' }, // older than the delete: wiped with the row
          { id: '2', seq: '4', _op: 'D' },
          { id: '2', seq: '5', name: 'Bo again', first_seen: '2026-05-01', balance: '5' },
        ],
        true,
      ),
    );

    expect(await storedRow('acc_reset', 2)).toEqual({ seq: 5, name: 'Bo again', first_seen: '2026-05-01', email: null, balance: '5.00', peak: null, low: null });
    expect(counts).toMatchObject({ read: 3, collapsed: 2, updated: 1 });
    expectAddsUp(counts);
  });

  test('a delta older than a remembered delete is stale, even after a newer row brought the key back; a newer one adds', async () => {
    const target = await accounts('acc_tomb', { deletes: true });
    await applyBatch(sql, target, rows('acc_tomb', [{ id: '2', seq: '3', balance: '40.00' }], true));
    const deleted = await applyBatch(sql, target, rows('acc_tomb', [{ id: '2', seq: '4', _op: 'D' }], true));
    expect(deleted.counts).toMatchObject({ deleted: 1 });

    const late = await applyBatch(sql, target, rows('acc_tomb', [{ id: '2', seq: '2', balance: '7' }], true));
    expect(late.counts).toMatchObject({ stale: 1 });
    expect(await storedRow('acc_tomb', 2)).toBeUndefined();

    const back = await applyBatch(sql, target, rows('acc_tomb', [{ id: '2', seq: '5', balance: '5' }], true));
    expect(back.counts).toMatchObject({ inserted: 1 });
    // Without the remembered delete this older delta would be added to the new row.
    const lateAgain = await applyBatch(sql, target, rows('acc_tomb', [{ id: '2', seq: '3', balance: '7' }], true));
    expect(lateAgain.counts).toMatchObject({ stale: 1 });
    const newer = await applyBatch(sql, target, rows('acc_tomb', [{ id: '2', seq: '1', balance: '1' }, { id: '2', seq: '6', balance: '2' }], true));
    expect(newer.counts).toMatchObject({ read: 2, collapsed: 1, updated: 1 });
    expect((await storedRow('acc_tomb', 2))!.balance).toBe('7.00');
  });

  test('a delete older than the stored row is stale and leaves the counter as it is', async () => {
    const target = await accounts('acc_late_delete', { deletes: true });
    await applyBatch(sql, target, rows('acc_late_delete', [{ id: '3', seq: '5', balance: '10' }], true));

    const { counts } = await applyBatch(sql, target, rows('acc_late_delete', [{ id: '3', seq: '4', _op: 'D' }, { id: '3', seq: '3', balance: '1' }], true));

    // The delete loses to the stored row; the older row's delta is still added (it was applied before the delete in winner order, and the delete changed nothing).
    expect((await storedRow('acc_late_delete', 3))!.balance).toBe('11.00');
    expect(counts).toMatchObject({ read: 2, collapsed: 1, updated: 1 });
  });
});

describe('merge rules: overflow, replay and quarantine retry', () => {
  test('an add that overflows the column fails the batch; replay quarantines that row naming the column, the rest applies; retry adds it once after the fix', async () => {
    await sql`CREATE TABLE hits (id int PRIMARY KEY, n int NOT NULL DEFAULT 0, _landfall_arrival text COLLATE "C")`;
    const target = await prepare(sql, { table: 'hits', conflictKey: ['id'], merge: { n: 'add' } });
    await applyBatch(sql, target, makeBatch({ table: 'hits', rows: [{ id: '1', n: '2000000000' }, { id: '2', n: '1' }] }));

    const batch = makeBatch({ table: 'hits', rows: [{ id: '1', n: '1' }, { id: '2', n: '5' }, { id: '1', n: '200000000' }, { id: '3', n: '7' }] });
    await expect(applyBatch(sql, target, batch)).rejects.toMatchObject({ code: '22003' });
    const replayed = await replayBatch(sql, target, batch);

    expect(replayed.failures).toEqual([expect.objectContaining({ row: 2, sqlstate: '22003', column: 'n' })]);
    expect(replayed.failures[0]!.message).toMatch(/^column "n" \("add"\): the stored value plus the row's delta does not fit integer/);
    expect((await sql`SELECT id, n FROM hits ORDER BY id`).map((r) => ({ ...r }))).toEqual([
      { id: 1, n: 2000000001 },
      { id: 2, n: 6 },
      { id: 3, n: 7 },
    ]);
    expectAddsUp(replayed.counts);

    // Redelivery and a second replay change nothing.
    expect((await applyBatch(sql, target, batch)).status).toBe('already-applied');
    expect((await replayBatch(sql, target, batch)).status).toBe('already-applied');

    await sql`ALTER TABLE hits ALTER COLUMN n TYPE bigint`;
    const fixed = await prepareTable(sql, tableConfig({ table: 'hits', conflictKey: ['id'], merge: { n: 'add' } }));
    const quarantined = await listQuarantine(sql, { table: 'hits' });
    expect(await retryQuarantine(sql, async () => fixed, quarantined)).toMatchObject({ applied: 1 });
    expect(await retryQuarantine(sql, async () => fixed, quarantined)).toMatchObject({ applied: 0, resolvedElsewhere: 1 });
    expect((await sql`SELECT n::text FROM hits WHERE id = 1`)[0]!.n).toBe('2200000001');
  });

  test('replay applies rows in winner order, so a bisected batch ends as the whole batch would (ignoreNull from an older row of the batch)', async () => {
    await sql`CREATE TABLE people (id int PRIMARY KEY, v int NOT NULL, email text, score int CHECK (score >= 0), _landfall_arrival text COLLATE "C")`;
    const target = await prepare(sql, { table: 'people', conflictKey: ['id'], version: 'v', merge: { email: 'ignoreNull' } });
    await applyBatch(sql, target, makeBatch({ table: 'people', rows: [{ id: '1', v: '1', email: 'old@x', score: '1' }] }));

    // In file order the newest row (v 4, NULL) comes first: bisected in file order, the v 3 row
    // would come after it and be stale; in winner order it is applied first and its email stays.
    const batch = makeBatch({
      table: 'people',
      rows: [
        { id: '1', v: '4', email: null, score: '1' },
        { id: '9', v: '1', email: null, score: '-1' },
        { id: '1', v: '3', email: 'new@x', score: '1' },
        { id: '2', v: '1', email: 'two@x', score: '2' },
      ],
    });
    await expect(applyBatch(sql, target, batch)).rejects.toMatchObject({ code: '23514' });
    const replayed = await replayBatch(sql, target, batch);

    expect(replayed.failures.map((f) => f.row)).toEqual([1]);
    expect((await sql`SELECT id, v, email FROM people ORDER BY id`).map((r) => ({ ...r }))).toEqual([
      { id: 1, v: 4, email: 'new@x' },
      { id: 2, v: 1, email: 'two@x' },
    ]);
  });
});

describe('merge rules on a partitioned table', () => {
  test('several rows of a key (the stored row read and locked) and a CHECK on the counter, through the partitions', async () => {
    await sql`CREATE TABLE ptab (region int NOT NULL, id int NOT NULL, seq int NOT NULL, first_seen date, n int NOT NULL DEFAULT 0 CHECK (n >= 0),
      _landfall_arrival text COLLATE "C", PRIMARY KEY (region, id)) PARTITION BY LIST (region)`;
    await sql`CREATE TABLE ptab_1 PARTITION OF ptab FOR VALUES IN (1)`;
    await sql`CREATE TABLE ptab_2 PARTITION OF ptab FOR VALUES IN (2)`;
    const target = await prepare(sql, { table: 'ptab', conflictKey: ['region', 'id'], version: 'seq', merge: { first_seen: 'keep', n: 'add' } });
    await applyBatch(sql, target, makeBatch({ table: 'ptab', rows: [{ region: '1', id: '1', seq: '1', first_seen: null, n: '5' }, { region: '2', id: '1', seq: '1', first_seen: '2026-01-01', n: '1' }] }));

    const { counts } = await applyBatch(
      sql,
      target,
      makeBatch({
        table: 'ptab',
        rows: [
          { region: '1', id: '1', seq: '3', first_seen: '2026-03-01', n: '-2' },
          { region: '1', id: '1', seq: '2', first_seen: '2026-02-01', n: '-1' },
          { region: '2', id: '1', seq: '2', first_seen: '2026-02-02', n: '4' },
          { region: '2', id: '2', seq: '1', first_seen: null, n: null },
        ],
      }),
    );

    expect(counts).toMatchObject({ read: 4, collapsed: 1, inserted: 1, updated: 2 });
    expect((await sql`SELECT region, id, seq, to_char(first_seen, 'YYYY-MM-DD') AS first_seen, n FROM ptab ORDER BY region, id`).map((r) => ({ ...r }))).toEqual([
      { region: 1, id: 1, seq: 3, first_seen: '2026-02-01', n: 2 },
      { region: 2, id: 1, seq: 2, first_seen: '2026-01-01', n: 5 },
      { region: 2, id: 2, seq: 1, first_seen: null, n: 0 },
    ]);
  });
});

describe('merge rules and constraints', () => {
  test('a CHECK on a balance sees the result, not the delta: a withdrawal that leaves it positive applies, one that would overdraw is quarantined', async () => {
    await sql`CREATE TABLE wallet (id int PRIMARY KEY, balance numeric(12,2) NOT NULL DEFAULT 0 CHECK (balance >= 0), peak int CHECK (peak >= 10))`;
    const target = await prepare(sql, { table: 'wallet', conflictKey: ['id'], merge: { balance: 'add', peak: 'max' } });
    await applyBatch(sql, target, makeBatch({ table: 'wallet', rows: [{ id: '1', balance: '10.00', peak: '50' }] }));

    const spent = await applyBatch(sql, target, makeBatch({ table: 'wallet', rows: [{ id: '1', balance: '-3.00', peak: '5' }, { id: '1', balance: '-2.00', peak: null }, { id: '2', balance: null, peak: '12' }] }));
    expect(spent.counts).toMatchObject({ read: 3, collapsed: 1, updated: 1, inserted: 1 });
    expect((await sql`SELECT id, balance::text, peak FROM wallet ORDER BY id`).map((r) => ({ ...r }))).toEqual([
      { id: 1, balance: '5.00', peak: 50 },
      { id: 2, balance: '0.00', peak: 12 },
    ]);

    const overdraw = makeBatch({ table: 'wallet', rows: [{ id: '1', balance: '-6.00', peak: null }, { id: '2', balance: '1.00', peak: null }] });
    await expect(applyBatch(sql, target, overdraw)).rejects.toMatchObject({ code: '23514' });
    const replayed = await replayBatch(sql, target, overdraw);
    expect(replayed.failures).toEqual([expect.objectContaining({ row: 0, sqlstate: '23514', constraint: 'wallet_balance_check' })]);
    expect((await sql`SELECT id, balance::text FROM wallet ORDER BY id`).map((r) => ({ ...r }))).toEqual([
      { id: 1, balance: '5.00' },
      { id: 2, balance: '1.00' },
    ]);
  });
});

describe('merge rules are checked at start-up', () => {
  test('add on a text column refuses the table with the reason', async () => {
    await sql`CREATE TABLE wrong (id int PRIMARY KEY, label text)`;
    await expect(prepare(sql, { table: 'wrong', conflictKey: ['id'], merge: { label: 'add' } })).rejects.toThrow(
      /"add" on column "label" of type text: "add" takes numeric, integer, float and interval columns only/,
    );
  });

  test('landfall run and dev refuse it before dropping anything (preflight), naming the column and the reason', async () => {
    await sql`CREATE TABLE wrong_preflight (id int PRIMARY KEY, label text, n int)`;
    const config = parseConfig({ tables: [{ table: 'wrong_preflight', conflictKey: ['id'], merge: { label: 'add', nn: 'max' } }] });

    const [report] = await preflightTables(sql, config);

    expect(blockingReports([report!])).toHaveLength(1);
    expect(report!.checks.find((c) => c.check === 'merge')).toMatchObject({
      severity: 'error',
      message: 'merge: "add" on column "label" of type text: "add" takes numeric, integer, float and interval columns only; merge: column "nn" does not exist (did you mean "n"?)',
    });
  });

  test('a file identity keeps deltas exactly once: the same file twice is one application', async () => {
    await sql`CREATE TABLE once (id int PRIMARY KEY, n numeric NOT NULL DEFAULT 0)`;
    const target = await prepare(sql, { table: 'once', conflictKey: ['id'], merge: { n: 'add' } });
    const file = fileIdentity();
    const batch = makeBatch({ table: 'once', rows: [{ id: '1', n: '0.1' }, { id: '1', n: '0.2' }] }, file);

    await Promise.all([applyBatch(sql, target, batch), applyBatch(sql, target, batch), applyBatch(sql, target, { ...batch })]);

    expect((await sql`SELECT n::text FROM once`)[0]!.n).toBe('0.3');
  });
});
