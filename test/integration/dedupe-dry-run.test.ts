import { expect, test } from 'vitest';
import { dedupeCommand } from '../../cli/commands/dedupe.ts';
import type { CliIo } from '../../cli/context.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { duplicateRows, insertRows } from '../helpers/duplicates.ts';

const db = await createTestDatabase();

function captureIo(): CliIo & { out: () => string } {
  let out = '';
  return { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true }, env: {}, out: () => out };
}

const fingerprint = async () => {
  const [row] = await db.sql`
    SELECT count(*)::int AS rows, md5(string_agg(t::text, '|' ORDER BY t.id)) AS checksum,
           md5(string_agg(t.ctid::text, '|' ORDER BY t.id)) AS placement FROM items t`;
  return row;
};

test('--dry-run reports groups, rows to remove and a sample, and changes nothing', async () => {
  // GIVEN 300 keys stored 2–5 times and 100 unique ones
  await db.sql`CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sku text NOT NULL, region text, version int4, payload text NOT NULL)`;
  const rows = duplicateRows(3, 300, 100, [2, 5]);
  await insertRows(db.sql, 'items', rows);
  const before = await fingerprint();
  const io = captureIo();

  // WHEN
  const code = await dedupeCommand('items', { key: ['sku', 'region'], keep: 'version:version', dryRun: true, json: true, sample: 3, sql: db.sql }, io);

  // THEN the report counts what a run would remove, and the table, its row placement and the schema are untouched
  expect(code).toBe(0);
  const report = JSON.parse(io.out());
  expect(report).toMatchObject({ dryRun: true, groups: 300, wouldRemove: rows.length - 400, nullsNotDistinct: true, keep: 'newest:version' });
  expect(new Set(report.sample.map((s: { key: string[] }) => s.key.join('/'))).size).toBe(3);
  expect(report.sample.filter((s: { winner: boolean }) => s.winner).length).toBe(3);
  expect(await fingerprint()).toEqual(before);
  const [schema] = await db.sql`SELECT to_regnamespace('landfall_backup') AS oid`;
  expect(schema!.oid).toBeNull();
  const indexes = await db.sql`SELECT indexrelid FROM pg_index WHERE indrelid = 'items'::regclass AND NOT indisprimary`;
  expect(indexes.length).toBe(0);
});

test('the human-readable dry run names the counts and says nothing changed', async () => {
  const io = captureIo();
  expect(await dedupeCommand('items', { key: ['sku', 'region'], keep: 'version:version', dryRun: true, sample: 1, sql: db.sql }, io)).toBe(0);
  expect(io.out()).toMatch(/duplicate groups\s+300\n/);
  expect(io.out()).toMatch(/keep \(1 of \d+\)/);
  expect(io.out()).toContain('Nothing was changed.');
});

test('a key the primary key already makes unique: the dry run and the run name the index they found (m1_pkey), not one they would have created', async () => {
  // GIVEN the case: a table whose composite primary key is the dedupe key
  await db.sql`CREATE TABLE m1 (k_int int, k_num numeric, k_ts timestamptz, k_uuid uuid, v text, PRIMARY KEY (k_int, k_num, k_ts, k_uuid))`;
  await db.sql`INSERT INTO m1 VALUES (1, 1.5, '2026-01-01T00:00:00Z', '00000000-0000-0000-0000-000000000001', 'a')`;
  const key = ['k_int', 'k_num', 'k_ts', 'k_uuid'];

  const dry = captureIo();
  expect(await dedupeCommand('m1', { key, keep: 'any', dryRun: true, sql: db.sql }, dry)).toBe(0);
  const run = captureIo();
  expect(await dedupeCommand('m1', { key, keep: 'any', sql: db.sql }, run)).toBe(0);
  const json = captureIo();
  await dedupeCommand('m1', { key, keep: 'any', json: true, sql: db.sql }, json);

  // THEN both name "m1_pkey", and no other index was made
  expect(dry.out()).toContain('-- the unique index "m1_pkey" already makes (k_int, k_num, k_ts, k_uuid) unique: nothing to create');
  expect(run.out()).toMatch(/unique index\s+"m1_pkey" already there/);
  expect(run.out()).not.toContain('m1_k_int_k_num_k_ts_k_uuid_key');
  expect(JSON.parse(json.out())).toMatchObject({ indexName: 'm1_pkey', indexCreated: false });
  expect(await db.sql`SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'm1'::regclass`).toEqual([{ name: 'm1_pkey' }]);
});
