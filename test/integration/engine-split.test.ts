import { describe, expect, test } from 'vitest';
import type { BatchData } from '../../shared/core/batch.ts';
import { applyBatch, claimBatch, upsertRows } from '../../shared/postgres/apply-batch.ts';
import { replayBatch } from '../../shared/postgres/replay-batch.ts';
import { compileStoredKeyProbe } from '../../shared/postgres/stored-keys.ts';
import { statementFor, type TargetTable } from '../../shared/postgres/target-table.ts';
import { fileIdentity, makeBatch } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';

const { sql } = await createTestDatabase();

/**
 * A batch whose keys are half new, half stored goes in split: the new keys through COPY, the
 * stored ones through the upsert. The oracle is the upsert alone: the same batch applied to a
 * twin table by `upsertRows` only must leave the same rows and the same counts.
 */
async function twins(name: string, columns = 'id int PRIMARY KEY, name text, v int NOT NULL, _landfall_arrival text COLLATE "C"') {
  await sql.unsafe(`CREATE TABLE ${name} (${columns})`);
  await sql.unsafe(`CREATE TABLE ${name}_oracle (${columns})`);
  const config = { conflictKey: ['id'], version: 'v' };
  return { target: await prepare(sql, { table: name, ...config }), oracle: await prepare(sql, { table: `${name}_oracle`, ...config }) };
}

/** The same batch (same file, so the same arrivals) for the oracle table, under a batch id of its own. */
const oracleBatch = (oracle: TargetTable, batch: BatchData): BatchData => ({ ...batch, table: oracle.config.table, batchId: `${batch.batchId}-oracle` });

/** The batch through the upsert alone, on the oracle table. */
async function upsertOnly(oracle: TargetTable, batch: BatchData) {
  const own = oracleBatch(oracle, batch);
  return sql.begin(async (tx) => {
    await claimBatch(tx, own);
    return upsertRows(tx, oracle, own, null);
  });
}

const rowsOf = (table: string) => sql.unsafe(`SELECT id, name, v, _landfall_arrival AS arrival FROM ${table} ORDER BY id`);
const row = (id: number, name: string, v: number) => ({ id: String(id), name, v: String(v) });

/** Both tables loaded with the same stored rows (ids 0, 2, 4, … 18 at version 5), through the engine. */
async function storeEvenKeys(target: TargetTable, oracle: TargetTable) {
  const file = fileIdentity();
  const rows = Array.from({ length: 10 }, (_, i) => row(2 * i, `old ${2 * i}`, 5));
  await applyBatch(sql, target, makeBatch({ table: target.config.table, rows }, file));
  await applyBatch(sql, oracle, oracleBatch(oracle, makeBatch({ table: target.config.table, rows }, file)));
}

describe('the stored-key look-up', () => {
  test('compares keys as the upsert does: cast to the column type and under the key column collation', async () => {
    await sql`CREATE COLLATION IF NOT EXISTS split_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`;
    await sql`CREATE TABLE probe_keys (tenant numeric(4,1), code text COLLATE split_ci, name text, UNIQUE (tenant, code))`;
    const target = await prepare(sql, { table: 'probe_keys', conflictKey: ['tenant', 'code'] });
    const probe = compileStoredKeyProbe(statementFor(target, ['tenant', 'code', 'name']).plan)!;

    expect(probe.text).toContain('::numeric(4,1)');
    expect(probe.text).toContain('COLLATE "public"."split_ci"');
    expect(probe.keyInputs).toEqual([0, 1]);
  });

  test('a NULLS NOT DISTINCT key has no look-up (it would use no index)', async () => {
    await sql`CREATE TABLE probe_nulls (id int, name text, UNIQUE NULLS NOT DISTINCT (id))`;
    const target = await prepare(sql, { table: 'probe_nulls', conflictKey: ['id'] });

    expect(compileStoredKeyProbe(statementFor(target, ['id', 'name']).plan)).toBeNull();
  });
});

