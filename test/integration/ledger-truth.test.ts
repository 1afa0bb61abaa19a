import { describe, expect, test } from 'vitest';
import { forgetCommand } from '../../cli/commands/forget.ts';
import { statusCommand } from '../../cli/commands/status.ts';
import type { FileManifest } from '../../shared/core/batch-message.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { manifestKeyOf } from '../../shared/core/keys.ts';
import { applyBatch } from '../../shared/postgres/apply-batch.ts';
import { fileReceipts, registerFile } from '../../shared/postgres/ledger/files.ts';
import { fileIdOf } from '../../shared/core/batch.ts';
import { dropFile, expectedEtagOf, tableForFile, waitForFile } from '../../shared/local/run-files.ts';
import { fileIdentity, makeBatch } from '../helpers/batches.ts';
import { captureIo } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';
import { startTestStack } from '../helpers/local-stack.ts';
import { manifestOf } from '../helpers/manifests.ts';
import { csvOf } from '../helpers/producer-files.ts';

const db = await createTestDatabase();
const { sql } = db;
await sql`CREATE TABLE big (id int PRIMARY KEY, name text)`;
const big = await prepare(sql, { table: 'big', conflictKey: ['id'] });

/** The manifest a producer whose config lacks the file's table writes: moved aside as no-table. */
function noTableManifest(of: FileManifest): FileManifest {
  const movedTo = { bucket: of.file.bucket, key: `rejected/${of.file.key}` };
  return { ...of, table: '', status: 'moved-aside', batchCount: 0, read: 0, rejected: 0, batches: [], columns: [], reason: { code: 'no-table', message: 'key is under no configured table prefix ("other/")', movedTo, line: null, field: null } };
}

const rowsOf = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ id: String(from + i), name: `n${from + i}` }));

describe('a file moved aside after some of its batches were applied (a restart whose config lacked its table)', () => {
  test('GIVEN batch 1 of 2 applied and a no-table move-aside WHEN status, --check and forget look THEN it is in progress, never "not read", the check names the repair, forget undoes the move-aside, and the file completes when produced', async () => {
    const file = fileIdentity({ key: 'big/interrupted.csv' });
    const first = makeBatch({ table: 'big', rows: rowsOf(1, 5) }, file);
    const second = makeBatch({ table: 'big', rows: rowsOf(6, 5), chunk: 1, firstRow: 6 }, file);
    const key = manifestKeyOf('big', first.fileId);
    await registerFile(sql, manifestOf(first, { status: 'producing', batchCount: 0 }), key);
    await applyBatch(sql, big, first);

    await registerFile(sql, noTableManifest(manifestOf(first)), manifestKeyOf('$unrouted', first.fileId));

    const [receipt] = await fileReceipts(sql, { fileIds: [first.fileId] });
    expect(receipt).toMatchObject({ status: 'pending', state: 'in progress', table: 'big', batches: null, batchesApplied: 1, read: 5, inserted: 5, reasonCode: 'no-table' });
    expect(receipt!.reason).toMatch(/^moved aside after 1 of its batches were applied: key is under no configured table prefix/);
    const detail = captureIo();
    await statusCommand('big/interrupted.csv', { databaseUrl: db.url }, detail);
    expect(detail.out()).not.toContain('not read');
    expect(detail.out()).toMatch(/Status\s+in progress, 1 of \? batches applied/);
    expect(detail.out()).toMatch(/Fix\s+drop it again to finish it \(landfall run --force FILE, from s3:\/\/inbox\/rejected\/big\/interrupted\.csv\)/);

    const check = captureIo();
    expect(await statusCommand(undefined, { databaseUrl: db.url, check: true }, check)).toBe(1);
    expect(check.out()).toContain('moved-aside-but-applied: big/interrupted.csv (big): recorded as moved aside (no-table), yet 1 of its batches are applied');
    expect(check.out()).toContain('repair: landfall status --check --repair');
    expect(check.out()).toContain('repair: landfall run --force FILE');

    const forget = captureIo();
    expect(await forgetCommand('big/interrupted.csv', { databaseUrl: db.url }, forget)).toBe(0);
    expect(forget.out()).toContain('undid the move-aside of big/interrupted.csv');
    expect((await fileReceipts(sql, { fileIds: [first.fileId] }))[0]).toMatchObject({ status: 'pending', state: 'in progress', reason: null, previousOutcome: 'moved-aside', batchesApplied: 1 });
    expect(await statusCommand(undefined, { databaseUrl: db.url, check: true }, captureIo())).toBe(0);

    // Dropped again and produced: its final manifest registers, the rest applies, and it is complete.
    await registerFile(sql, manifestOf(first, { batchCount: 2 }), key);
    await applyBatch(sql, big, second);
    expect((await fileReceipts(sql, { fileIds: [first.fileId] }))[0]).toMatchObject({ status: 'complete', state: 'complete', batches: 2, read: 10, inserted: 10 });
  });

  test('GIVEN the move-aside registered first (the file was not in the ledger yet) WHEN its queued batch applies afterwards THEN it is in progress, and status --check --repair reopens it', async () => {
    const file = fileIdentity({ key: 'big/never-listed.csv' });
    const batch = makeBatch({ table: 'big', rows: rowsOf(100, 3) }, file);
    await registerFile(sql, noTableManifest(manifestOf(batch)), manifestKeyOf('$unrouted', batch.fileId));
    expect((await fileReceipts(sql, { fileIds: [batch.fileId] }))[0]).toMatchObject({ status: 'moved-aside', state: 'moved aside' });

    await applyBatch(sql, big, batch);

    expect((await fileReceipts(sql, { fileIds: [batch.fileId] }))[0]).toMatchObject({ status: 'pending', state: 'in progress', batchesApplied: 1 });
    const repair = captureIo();
    expect(await statusCommand(undefined, { databaseUrl: db.url, check: true, repair: true }, repair)).toBe(0);
    expect(repair.out()).toContain(`repaired: ${batch.fileId.slice(0, 12)} (moved-aside-but-applied): reopened`);
    expect(repair.out()).toContain('Ledger check: every file row agrees with its batches.');
  });

  test('a produced file is never overwritten by a later move-aside, and a crafted ledger that disagrees with its batches is named', async () => {
    const batch = makeBatch({ table: 'big', rows: rowsOf(200, 2) });
    await registerFile(sql, manifestOf(batch), manifestKeyOf('big', batch.fileId));
    await applyBatch(sql, big, batch);
    await registerFile(sql, noTableManifest(manifestOf(batch)), manifestKeyOf('$unrouted', batch.fileId));
    expect((await fileReceipts(sql, { fileIds: [batch.fileId] }))[0]).toMatchObject({ status: 'complete', state: 'complete', reason: null });

    await sql`UPDATE landfall.files SET read = read + 3 WHERE file_id = ${batch.fileId}`;
    const check = captureIo();
    expect(await statusCommand(undefined, { databaseUrl: db.url, check: true, json: true }, check)).toBe(1);
    expect(JSON.parse(check.out()).findings).toEqual([expect.objectContaining({ kind: 'read-disagrees', fileId: batch.fileId, detail: 'read 5, but its rejected rows (0) and its batches\' reads (2) make 2' })]);
    await sql`UPDATE landfall.files SET read = read - 3 WHERE file_id = ${batch.fileId}`;
  });
});

