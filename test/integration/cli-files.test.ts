import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { forgetCommand } from '../../cli/commands/forget.ts';
import { rejectsExportCommand, rejectsLsCommand } from '../../cli/commands/rejects.ts';
import { statusCommand } from '../../cli/commands/status.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { dropFile, tableForFile, waitForFile } from '../../shared/local/run-files.ts';
import { captureIo } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';

const db = await createTestDatabase();
await db.sql`CREATE TABLE items (id int PRIMARY KEY, name text, v int NOT NULL)`;
const config = parseConfig({ tables: [{ table: 'items', prefix: 'items/', conflictKey: ['id'], version: 'v', partitions: 2 }] });
const t = await startTestStack(config, db.url);
const io = () => captureIo({ LANDFALL_HOME: join(t.dir, 'cli-home') });
const options = { databaseUrl: db.url };

describe('every file has a row in the ledger and in status', () => {
  test('an empty file is moved aside and registered by the consumer: status names the reason, where it is, and the fix', async () => {
    const receipt = await t.run(t.file('empty.csv', ''), 'items');
    expect(receipt).toMatchObject({ status: 'moved-aside', reasonCode: 'empty', movedTo: 's3://landfall-inbox/rejected/items/empty.csv', addsUp: false });
    expect(receipt.fix).toContain('drop the corrected file again');

    const list = io();
    expect(await statusCommand(undefined, options, list)).toBe(1);
    expect(list.out()).toMatch(/items\/empty\.csv\s+items\s+moved aside/);
    expect(list.out()).toMatch(/moved aside: items\/empty\.csv: empty file.*; now at s3:\/\/landfall-inbox\/rejected\/items\/empty\.csv/);

    const detail = io();
    expect(await statusCommand('items/empty.csv', options, detail)).toBe(1);
    expect(detail.out()).toMatch(/Reason\s+empty file/);
    expect(detail.out()).toMatch(/Now at\s+s3:\/\/landfall-inbox\/rejected\/items\/empty\.csv/);
    expect(detail.out()).toMatch(/Fix\s+the file has no data/);
  });

  test('a file with a header and no rows has no batch and is complete, with a receipt that adds up', async () => {
    const receipt = await t.run(t.file('header-only.csv', 'id,name,v\n'), 'items');
    expect(receipt).toMatchObject({ status: 'complete', batches: 0, read: 0, addsUp: true });
  });

  test('a file whose every row is rejected is complete; rejects ls shows each row with its line, reason and text', async () => {
    // Wrong numbers of fields: each row is its own counted reject (an unclosed quote would refuse the whole file).
    const receipt = await t.run(t.file('all-bad.csv', 'id,name,v\n1,too short\n2,far,too,many\n'), 'items');
    expect(receipt).toMatchObject({ status: 'complete', batches: 0, rejected: receipt.read, addsUp: true });
    expect(receipt.rejected).toBeGreaterThan(0);

    const ls = io();
    expect(await rejectsLsCommand('items/all-bad.csv', options, ls)).toBe(0);
    expect(ls.out()).toMatch(/items\/all-bad\.csv\s+items\s+1\s+2\s+\S/);
    expect(ls.out()).toContain('1,too short');

    const exported = io();
    await rejectsExportCommand('all-bad.csv', options, exported);
    const lines = exported.out().trim().split('\n').map((l) => JSON.parse(l) as { row: number; line: number; reason: string; raw: string });
    expect(lines).toHaveLength(receipt.rejected);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ row: 1, line: 2, raw: expect.stringContaining('too short') });
    expect(lines[0]!.reason.length).toBeGreaterThan(0);
  });

  test('rows rejected beside good ones are listed for their file only', async () => {
    const receipt = await t.run(t.file('some-bad.csv', 'id,name,v\n1,a,1\n2,b\n3,c,1\n'), 'items');
    expect(receipt).toMatchObject({ status: 'complete', read: 3, rejected: 1, inserted: 2, addsUp: true });
    const ls = io();
    await rejectsLsCommand('items/some-bad.csv', { ...options, json: true }, ls);
    expect((JSON.parse(ls.out()) as { rows: { file: string; row: number; line: number; raw: string }[] }).rows).toMatchObject([
      { file: 'items/some-bad.csv', row: 2, line: 3, raw: '2,b' },
    ]);
  });

  test('forget clears a failed attempt; it refuses a file whose rows are in the table', async () => {
    await t.run(t.file('empty-again.csv', ''), 'items');
    const forgot = io();
    expect(await forgetCommand('empty-again.csv', options, forgot)).toBe(0);
    expect(forgot.out()).toContain('forgot items/empty-again.csv');
    expect(await fileReceipts(db.sql, { key: 'items/empty-again.csv' })).toEqual([]);

    const refused = io();
    await expect(forgetCommand('items/some-bad.csv', options, refused)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('batches are applied') });
    expect(await fileReceipts(db.sql, { key: 'items/some-bad.csv' })).toHaveLength(1);
  });

  test('dropping the same bytes again under the same name says when they were loaded, and uploads nothing', async () => {
    const path = t.file('again.csv', 'id,name,v\n10,x,1\n11,y,1\n');
    const first = await t.run(path, 'items');
    expect(first).toMatchObject({ status: 'complete', inserted: 2 });

    const dropped = await dropFile(t.target, path, tableForFile(config, path, 'items'));
    const second = await waitForFile(t.target, dropped, { timeoutMs: 10_000 });
    expect(second).toMatchObject({ status: 'complete', fileId: first.fileId, alreadyLoaded: { as: 's3://landfall-inbox/items/again.csv', on: first.registeredAt } });
    expect(await fileReceipts(db.sql, { key: 'items/again.csv' })).toHaveLength(1);
  });
});
