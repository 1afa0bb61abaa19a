import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { doctorCommand } from '../../cli/commands/doctor.ts';
import { replayCommand } from '../../cli/commands/replay.ts';
import { statusCommand } from '../../cli/commands/status.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { listBlockedTables } from '../../shared/postgres/ledger/blocked-tables.ts';
import { type FileReceipt, fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { dropFile, tableForFile } from '../../shared/local/run-files.ts';
import { captureIo } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';
import { csvOf, type Row } from '../helpers/producer-files.ts';

// The AWS path, on the local stack: no `run`/`dev` start-up check, only what the deployed
// functions do. One table lacks the unique index of its key, one does not exist yet.
const db = await createTestDatabase();
const { sql } = db;
await sql`CREATE TABLE parts (sku text NOT NULL, qty int, seq int NOT NULL)`;
const rawConfig = {
  tables: [
    { table: 'parts', prefix: 'parts/', conflictKey: ['sku'], version: 'seq', partitions: 4 },
    { table: 'bins', prefix: 'bins/', conflictKey: ['id'], partitions: 1 },
  ],
  batch: { maxRows: 5, maxBytes: 1024 * 1024 },
};
const config = parseConfig(rawConfig);
const t = await startTestStack(config, db.url);
const home = mkdtempSync(join(tmpdir(), 'landfall-blocked-'));
writeFileSync(join(home, 'config.json'), JSON.stringify(rawConfig));
/** The CLI as an operator runs it in AWS: the database and the staging bucket named, no `landfall dev`. */
const cliEnv = { LANDFALL_STAGING_BUCKET: t.stack.buckets.staging, AWS_ENDPOINT_URL: t.stack.endpoint, AWS_REGION: t.stack.region, LANDFALL_HOME: join(home, 'no-dev') };

async function until<T>(what: string, look: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await look();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const receiptOf = async (fileId: string): Promise<FileReceipt | undefined> => (await fileReceipts(sql, { fileIds: [fileId] }))[0];

async function status(): Promise<{ code: number; json: { files: FileReceipt[]; blockedTables: { table: string; code: string; reason: string; fix: string | null; attempts: number }[] }; text: string }> {
  const jsonIo = captureIo(cliEnv);
  const code = await statusCommand(undefined, { databaseUrl: db.url, json: true }, jsonIo);
  const textIo = captureIo(cliEnv);
  await statusCommand(undefined, { databaseUrl: db.url }, textIo);
  return { code, json: JSON.parse(jsonIo.out()), text: textIo.out() };
}

test('GIVEN a table without the unique index of its key WHEN a file arrives THEN status says blocked with the reason and the fix, and after CREATE UNIQUE INDEX the redelivered batches apply and every row adds up', async () => {
  // Refused already at start-up (the deploy step's work): no catalog snapshot, recorded as blocked.
  expect((await listBlockedTables(sql)).find((b) => b.table === 'parts')).toMatchObject({ code: 'table-config', fix: expect.stringContaining('CREATE UNIQUE INDEX') });
  const rows: Row[] = Array.from({ length: 12 }, (_, i) => ({ sku: `p-${i % 9}`, qty: i, seq: i }));
  const path = t.file('parts-1.csv', csvOf(rows));
  const dropped = await dropFile(t.target, path, tableForFile(config, path, 'parts'));

  const blocked = await until('the file to show blocked', async () => {
    const r = await receiptOf(dropped.fileId);
    return r?.status === 'blocked' ? r : undefined;
  });
  expect(blocked.reason).toContain('no unique index or constraint matches conflictKey (sku)');
  expect(blocked.fix).toContain('CREATE UNIQUE INDEX');
  expect(blocked.batchesApplied).toBe(0);
  // The consumer itself refused deliveries (not only start-up), and nothing was applied or lost.
  await until('a consumer refusal', async () => ((await listBlockedTables(sql)).find((b) => b.table === 'parts')!.attempts >= 2 ? true : undefined));
  const seen = await status();
  expect(seen.code).toBe(2);
  expect(seen.json.files.find((f) => f.fileId === dropped.fileId)).toMatchObject({ status: 'blocked', reason: expect.stringContaining('no unique index'), fix: expect.stringContaining('CREATE UNIQUE INDEX') });
  expect(seen.json.blockedTables.find((b) => b.table === 'parts')).toMatchObject({ code: 'table-config', reason: expect.stringContaining('no unique index') });
  expect(seen.text).toMatch(/BLOCKED[\s\S]*parts: no unique index[\s\S]*fix: CREATE UNIQUE INDEX/);
  expect(seen.text).toMatch(/parts\/parts-1\.csv\s+parts\s+blocked/);
  const detail = captureIo(cliEnv);
  expect(await statusCommand('parts/parts-1.csv', { databaseUrl: db.url }, detail)).toBe(2);
  expect(detail.out()).toMatch(/Status\s+blocked, 0 of \d+ batch(es)? applied\nReason\s+the consumer refuses the table: no unique index[^\n]*\nFix\s+CREATE UNIQUE INDEX/);
  expect(await sql`SELECT 1 FROM parts`).toHaveLength(0);
  // doctor agrees: the same reason and the same fix as status.
  const doctorIo = captureIo(cliEnv);
  expect(await doctorCommand({ databaseUrl: db.url, config: join(home, 'config.json'), table: 'parts', json: true }, doctorIo)).toBe(1);
  const statusBlocked = seen.json.blockedTables.find((b) => b.table === 'parts')!;
  const doctorBlocked = JSON.parse(doctorIo.out()).tables[0].checks.find((c: { check: string }) => c.check === 'blocked');
  expect(doctorBlocked).toMatchObject({ severity: 'error', message: expect.stringContaining(statusBlocked.reason), fix: [statusBlocked.fix] });

  await sql`CREATE UNIQUE INDEX parts_sku_key ON parts (sku)`;

  const done = await until('the file to complete', async () => {
    const r = await receiptOf(dropped.fileId);
    return r?.status === 'complete' ? r : undefined;
  });
  // 12 rows, 9 keys: 3 repeated keys collapse (one batch) or are updated (across batches).
  expect(done.read).toBe(12);
  expect(done.rejected + done.collapsed + done.inserted + done.updated + done.unchanged + done.stale + done.deleted + done.quarantined).toBe(12);
  expect(done.inserted).toBe(9);
  const stored = await sql<{ sku: string; qty: number }[]>`SELECT sku, qty FROM parts ORDER BY sku`;
  expect(stored).toEqual(Array.from({ length: 9 }, (_, k) => ({ sku: `p-${k}`, qty: k + 9 <= 11 ? k + 9 : k })));
  expect((await listBlockedTables(sql)).map((b) => b.table)).not.toContain('parts');
  const healed = captureIo(cliEnv);
  await doctorCommand({ databaseUrl: db.url, config: join(home, 'config.json'), table: 'parts', json: true }, healed);
  expect(JSON.parse(healed.out()).tables[0].checks.find((c: { check: string }) => c.check === 'blocked')).toMatchObject({ severity: 'ok' });
});

test('GIVEN a table that does not exist WHEN its batch has gone through the DLQ to the parking queue THEN status said blocked, and after CREATE TABLE `landfall replay` applies it and the file completes', async () => {
  const rows: Row[] = Array.from({ length: 4 }, (_, i) => ({ id: i + 1, label: `bin ${i + 1}` }));
  const path = t.file('bins-1.csv', csvOf(rows));
  const dropped = await dropFile(t.target, path, tableForFile(config, path, 'bins'));
  const blocked = await until('the file to show blocked', async () => {
    const r = await receiptOf(dropped.fileId);
    return r?.status === 'blocked' ? r : undefined;
  });
  expect(blocked).toMatchObject({ reasonCode: 'table-missing', reason: expect.stringContaining('table public.bins does not exist'), fix: expect.stringContaining('create the table') });

  // SQS retries (maxReceiveCount), then the DLQ, where replay is refused too, then the parking queue: nothing is lost.
  await until(
    'the batch in the parking queue',
    async () => {
      // Nothing consumes the parking queue: a look that leaves the message visible changes nothing.
      const { Messages } = await t.stack.sqs.send(new ReceiveMessageCommand({ QueueUrl: t.stack.queues.parking, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
      return (Messages ?? []).some((m) => m.Body?.includes(dropped.fileId)) ? true : undefined;
    },
    120_000,
  );
  expect((await status()).json.files.find((f) => f.fileId === dropped.fileId)).toMatchObject({ status: 'blocked' });

  await sql`CREATE TABLE bins (id int PRIMARY KEY, label text)`;
  const [file] = await sql<{ manifestKey: string }[]>`SELECT manifest_key AS "manifestKey" FROM landfall.files WHERE file_id = ${dropped.fileId}`;
  const manifest = await t.stack.ports.readManifest(file!.manifestKey);
  expect(manifest.batches).toHaveLength(1);
  const io = captureIo(cliEnv);
  const code = await replayCommand(manifest.batches[0]!.batchId, { databaseUrl: db.url, config: join(home, 'config.json'), json: true }, io).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\n${io.err()}`);
  });

  expect(code).toBe(0);
  expect(JSON.parse(io.out())).toMatchObject({ outcome: 'replayed', counts: { read: 4, inserted: 4 }, fileReceipt: { status: 'complete', batchesApplied: 1 } });
  expect(await sql`SELECT id, label FROM bins ORDER BY id`).toEqual(rows.map((r) => ({ id: r.id, label: r.label })));
  const after = await status();
  expect(after.json.files.find((f) => f.fileId === dropped.fileId)).toMatchObject({ status: 'complete', addsUp: true });
  expect(after.json.blockedTables.map((b) => b.table)).not.toContain('bins');
}, 180_000);