describe('through the local stack', () => {
  const config = parseConfig({ tables: [{ table: 'big', prefix: 'big/', conflictKey: ['id'], partitions: 2 }], batch: { maxRows: 10, maxBytes: 1024 * 1024 } });

  test('GIVEN a file the ledger has moved aside as no-table (a producer whose config lacked its table) WHEN `run --force` drops it again with the right config THEN every row loads and the ledger says complete, not moved aside', async () => {
    const t = await startTestStack(config, db.url);
    const path = t.file('forced.csv', csvOf(Array.from({ length: 35 }, (_, i) => ({ id: 1000 + i, name: `r${i}` }))));
    const identity = { bucket: t.stack.buckets.inbox, key: 'big/forced.csv', versionId: null, etag: await expectedEtagOf(path), eventTime: new Date().toISOString() };
    const movedAside = noTableManifest({ ...manifestOf(makeBatch({ table: 'big', rows: rowsOf(1, 1) }, identity)), fileId: fileIdOf(identity) });
    await registerFile(sql, movedAside, manifestKeyOf('$unrouted', movedAside.fileId));
    expect((await fileReceipts(sql, { fileIds: [movedAside.fileId] }))[0]).toMatchObject({ status: 'moved-aside' });

    const again = await dropFile(t.target, path, tableForFile(config, path), { force: true });
    const receipt = await waitForFile(t.target, again, { timeoutMs: 60_000 });

    expect(again.fileId).toBe(movedAside.fileId);
    expect(receipt).toMatchObject({ status: 'complete', state: 'complete', read: 35, inserted: 35, addsUp: true, reason: null, previousOutcome: 'moved-aside' });
    expect(await sql`SELECT count(*)::int AS n FROM big WHERE id >= 1000`).toEqual([{ n: 35 }]);
  });
});
