import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFauxqs, type S3SpyEvent, type SqsSpyMessage } from 'fauxqs';
import { afterAll, describe, expect, test } from 'vitest';
import { runCommand } from '../../cli/commands/run.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { captureIo } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';

/**
 * Issue 26 item 4: the third 1 GB drop of `bench:e2e -- --size 1GB` waited minutes "for the
 * producer". Each `landfall run` started a fresh inbox watcher, which notified the producer of
 * every file already in the inbox (the emulator outlives the run: the bench's, LocalStack); the
 * producer answers a produced file's notification by sending all its batch messages again, and
 * past FIFO's 5-minute deduplication they queued, each to be downloaded and found applied, ahead
 * of the new file's. What scales with the size is the number of batches resent, so the files here
 * are cut into many small batches (`batch.maxRows`) instead of being gigabytes.
 */
const db = await createTestDatabase();
await db.sql`CREATE TABLE drops (id int PRIMARY KEY, name text, v int NOT NULL)`;
const emulator = await startFauxqs({ port: 0, logger: false, messageSpies: { bufferSize: 100_000 } });
afterAll(() => emulator.stop());
const dir = mkdtempSync(join(tmpdir(), 'landfall-drops-'));
const config = parseConfig({ tables: [{ table: 'drops', prefix: 'drops/', conflictKey: ['id'], version: 'v', partitions: 4 }], batch: { maxRows: 25 } });
const env = { LANDFALL_HOME: join(dir, 'home'), AWS_ENDPOINT_URL: `http://127.0.0.1:${emulator.port}` };
const ROWS = 3000;

function dropFile(n: number): string {
  const path = join(dir, `drop-${n}.csv`);
  const lines = ['id,name,v', ...Array.from({ length: ROWS }, (_, i) => `${n * ROWS + i},name ${i},${n}`)];
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const events = () => emulator.spy.getAllMessages();
const notified = (key: string) => events().filter((m): m is SqsSpyMessage => m.service === 'sqs' && m.queueName === 'landfall-intake' && m.status === 'published' && m.body.includes(`"key":"${key}"`));
const manifestReads = () => events().filter((m): m is S3SpyEvent => m.service === 's3' && m.status === 'downloaded' && m.key.startsWith('manifests/drops/')).map((m) => m.key);

describe('several large files dropped in a row through one LANDFALL_HOME', () => {
  test('each run loads its own file; files of earlier runs are not notified, re-read or sent again', { timeout: 300_000 }, async () => {
    const manifests: string[] = [];
    for (const n of [1, 2, 3]) {
      const readsBefore = manifestReads().length;
      const io = captureIo(env);

      const code = await runCommand([dropFile(n)], { databaseUrl: db.url, json: true, progress: false }, io, config);

      expect(code, io.err()).toBe(0);
      const receipt = JSON.parse(io.out().trim()) as { status: string; read: number; inserted: number; batches: number; addsUp: boolean; fileId: string };
      expect(receipt).toMatchObject({ status: 'complete', read: ROWS, inserted: ROWS, addsUp: true });
      expect(receipt.batches).toBeGreaterThan(100);
      // Only this run's file: the earlier files' manifests are not read again (a producer sends a produced file's messages again from it).
      const read = manifestReads().slice(readsBefore);
      expect(read.filter((key) => manifests.some((m) => key.endsWith(`${m}.json`)))).toEqual([]);
      manifests.push(receipt.fileId);
    }
    for (const n of [1, 2, 3]) expect(notified(`drops/drop-${n}.csv`)).toHaveLength(1);
    expect(await db.sql`SELECT count(*)::int AS n FROM drops`).toEqual([{ n: 3 * ROWS }]);
  });
});
