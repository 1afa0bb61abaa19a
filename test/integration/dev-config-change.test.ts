import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, expect, test } from 'vitest';
import { statusCommand } from '../../cli/commands/status.ts';
import { devClients, readDevState } from '../../cli/local.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { dropFile, tableForFile } from '../../shared/local/run-files.ts';
import { captureIo } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { until } from '../helpers/dev-process.ts';

// Issue 19, item 3, the exact sequence: Ctrl-C during a load; `landfall dev` again with a config
// that lacks the table; then again with the right config.
const db = await createTestDatabase();
await db.sql`CREATE TABLE big (id int PRIMARY KEY, name text, v int)`;
await db.sql`CREATE TABLE other (id int PRIMARY KEY)`;
const dir = mkdtempSync(join(tmpdir(), 'landfall-config-change-'));
chmodSync(dir, 0o755);
const home = join(dir, 'home');
const rightConfig = { tables: [{ table: 'big', prefix: 'big/', conflictKey: ['id'], partitions: 4 }], batch: { maxRows: 2000, maxBytes: 8 * 1024 * 1024 } };
const lackingConfig = { tables: [{ table: 'other', prefix: 'other/', conflictKey: ['id'] }] };
const rightPath = join(dir, 'right.json');
const lackingPath = join(dir, 'lacking.json');
writeFileSync(rightPath, JSON.stringify(rightConfig));
writeFileSync(lackingPath, JSON.stringify(lackingConfig));
const config = parseConfig(rightConfig);
const ROWS = 200_000;

const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : null)));
});

/** `landfall dev --config F` as a user starts it; `watching` resolves once it watches the inbox, `exited` with its exit code. */
function dev(configPath: string, ...extra: string[]) {
  const child = spawn(process.execPath, ['bin/landfall.js', 'dev', '--config', configPath, '--database-url', db.url, ...extra], {
    env: { ...process.env, LANDFALL_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const watching = new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (out.includes('Watching the inbox')) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    void exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`landfall dev exited (${code}) before it watched the inbox:\n${out}`));
    });
  });
  watching.catch(() => {});
  return { child, watching, exited, output: () => out };
}

test('Ctrl-C during a load, dev again with a config lacking the table (refused, naming the file and the table), then with the right config: the file completes and the ledger tells the truth all along', async () => {
  const first = dev(rightPath);
  await first.watching;
  const state = readDevState(home)!;
  const target = { ...(await devClients(state)), sql: db.sql, config, buckets: state.buckets };
  const path = join(dir, 'load.csv');
  writeFileSync(path, `id,name,v\n${Array.from({ length: ROWS }, (_, i) => `${i},name ${i},${i % 7}`).join('\n')}\n`);
  const dropped = await dropFile(target, path, tableForFile(config, path));

  // Listed while it loads, with what is applied so far (issue 25: no longer invisible).
  const during = await until('the file listed in progress with a batch applied', async () => {
    const [r] = await fileReceipts(db.sql, { fileIds: [dropped.fileId] });
    return r && r.status !== 'complete' && r.batchesApplied > 0 ? r : undefined;
  }, 120_000);
  expect(during).toMatchObject({ state: 'in progress', file: 'big/load.csv', table: 'big' });
  first.child.kill('SIGINT');
  expect([0, 130]).toContain(await first.exited);
  const [atStop] = await fileReceipts(db.sql, { fileIds: [dropped.fileId] });
  expect(atStop!.status, 'the load finished before Ctrl-C: nothing was in flight').not.toBe('complete');
  expect(atStop).toMatchObject({ state: 'in progress', table: 'big' });
  const appliedAtStop = atStop!.batchesApplied;

  // A config without the table: refused before anything is consumed, naming the file and the table.
  const wrong = dev(lackingPath);
  expect(await wrong.exited).toBe(2);
  expect(wrong.output()).toContain('big/load.csv (table big): table "big" is not in the new config');
  expect(wrong.output()).toContain('Tables: big (not in this config).');
  expect(wrong.output()).toContain(`--config ${rightPath}`);
  expect(wrong.output()).toContain('--config-changed');
  // Nothing moved aside, nothing lost: the ledger and the inbox are as Ctrl-C left them.
  const [afterWrong] = await fileReceipts(db.sql, { fileIds: [dropped.fileId] });
  expect(afterWrong).toMatchObject({ status: atStop!.status, state: 'in progress', batchesApplied: appliedAtStop, reason: null });

  // The right config again: the file completes, every row is stored once, and the ledger agrees.
  const third = dev(rightPath);
  await third.watching;
  // The file was never moved aside: it is still in the inbox.
  const resumed = readDevState(home)!;
  await expect((await devClients(resumed)).s3.send(new HeadObjectCommand({ Bucket: resumed.buckets.inbox, Key: dropped.key }))).resolves.toBeDefined();
  const done = await until('the file complete', async () => {
    const [r] = await fileReceipts(db.sql, { fileIds: [dropped.fileId] });
    return r?.status === 'complete' ? r : undefined;
  }, 180_000);
  expect(done).toMatchObject({ state: 'complete', read: ROWS, inserted: ROWS, batches: expect.any(Number), reason: null, previousOutcome: null });
  expect(await db.sql`SELECT count(*)::int AS n FROM big`).toEqual([{ n: ROWS }]);
  const detail = captureIo();
  expect(await statusCommand('big/load.csv', { databaseUrl: db.url }, detail)).toBe(0);
  expect(detail.out()).toMatch(/Status\s+complete, \d+ of \d+ batches applied/);
  expect(await statusCommand(undefined, { databaseUrl: db.url, check: true }, captureIo())).toBe(0);
  third.child.kill('SIGINT');
  expect([0, 130]).toContain(await third.exited);
}, 420_000);
