import { afterAll, describe, expect, test } from 'vitest';
import { statusCommand } from '../../cli/commands/status.ts';
import { startStatusPage } from '../../cli/status-page.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { manifestKeyOf } from '../../shared/core/keys.ts';
import { fileReceipts, registerFile } from '../../shared/postgres/ledger/files.ts';
import { makeBatch } from '../helpers/batches.ts';
import { captureIo } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';
import { manifestOf } from '../helpers/manifests.ts';

// Issue 25, item 2: states that tell the truth, in the receipts, `status` and the page's data.
const db = await createTestDatabase();
const { sql } = db;
await sql`CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric(12,2) CHECK (balance >= 0))`;
const config = parseConfig({ tables: [{ table: 'accounts', prefix: 'accounts/', conflictKey: ['id'], partitions: 2 }] });
const t = await startTestStack(config, db.url);

/** `status FILE --json`: its exit code and the file's receipt. */
async function statusOf(key: string) {
  const io = captureIo();
  const code = await statusCommand(key, { databaseUrl: db.url, json: true }, io);
  return { code, receipt: JSON.parse(io.out()).files[0] };
}

describe('a complete file says what it loaded', () => {
  test('every row loaded: `complete`, exit 0', async () => {
    const receipt = await t.run(t.file('clean.csv', 'id,owner,balance\n1,ann,10\n2,bob,20\n'), 'accounts');

    expect(receipt).toMatchObject({ status: 'complete', state: 'complete', loaded: 2, read: 2 });
    expect(await statusOf('accounts/clean.csv')).toMatchObject({ code: 0, receipt: { state: 'complete', loaded: 2 } });
  });

  test('a row rejected by the producer and one quarantined: `complete with rejects`, exit 1', async () => {
    const receipt = await t.run(t.file('some-bad.csv', 'id,owner,balance\n3,cy,30\n4,dee\n5,eve,-1\n6,fay,60\n'), 'accounts');

    expect(receipt).toMatchObject({ status: 'complete', state: 'complete with rejects', rejected: 1, quarantined: 1, addsUp: true });
    expect(receipt.loaded).toBe(receipt.read - 2);
    expect(await statusOf('accounts/some-bad.csv')).toMatchObject({ code: 1, receipt: { state: 'complete with rejects' } });
  });

  test('every row rejected (a Windows-1252 file, 3 of 3 rows invalid UTF-8): `complete, 0 loaded`, exit 1, and the table and summary say so', async () => {
    const latin1 = Buffer.concat([Buffer.from('id,owner,balance\n'), Buffer.from([0x37, 0x2c, 0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72, 0x2c, 0x31, 0x0a]), Buffer.from([0x38, 0x2c, 0x47, 0xe9, 0x72, 0x61, 0x72, 0x64, 0x2c, 0x32, 0x0a]), Buffer.from([0x39, 0x2c, 0xc5, 0x73, 0x61, 0x2c, 0x33, 0x0a])]);

    const receipt = await t.run(t.file('cp1252.csv', latin1), 'accounts');

    expect(receipt).toMatchObject({ status: 'complete', state: 'complete, 0 loaded', read: 3, rejected: 3, loaded: 0, addsUp: true });
    expect(await statusOf('accounts/cp1252.csv')).toMatchObject({ code: 1, receipt: { state: 'complete, 0 loaded', loaded: 0 } });
    const table = captureIo();
    expect(await statusCommand(undefined, { databaseUrl: db.url }, table)).toBe(1);
    expect(table.out()).toMatch(/^accounts\/cp1252\.csv\s+accounts\s+complete, 0 loaded\s/m);
    expect(table.out()).toContain('0 loaded: accounts/cp1252.csv: every row of it was rejected or quarantined (read 3)');
  });

  test('every row quarantined: `complete, 0 loaded`', async () => {
    const receipt = await t.run(t.file('all-negative.csv', 'id,owner,balance\n10,a,-1\n11,b,-2\n'), 'accounts');

    expect(receipt).toMatchObject({ status: 'complete', state: 'complete, 0 loaded', quarantined: 2, loaded: 0 });
  });

  test('a header and no row: `complete, 0 loaded`', async () => {
    const receipt = await t.run(t.file('header-only.csv', 'id,owner,balance\n'), 'accounts');

    expect(receipt).toMatchObject({ status: 'complete', state: 'complete, 0 loaded', read: 0, loaded: 0 });
  });
});

describe('a file is listed from the moment the producer picks it up', () => {
  test('GIVEN the opening notice only (its manifest not closed, no batch yet) THEN the file is listed `in progress` with its batch count unknown', async () => {
    const batch = makeBatch({ table: 'accounts', rows: [{ id: '50', owner: 'x', balance: '1' }] });

    await registerFile(sql, manifestOf(batch, { status: 'producing', batchCount: 0 }), manifestKeyOf('accounts', batch.fileId));

    const listed = await statusOf(batch.file.key);
    expect(listed).toMatchObject({ code: 0, receipt: { status: 'pending', state: 'in progress', batches: null, batchesApplied: 0, read: 0, addsUp: null } });
    const detail = captureIo();
    await statusCommand(batch.file.key, { databaseUrl: db.url }, detail);
    expect(detail.out()).toMatch(/Status\s+in progress, 0 of \? batches applied \(the producer is still reading it, or was stopped\)/);
  });
});

describe('the status page carries the state', () => {
  test('/api/files gives each file its state and loaded count, and shows and filters on the finer state', async () => {
    const page = await startStatusPage(sql);
    afterAll(() => page.close());

    const { files, states } = (await (await fetch(new URL('/api/files', page.url))).json()) as {
      files: { file: string; status: string; state: string; loaded: number }[];
      states: { state: string; count: number }[];
    };

    expect(files.find((f) => f.file === 'accounts/cp1252.csv')).toMatchObject({ state: 'complete, 0 loaded', loaded: 0 });
    expect(files.find((f) => f.file === 'accounts/some-bad.csv')).toMatchObject({ state: 'complete with rejects' });
    expect(files.find((f) => f.file === 'accounts/clean.csv')).toMatchObject({ state: 'complete', loaded: 2 });
    // The page's state column and filter use the finer state of a complete file.
    expect(files.find((f) => f.file === 'accounts/cp1252.csv')).toMatchObject({ status: 'complete, 0 loaded' });
    expect(states.map((s) => s.state)).toContain('complete, 0 loaded');
    const zero = (await (await fetch(new URL('/api/files?state=complete%2C%200%20loaded', page.url))).json()) as { files: { file: string }[] };
    expect(zero.files.map((f) => f.file)).toContain('accounts/cp1252.csv');
    expect(zero.files.map((f) => f.file)).not.toContain('accounts/clean.csv');
  });
});
