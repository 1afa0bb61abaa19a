import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, expect, test } from 'vitest';
import { replayCommand } from '../../cli/commands/replay.ts';
import type { BatchMessage, FileManifest } from '../../shared/core/batch-message.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { consumeBatch } from '../../shared/consumer/consume-batch.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { migrateLedger } from '../../shared/postgres/ledger/migrate.ts';
import type { DevState } from '../../shared/local/stack.ts';
import { listQuarantine } from '../../shared/postgres/quarantine-retry.ts';
import { fileIdentity, makeBatch } from '../helpers/batches.ts';
import { STAGING_BUCKET, startBatchEmulator } from '../helpers/batch-emulator.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { captureIo } from '../helpers/cli.ts';

const { sql, url } = await createTestDatabase();
const emulator = await startBatchEmulator();
const tables = [{ table: 'orders', conflictKey: ['id'], partitions: 1 }];
const ports = emulator.ports(parseConfig({ tables }), sql);
const dir = mkdtempSync(join(tmpdir(), 'landfall-replay-'));
const configPath = join(dir, 'config.json');
writeFileSync(configPath, JSON.stringify({ tables }));
const endpoint = await emulator.s3.config.endpoint!();
const endpointUrl = `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`;
/** What the CLI sees: the staging bucket on the emulator, and a home with no `landfall dev` running. */
const stagingEnv = { LANDFALL_STAGING_BUCKET: STAGING_BUCKET, AWS_ENDPOINT_URL: endpointUrl, LANDFALL_HOME: join(dir, 'no-dev') };

beforeAll(async () => {
  await migrateLedger(sql);
  await sql`CREATE TABLE customers (id int PRIMARY KEY)`;
  await sql`INSERT INTO customers SELECT generate_series(1, 3)`;
  await sql`CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, placed date NOT NULL, note text)`;
});

/** Rows with ids from `first`; `bad` of them break the FK, so the batch fails as a set. */
function orderRows(first: number, count: number, bad: number[] = []) {
  return Array.from({ length: count }, (_, i) => ({
    id: String(first + i),
    customer_id: bad.includes(first + i) ? '99' : '1',
    placed: '2026-03-01',
    note: `row ${first + i}`,
  }));
}

/** A batch staged and offered to the consumer once: poisoned (ledger row, envelope in the DLQ) when it has bad rows. */
async function consumed(rows: ReturnType<typeof orderRows>) {
  const batch = makeBatch({ table: 'orders', rows });
  const message = await emulator.stage(batch);
  const outcome = await consumeBatch(ports, message, 1);
  return { batch, message, outcome };
}

test('replay of a poisoned batch applies the good rows and quarantines the bad ones, and the file completes', async () => {
  // GIVEN a batch the consumer routed to the DLQ: rows 101 and 103 point at a missing customer
  const { batch, outcome } = await consumed(orderRows(100, 5, [101, 103]));
  expect(outcome.outcome).toBe('poisoned');
  const io = captureIo(stagingEnv);

  const code = await replayCommand(batch.batchId, { databaseUrl: url, config: configPath, json: true }, io);

  expect(code).toBe(0);
  const report = JSON.parse(io.out());
  expect(report).toMatchObject({ batchId: batch.batchId, outcome: 'replayed', counts: { read: 5, inserted: 3, quarantined: 2 } });
  expect(report.quarantined.map((q: { rowNumber: number; reason: { sqlstate: string } }) => [q.rowNumber, q.reason.sqlstate])).toEqual([
    [2, '23503'],
    [4, '23503'],
  ]);
  expect((await sql`SELECT id FROM orders WHERE id BETWEEN 100 AND 104 ORDER BY id`).map((r) => r.id)).toEqual([100, 102, 104]);
  const [receipt] = await fileReceipts(sql, { fileIds: [batch.fileId] });
  expect(receipt).toMatchObject({ status: 'complete', read: 5, inserted: 3, quarantined: 2 });
});