describe('a batch of new and stored keys goes in split, with the upsert\'s outcome', () => {
  test('GIVEN stored keys WHEN a batch has new, newer, identical, older and repeated rows THEN it splits, and rows and counts equal the upsert alone', async () => {
    const { target, oracle } = await twins('split_mixed');
    await storeEvenKeys(target, oracle);
    const file = fileIdentity();
    const rows = [
      row(0, 'newer', 6), // stored, newer: updated
      row(1, 'new one', 1), // new
      row(2, 'old 2', 5), // stored, identical: unchanged (same version, later arrival: equal values)
      row(3, 'new three', 1), // new
      row(4, 'older', 4), // stored, older: stale
      row(6, 'first of two', 7), // stored, twice in the batch: collapsed, the greater version wins
      row(6, 'second of two', 8),
      row(5, 'new five', 1), // new
    ];
    const batch = makeBatch({ table: 'split_mixed', rows }, file);

    const result = await applyBatch(sql, target, batch);
    const expected = await upsertOnly(oracle, makeBatch({ table: 'split_mixed', rows }, file));

    expect(result.path).toBe('split');
    expect(result.counts).toEqual(expected);
    expect(result.counts).toMatchObject({ read: 8, collapsed: 1, inserted: 3, updated: 2, unchanged: 1, stale: 1 });
    expect(await rowsOf('split_mixed')).toEqual(await rowsOf('split_mixed_oracle'));
  });

  test('GIVEN a tie on the version WHEN the later arrival brings other values THEN it wins on the stored side as under the upsert', async () => {
    const { target, oracle } = await twins('split_tie');
    await storeEvenKeys(target, oracle);
    const file = fileIdentity();
    const rows = [row(2, 'later arrival', 5), row(7, 'new', 1)];

    const result = await applyBatch(sql, target, makeBatch({ table: 'split_tie', rows }, file));
    await upsertOnly(oracle, makeBatch({ table: 'split_tie', rows }, file));

    expect(result).toMatchObject({ path: 'split', counts: { inserted: 1, updated: 1 } });
    expect(await rowsOf('split_tie')).toEqual(await rowsOf('split_tie_oracle'));
  });

  test('GIVEN a new key twice in the batch WHEN it is split THEN the refused COPY leaves nothing and the upsert takes every row', async () => {
    const { target, oracle } = await twins('split_repeat');
    await storeEvenKeys(target, oracle);
    const file = fileIdentity();
    const rows = [row(0, 'newer', 6), row(9, 'first', 1), row(9, 'second', 1)];

    const result = await applyBatch(sql, target, makeBatch({ table: 'split_repeat', rows }, file));
    const expected = await upsertOnly(oracle, makeBatch({ table: 'split_repeat', rows }, file));

    expect(result.path).toBe('upsert');
    expect(result.counts).toEqual(expected);
    expect(await rowsOf('split_repeat')).toEqual(await rowsOf('split_repeat_oracle'));
  });

  test('after a mixed batch the next one is split without a COPY first, and a batch of stored keys only takes the upsert', async () => {
    const { target, oracle } = await twins('split_stream');
    await storeEvenKeys(target, oracle);

    const mixed = await applyBatch(sql, target, makeBatch({ table: 'split_stream', rows: [row(0, 'a', 6), row(11, 'b', 1)] }));
    const again = await applyBatch(sql, target, makeBatch({ table: 'split_stream', rows: [row(2, 'c', 6), row(13, 'd', 1)] }));
    const storedOnly = await applyBatch(sql, target, makeBatch({ table: 'split_stream', rows: [row(4, 'e', 6), row(6, 'f', 6)] }));
    const newOnly = await applyBatch(sql, target, makeBatch({ table: 'split_stream', rows: [row(15, 'g', 1), row(17, 'h', 1)] }));

    expect([mixed.path, again.path, storedOnly.path, newOnly.path]).toEqual(['split', 'split', 'upsert', 'upsert']);
    expect(newOnly.counts).toMatchObject({ inserted: 2 });
    expect(await sql`SELECT count(*)::int AS n FROM split_stream`).toEqual([{ n: 10 + 2 + 2 }]);
  });
});

describe('exactly once, and replay, on the split path', () => {
  test('the split batch delivered again commits nothing and returns the first counts', async () => {
    const { target, oracle } = await twins('split_twice');
    await storeEvenKeys(target, oracle);
    const batch = makeBatch({ table: 'split_twice', rows: [row(0, 'newer', 6), row(1, 'new', 1)] });

    const first = await applyBatch(sql, target, batch);
    const before = await rowsOf('split_twice');
    const second = await applyBatch(sql, target, batch);

    expect(first.path).toBe('split');
    expect(second).toEqual({ status: 'already-applied', counts: first.counts });
    expect(await rowsOf('split_twice')).toEqual(before);
  });

  test('replay of the same batch (the upsert, row by row when it must) leaves the rows and counts of the split path', async () => {
    const { target, oracle } = await twins('split_replay');
    await storeEvenKeys(target, oracle);
    const file = fileIdentity();
    const rows = [row(0, 'newer', 6), row(1, 'new', 1), row(4, 'older', 4), row(2, 'old 2', 5), row(3, 'new', 1)];

    const split = await applyBatch(sql, target, makeBatch({ table: 'split_replay', rows }, file));
    const replayed = await replayBatch(sql, oracle, oracleBatch(oracle, makeBatch({ table: 'split_replay', rows }, file)));

    expect(split.path).toBe('split');
    expect(replayed.counts).toEqual(split.counts);
    expect(await rowsOf('split_replay')).toEqual(await rowsOf('split_replay_oracle'));
  });

  test('GIVEN a batch applied before whose rows were deleted since WHEN it comes again THEN its COPY would succeed, but it is already applied and writes nothing', async () => {
    await sql`CREATE TABLE fresh_again (id int PRIMARY KEY, name text)`;
    const target = await prepare(sql, { table: 'fresh_again', conflictKey: ['id'] });
    const batch = makeBatch({ table: 'fresh_again', rows: [{ id: '1', name: 'a' }, { id: '2', name: 'b' }] });
    const first = await applyBatch(sql, target, batch);
    await sql`DELETE FROM fresh_again`;

    const second = await applyBatch(sql, target, batch);

    expect(first).toMatchObject({ status: 'applied', path: 'copy' });
    expect(second).toEqual({ status: 'already-applied', counts: first.counts });
    expect(await sql`SELECT * FROM fresh_again`).toEqual([]);
    expect(await sql`SELECT applications FROM landfall.batches WHERE batch_id = ${batch.batchId}`).toEqual([{ applications: 1 }]);
  });
});

