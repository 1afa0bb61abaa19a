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