test('replay of an applied batch says so and changes nothing, not even a row edited since', async () => {
  const { batch, outcome } = await consumed(orderRows(200, 3));
  expect(outcome.outcome).toBe('applied');
  await sql`UPDATE orders SET note = 'edited by hand' WHERE id = 200`;
  const [before] = await sql`SELECT applications, applied_at FROM landfall.batches WHERE batch_id = ${batch.batchId}`;
  const io = captureIo(stagingEnv);

  const code = await replayCommand(batch.batchId, { databaseUrl: url, config: configPath }, io);

  expect(code).toBe(0);
  expect(io.out()).toContain(`Batch ${batch.batchId} (orders, partition 0, chunk 0, file ${batch.file.key}) was already applied; nothing changed.`);
  expect(io.out()).toContain('read 3 = collapsed 0 + inserted 3 +');
  expect(await sql`SELECT note FROM orders WHERE id = 200`).toEqual([{ note: 'edited by hand' }]);
  expect(await sql`SELECT applications, applied_at FROM landfall.batches WHERE batch_id = ${batch.batchId}`).toEqual([before]);
});

test('beside a running `landfall dev`, replay takes the database and staging bucket from its state and accepts the short batch id', async () => {
  const { batch } = await consumed(orderRows(300, 2, [301]));
  const home = join(dir, 'dev-home');
  mkdirSync(home, { recursive: true });
  const state: DevState = {
    pid: process.pid,
    databaseUrl: url,
    endpoint: endpointUrl,
    region: 'us-east-1',
    configPath: null,
    namePrefix: 'landfall',
    buckets: { inbox: 'landfall-inbox', staging: STAGING_BUCKET },
    queues: { intake: '', intakeDlq: '', batches: '', batchesDlq: '', parking: '' },
  };
  writeFileSync(join(home, 'dev.json'), JSON.stringify(state));
  const io = captureIo({ LANDFALL_HOME: home });

  const code = await replayCommand(batch.batchId.slice(0, 12), { config: configPath }, io);

  expect(code, io.err()).toBe(0);
  expect(io.out()).toContain(`Replayed batch ${batch.batchId}`);
  expect(io.out()).toMatch(/^1 row of this batch in the quarantine:$/m);
  expect((await listQuarantine(sql, { batchId: batch.batchId })).map((q) => q.rowNumber)).toEqual([2]);
});

test('a batch the consumer never recorded is found through its registered file\'s manifest and applied', async () => {
  // GIVEN a file of two batches whose manifest lists both; the consumer applied only the first
  const file = fileIdentity();
  const first = makeBatch({ table: 'orders', rows: orderRows(400, 2), chunk: 0 }, file);
  const second = makeBatch({ table: 'orders', rows: orderRows(402, 2), chunk: 1, firstRow: 3 }, file);
  const m0 = await emulator.stage(first, { batchCount: 2 });
  const m1 = await emulator.stage(second, { batchCount: 2 });
  await listBatchesInManifest(m1.manifestKey, [m0, m1]);
  await consumeBatch(ports, m0, 1);
  const io = captureIo(stagingEnv);

  const code = await replayCommand(second.batchId, { databaseUrl: url, config: configPath, json: true }, io);

  expect(code).toBe(0);
  expect(JSON.parse(io.out())).toMatchObject({ outcome: 'replayed', counts: { read: 2, inserted: 2, quarantined: 0 }, fileReceipt: { status: 'complete', batchesApplied: 2 } });
  expect((await sql`SELECT id FROM orders WHERE id BETWEEN 400 AND 403 ORDER BY id`).map((r) => r.id)).toEqual([400, 401, 402, 403]);
});

test('replay of a batch that is nowhere is one clear error (exit 2)', async () => {
  const run = replayCommand('f'.repeat(40), { databaseUrl: url, config: configPath }, captureIo(stagingEnv));

  await expect(run).rejects.toMatchObject({ name: 'CliError', exitCode: 2, message: expect.stringContaining('in the ledger or in the manifests') });
});

/** Rewrites a manifest to list its batches, as the producer's manifests do. */
async function listBatchesInManifest(manifestKey: string, messages: BatchMessage[]) {
  const manifest = await ports.readManifest(manifestKey);
  const listed: FileManifest = {
    ...manifest,
    batches: messages.map((m) => ({ batchId: m.batchId, partition: m.partition, chunk: m.chunk, stagingKey: m.stagingKey, rows: m.rows, firstRow: m.firstRow, lastRow: m.lastRow })),
  };
  await emulator.s3.send(new PutObjectCommand({ Bucket: STAGING_BUCKET, Key: manifestKey, Body: JSON.stringify(listed) }));
}