describe('a refused first COPY commits nothing of its attempt', () => {
  test('GIVEN a table whose first batch has one stored key WHEN COPY is refused THEN the batch is split in a new transaction, with exact counts and one application', async () => {
    const { target, oracle } = await twins('fresh_refused');
    await sql`INSERT INTO fresh_refused (id, name, v) VALUES (3, 'old', 1)`;
    await sql`INSERT INTO fresh_refused_oracle (id, name, v) VALUES (3, 'old', 1)`;
    const file = fileIdentity();
    const rows = [1, 2, 3, 4].map((id) => row(id, `n${id}`, 2));
    const batch = makeBatch({ table: 'fresh_refused', rows }, file);

    const result = await applyBatch(sql, target, batch);
    const expected = await upsertOnly(oracle, makeBatch({ table: 'fresh_refused', rows }, file));

    expect(result).toMatchObject({ status: 'applied', path: 'split', counts: { read: 4, inserted: 3, updated: 1 } });
    expect(result.counts).toEqual(expected);
    expect(await rowsOf('fresh_refused')).toEqual(await rowsOf('fresh_refused_oracle'));
    expect(await sql`SELECT applications FROM landfall.batches WHERE batch_id = ${batch.batchId}`).toEqual([{ applications: 1 }]);
  });
});

