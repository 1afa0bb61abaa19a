import { beforeAll, expect, test } from 'vitest';
import { parseConfig } from '../../shared/core/config.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';

const db = await createTestDatabase();
const { sql } = db;
const config = parseConfig({
  tables: [{ table: 'quoted', prefix: 'quoted/', conflictKey: ['id'], version: 'ver', partitions: 4 }],
  batch: { maxRows: 3, maxBytes: 1024 * 1024 },
});

beforeAll(async () => {
  await sql`CREATE TABLE quoted (id int PRIMARY KEY, ver int NOT NULL, n int, ts timestamptz, d date, t text, _landfall_arrival text COLLATE "C")`;
});
const t = await startTestStack(config, db.url);

const header = 'id,ver,n,ts,d,t';
const line = (i: number) => `${i},1,${i * 10},2026-01-0${(i % 9) + 1}T00:00:00Z,2026-02-0${(i % 9) + 1},text ${i}`;

test('GIVEN 10 rows where row 3 opens a quote it never closes WHEN it runs THEN rows 1-2 land and each of the 8 lines from the quote on is a counted reject', async () => {
  const rows = Array.from({ length: 10 }, (_, i) => (i === 2 ? `3,1,30,2026-01-04T00:00:00Z,2026-02-04,"unterminated` : line(i + 1)));
  const body = `${header}\n${rows.join('\n')}\n`;

  const receipt = await t.run(t.file('quoted-unterminated.csv', body), 'quoted');

  // Every line the file holds is read: 2 rows, then lines 4-11 as one reject each.
  expect(receipt).toMatchObject({ status: 'complete', read: 10, rejected: 8, inserted: 2, addsUp: true });
  expect(await sql`SELECT id FROM quoted ORDER BY id`).toEqual([{ id: 1 }, { id: 2 }]);
  const rejects = await sql`SELECT row_number::int AS row, line::int AS line, reason FROM landfall.rejects WHERE file_id = ${receipt.fileId} ORDER BY row_number`;
  expect(rejects.map((r) => [r.row, r.line])).toEqual([3, 4, 5, 6, 7, 8, 9, 10].map((row) => [row, row + 1]));
  expect(rejects[0]!.reason).toMatch(/^line 4 \(row 3, field "t"\): a quoted field opens here and is never closed/);
});

test('GIVEN the same 10 rows with the quote closed two lines later WHEN it runs THEN it is one quoted field with newlines: 8 records, each counted', async () => {
  await sql`TRUNCATE quoted`;
  const rows = Array.from({ length: 10 }, (_, i) => line(i + 1));
  rows[2] = `3,1,30,2026-01-04T00:00:00Z,2026-02-04,"spans`;
  rows[4] = `three lines"`;
  const body = `${header}\n${rows.join('\n')}\n`;

  const receipt = await t.run(t.file('quoted-multiline.csv', body), 'quoted');

  // Lines 4-6 are row 3 (its last field holds line 5 whole and line 6); rows 4-8 are lines 7-11.
  expect(receipt).toMatchObject({ status: 'complete', read: 8, rejected: 0, inserted: 8, addsUp: true });
  const [three] = await sql`SELECT t FROM quoted WHERE id = 3`;
  expect(three!.t).toBe(`spans\n${line(4)}\nthree lines`);
});
