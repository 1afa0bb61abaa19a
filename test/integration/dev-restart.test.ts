import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { devClients, readDevState } from '../../cli/local.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { dropFile, tableForFile } from '../../shared/local/run-files.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startDev, until } from '../helpers/dev-process.ts';

const db = await createTestDatabase();
await db.sql`CREATE TABLE readings (id int PRIMARY KEY, reading text, v int NOT NULL, _landfall_arrival text COLLATE "C")`;
const dir = mkdtempSync(join(tmpdir(), 'landfall-restart-'));
chmodSync(dir, 0o755);
const home = join(dir, 'home');
const tableConfig = { table: 'readings', prefix: 'readings/', conflictKey: ['id'], version: 'v', partitions: 4 };
const configPath = join(dir, 'landfall.json');
writeFileSync(configPath, JSON.stringify({ tables: [tableConfig], batch: { maxRows: 50, maxBytes: 1024 * 1024 } }));
const config = parseConfig(JSON.parse(`{"tables":[${JSON.stringify(tableConfig)}]}`));

const FILES = 4;
const ROWS = 4000;
const KEYS = 2500;
/** File f, row i: key i % KEYS at version f * ROWS + i, so the last file's rows win where they overlap. */
const rowsOf = (f: number) => Array.from({ length: ROWS }, (_, i) => ({ id: (i * 7 + f) % KEYS, reading: `f${f}-r${i}`, v: f * ROWS + i }));

function oracle(): Map<number, string> {
  const best = new Map<number, { v: number; reading: string }>();
  for (let f = 0; f < FILES; f++) for (const r of rowsOf(f)) if ((best.get(r.id)?.v ?? -1) < r.v) best.set(r.id, r);
  return new Map([...best].map(([id, r]) => [id, r.reading]));
}

const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : null)));
});

test('landfall dev killed with SIGKILL mid-load resumes on restart: every file complete, the table equals the oracle', async () => {
  const first = await startDev({ configPath, databaseUrl: db.url, home, children });
  const dev = readDevState(home)!;
  const target = { ...(await devClients(dev)), sql: db.sql, config, buckets: dev.buckets };
  const paths = Array.from({ length: FILES }, (_, f) => {
    const path = join(dir, `readings-${f}.csv`);
    writeFileSync(path, `id,reading,v\n${rowsOf(f).map((r) => `${r.id},${r.reading},${r.v}`).join('\n')}\n`);
    return path;
  });
  for (const path of paths.slice(0, FILES - 1)) await dropFile(target, path, tableForFile(config, path));
  await until('a batch applied', async () => ((await db.sql`SELECT count(*)::int AS n FROM landfall.batches WHERE status = 'applied'`)[0]!.n > 0 ? true : undefined), 60_000);
  // The last file is uploaded and the process killed at once: it may not even be registered.
  await dropFile(target, paths.at(-1)!, tableForFile(config, paths.at(-1)!));
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  const completeAtKill = (await fileReceipts(db.sql)).filter((r) => r.status === 'complete').length;
  expect(completeAtKill, 'the kill came after the load had finished: nothing to resume').toBeLessThan(FILES);

  const second = await startDev({ configPath, databaseUrl: db.url, home, children });
  const receipts = await until(
    'every file complete after the restart',
    async () => {
      const all = await fileReceipts(db.sql);
      return all.length === FILES && all.every((r) => r.status === 'complete') ? all : undefined;
    },
    120_000,
  );

  expect(second.output()).toMatch(/Resuming the previous run: \d+ unfinished messages? released, \d+ inbox files? notified again, \d+ files? in progress/);
  for (const r of receipts) expect(r.read).toBe(r.rejected + r.collapsed + r.inserted + r.updated + r.unchanged + r.stale + r.deleted + r.quarantined);
  const stored = await db.sql<{ id: number; reading: string }[]>`SELECT id, reading FROM readings ORDER BY id`;
  expect(new Map(stored.map((r) => [r.id, r.reading]))).toEqual(oracle());
}, 240_000);