describe('the split keeps merge rules, absent keys and remembered deletes', () => {
  const MERGE_COLUMNS =
    'id int PRIMARY KEY, v int NOT NULL, hits bigint NOT NULL DEFAULT 0, first_seen text, peak int, title text DEFAULT \'untitled\', note text DEFAULT \'none\', _landfall_arrival text COLLATE "C"';
  const MERGE = { hits: 'add', first_seen: 'keep', peak: 'max', title: 'ignoreNull' } as const;
  const mergeRowsOf = (table: string) => sql.unsafe(`SELECT id, v, hits, first_seen, peak, title, note FROM ${table} ORDER BY id`);
  const merged = async (name: string) => {
    await sql.unsafe(`CREATE TABLE ${name} (${MERGE_COLUMNS})`);
    return prepare(sql, { table: name, conflictKey: ['id'], version: 'v', merge: { ...MERGE } });
  };
  const visit = (id: number, v: number, hits: string | null, first: string | null, peak: string | null, title: string | null, note: string | null) => ({
    id: String(id),
    v: String(v),
    hits,
    first_seen: first,
    peak,
    title,
    note,
  });
  /** Stored ids 0, 2, 4; then a batch of new and stored keys, NULLs under every rule, `note` absent in some rows. */
  const stored = [visit(0, 5, '10', 'mon', '7', 'home', 'n0'), visit(2, 5, '1', 'tue', '3', 'shop', 'n2'), visit(4, 5, '4', 'wed', '9', 'blog', 'n4')];
  const mixed = [
    visit(0, 6, '2', 'later', '5', null, null), // stored, newer: hits 12, first_seen kept, peak 7, title kept; note absent: kept
    visit(1, 1, null, 'thu', '4', null, null), // new: hits NULL takes the default 0, title NULL its default; note absent: default
    visit(2, 4, '3', 'x', '8', 'older', 'older note'), // stored, older: the add still counts (every applied row counts), max too
    visit(3, 1, '5', null, null, 'new page', 'n3'), // new, every value given
    visit(4, 5, null, null, null, null, null), // stored, same version: nothing given (note absent)
    visit(5, 2, '7', 'fri', '1', 'page', null), // new, note absent: default
  ];
  const withAbsentNotes = (batch: BatchData): BatchData => ({ ...batch, absent: { note: [0, 1, 4, 5] } });

  test('GIVEN merge rules and absent keys WHEN a batch of new and stored keys is split THEN rows and counts equal the upsert alone, and replay of it', async () => {
    const target = await merged('split_merge');
    const oracle = await merged('split_merge_oracle');
    const replayed = await merged('split_merge_replay');
    const first = fileIdentity();
    const file = fileIdentity();
    for (const t of [target, oracle, replayed]) await applyBatch(sql, t, { ...makeBatch({ table: t.config.table, rows: stored }, first), batchId: `${t.config.table}-stored` });
    const batchOf = (t: TargetTable) => ({ ...withAbsentNotes(makeBatch({ table: t.config.table, rows: mixed }, file)), batchId: `${t.config.table}-mixed` });

    const result = await applyBatch(sql, target, batchOf(target));
    const expected = await sql.begin(async (tx) => {
      const own = batchOf(oracle);
      await claimBatch(tx, own);
      return upsertRows(tx, oracle, own, null);
    });
    const replay = await replayBatch(sql, replayed, batchOf(replayed));

    expect(result.path).toBe('split');
    expect(result.counts).toEqual(expected);
    expect(replay.counts).toEqual(expected);
    const counts = result.counts;
    expect(counts.read).toBe(counts.collapsed + counts.inserted + counts.updated + counts.unchanged + counts.stale + counts.deleted + counts.quarantined);
    expect(counts).toMatchObject({ read: 6, inserted: 3 });
    expect(await mergeRowsOf('split_merge')).toEqual(await mergeRowsOf('split_merge_oracle'));
    expect(await mergeRowsOf('split_merge_replay')).toEqual(await mergeRowsOf('split_merge_oracle'));
    // The rules by hand, for the new keys the COPY wrote and the stored ones the upsert did.
    expect(await mergeRowsOf('split_merge')).toEqual([
      { id: 0, v: 6, hits: '12', first_seen: 'mon', peak: 7, title: 'home', note: 'n0' },
      { id: 1, v: 1, hits: '0', first_seen: 'thu', peak: 4, title: 'untitled', note: 'none' },
      { id: 2, v: 5, hits: '4', first_seen: 'tue', peak: 8, title: 'shop', note: 'n2' },
      { id: 3, v: 1, hits: '5', first_seen: null, peak: null, title: 'new page', note: 'n3' },
      { id: 4, v: 5, hits: '4', first_seen: 'wed', peak: 9, title: 'blog', note: 'n4' },
      { id: 5, v: 2, hits: '7', first_seen: 'fri', peak: 1, title: 'page', note: 'none' },
    ]);
  });

  test('GIVEN a remembered delete of a key WHEN a batch of new and stored keys brings an older row of it THEN it is stale (rule 6), never copied in', async () => {
    const columns = 'id int PRIMARY KEY, name text, v int NOT NULL, _landfall_arrival text COLLATE "C"';
    const config = { conflictKey: ['id'], version: 'v', delete: { column: '_op', equals: 'D' } };
    await sql.unsafe(`CREATE TABLE split_deletes (${columns})`);
    await sql.unsafe(`CREATE TABLE split_deletes_oracle (${columns})`);
    const target = await prepare(sql, { table: 'split_deletes', ...config });
    const oracle = await prepare(sql, { table: 'split_deletes_oracle', ...config });
    const op = (id: number, name: string | null, v: number, o: string | null) => ({ id: String(id), name, v: String(v), _op: o });
    const setup = [
      [op(0, 'a', 5, null), op(2, 'b', 5, null), op(9, 'gone', 5, null)],
      [op(9, null, 8, 'D')], // key 9 deleted at version 8: remembered
      [op(2, 'b', 5, null), op(20, 'new', 1, null)], // a mixed batch: the next one is guessed mixed too
    ];
    for (const rows of setup) {
      const file = fileIdentity();
      await applyBatch(sql, target, makeBatch({ table: 'split_deletes', rows }, file));
      await applyBatch(sql, oracle, oracleBatch(oracle, makeBatch({ table: 'split_deletes', rows }, file)));
    }
    const file = fileIdentity();
    const rows = [op(0, 'newer', 6, null), op(9, 'older than its delete', 7, null), op(11, 'new', 1, null), op(2, 'b', 5, null)];

    const result = await applyBatch(sql, target, makeBatch({ table: 'split_deletes', rows }, file));
    const expected = await upsertOnly(oracle, makeBatch({ table: 'split_deletes', rows }, file));

    expect(result.path).toBe('upsert');
    expect(result.counts).toEqual(expected);
    expect(result.counts).toMatchObject({ read: 4, inserted: 1, updated: 1, unchanged: 1, stale: 1 });
    expect(await rowsOf('split_deletes')).toEqual(await rowsOf('split_deletes_oracle'));
    expect(await sql`SELECT id FROM split_deletes WHERE id = 9`).toEqual([]);
  });
});
