import { expect, test } from 'vitest';
import { statusCommand } from '../../cli/commands/status.ts';
import { applyBatch } from '../../shared/postgres/apply-batch.ts';
import type { BatchData } from '../../shared/core/batch.ts';
import type { Sql } from '../../shared/postgres/db.ts';
import { registerFile } from '../../shared/postgres/ledger/files.ts';
import { migrateLedger } from '../../shared/postgres/ledger/migrate.ts';
import { manifestKeyOf } from '../../shared/core/keys.ts';
import { makeBatch } from '../helpers/batches.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { prepare } from '../helpers/engine.ts';
import { manifestOf } from '../helpers/manifests.ts';
import { captureIo, landfall } from '../helpers/cli.ts';

// Files that add up live in `db`; the crafted ledgers that do not, in `crafted`.
const db = await createTestDatabase();
const crafted = await createTestDatabase();
await db.sql`CREATE TABLE items (id int PRIMARY KEY, name text)`;
const items = await prepare(db.sql, { table: 'items', conflictKey: ['id'] });
await migrateLedger(crafted.sql);

/** A file through the engine as the consumer applies it: registered from its manifest, then its one batch applied. */
async function land(rows: Record<string, string | null>[], rejected = 0): Promise<BatchData> {
  const batch = makeBatch({ table: 'items', rows });
  await registerFile(db.sql, manifestOf(batch, { rejected }), manifestKeyOf('items', batch.fileId));
  await applyBatch(db.sql, items, batch);
  return batch;
}

/** A file and its batches written straight into the ledger, counts as given. */
async function craftFile(sql: Sql, fileId: string, file: { read: number; batchCount: number }, batches: { applied: boolean; read: number; inserted: number }[]) {
  await sql`
    INSERT INTO landfall.files (file_id, table_name, bucket, key, etag, event_time, batch_count, read, rejected)
    VALUES (${fileId}, 'items', 'inbox', ${`crafted/${fileId}.csv`}, 'etag', now(), ${file.batchCount}, ${file.read}, 0)`;
  for (const [chunk, b] of batches.entries()) {
    await sql`
      INSERT INTO landfall.batches (batch_id, file_id, table_name, partition, chunk, status, read, inserted, applications)
      VALUES (${`${fileId}-b${chunk}`}, ${fileId}, 'items', 0, ${chunk}, ${b.applied ? 'applied' : 'poisoned'}, ${b.read}, ${b.inserted}, 1)`;
  }
}

test('status FILE --json of a complete file: the receipt has file, table, status, batches and every rule-4 count, and adds up', async () => {
  // GIVEN a file of 4 rows: 1 rejected by the producer, 3 in its batch with one key twice
  const batch = await land([{ id: '1', name: 'a' }, { id: '2', name: 'b' }, { id: '1', name: 'a2' }], 1);
  const io = captureIo();

  const code = await statusCommand(batch.file.key, { databaseUrl: db.url, json: true }, io);

  // 1: the file is complete with a rejected row (the data needs attention).
  expect(code).toBe(1);
  const { files } = JSON.parse(io.out());
  expect(files).toHaveLength(1);
  expect(files[0]).toMatchObject({
    file: batch.file.key,
    fileId: batch.fileId,
    table: 'items',
    status: 'complete',
    state: 'complete with rejects',
    loaded: 3,
    batches: 1,
    read: 4,
    rejected: 1,
    collapsed: 1,
    inserted: 2,
    updated: 0,
    unchanged: 0,
    stale: 0,
    deleted: 0,
    quarantined: 0,
    addsUp: true,
  });
  expect(files[0].batchReceipts).toEqual([expect.objectContaining({ batchId: batch.batchId, status: 'applied', read: 3, collapsed: 1, inserted: 2, addsUp: true })]);
});

test('status without FILE prints a table: one line per file with its counts and "yes" where it adds up', async () => {
  const batch = await land([{ id: '10', name: 'x' }, { id: '11', name: 'y' }]);
  const io = captureIo();

  const code = await statusCommand(undefined, { databaseUrl: db.url }, io);

  // 1: the first test's file, complete with a rejected row, is in this ledger too.
  expect(code).toBe(1);
  const lines = io.out().split('\n');
  expect(lines[0]).toMatch(/^FILE\s+TABLE\s+STATUS\s+BATCHES\s+READ\s+REJECTED\s+COLLAPSED\s+INSERTED\s+UPDATED\s+UNCHANGED\s+STALE\s+DELETED\s+QUARANTINED\s+ADDS UP\s+REMOVED$/);
  const line = lines.find((l) => l.startsWith(batch.file.key))!;
  expect(line.split(/\s{2,}/)).toEqual([batch.file.key, 'items', 'complete', '1/1', '2', '0', '0', '2', '0', '0', '0', '0', '0', 'yes', '0']);
});

test('status FILE accepts the short file id the tables show', async () => {
  const batch = await land([{ id: '20', name: 'z' }]);
  const io = captureIo();

  const code = await statusCommand(batch.fileId.slice(0, 12), { databaseUrl: db.url, json: true }, io);

  expect(code).toBe(0);
  expect(JSON.parse(io.out()).files.map((f: { fileId: string }) => f.fileId)).toEqual([batch.fileId]);
});

test('a complete file whose counts do not add up is flagged, and status exits 1', async () => {
  // GIVEN a complete file that read 10 rows but whose one applied batch accounts for 8
  await craftFile(crafted.sql, 'short0000001', { read: 10, batchCount: 1 }, [{ applied: true, read: 8, inserted: 8 }]);
  const io = captureIo();

  const code = await statusCommand(undefined, { databaseUrl: crafted.url }, io);

  expect(code).toBe(1);
  expect(io.out()).toMatch(/^crafted\/short0000001\.csv\s.*\scomplete\s.*\sNO: 2 rows missing\s+0$/m);
  expect(io.out()).toContain('1 complete file does NOT add up');
});

test('a file still pending is not judged: addsUp is null and the exit code stays 0', async () => {
  // GIVEN a file of 2 batches, one applied (5 of its 10 rows counted so far), one poisoned
  await craftFile(crafted.sql, 'pending00001', { read: 10, batchCount: 2 }, [{ applied: true, read: 5, inserted: 5 }, { applied: false, read: 0, inserted: 0 }]);
  const io = captureIo();

  const code = await statusCommand('pending00001', { databaseUrl: crafted.url, json: true }, io);

  expect(code).toBe(0);
  expect(JSON.parse(io.out()).files[0]).toMatchObject({ status: 'replaying', batchesApplied: 1, addsUp: null });
});

test('status of a file that is not in the ledger is one clear error (exit 2)', async () => {
  const io = captureIo();

  const run = statusCommand('no/such/file.csv', { databaseUrl: db.url }, io);

  await expect(run).rejects.toMatchObject({ name: 'CliError', exitCode: 2, message: expect.stringContaining('no file "no/such/file.csv" in the ledger') });
});

test('bin/landfall.js status --json (a process, DATABASE_URL from the environment) prints one JSON document; exit 1 for the file with a rejected row', async () => {
  await land([{ id: '30', name: 'p' }]);

  const run = await landfall(['status', '--json'], { DATABASE_URL: db.url });

  expect(run.code, run.stderr).toBe(1);
  const { files } = JSON.parse(run.stdout);
  expect(files.length).toBeGreaterThanOrEqual(1);
  expect(files.every((f: { status: string; addsUp: boolean }) => f.status === 'complete' && f.addsUp === true)).toBe(true);
});
