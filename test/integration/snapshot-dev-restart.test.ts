import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { devClients, readDevState } from '../../cli/local.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { dropFile, tableForFile, waitForFile } from '../../shared/local/run-files.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startDev, until } from '../helpers/dev-process.ts';

/**
 * `kill -9` of `landfall dev` while a snapshot file's removal runs (after its last batch
 * committed): the removal's transaction dies with the process, and the restarted dev runs it
 * again from the unfinished message, once. Its rows are removed once, never twice, never not.
 */
const db = await createTestDatabase();
const { sql } = db;
await sql`CREATE TABLE photos (task_pk int NOT NULL, photo_id int NOT NULL, url text, _landfall_arrival text COLLATE "C", PRIMARY KEY (task_pk, photo_id))`;
const dir = mkdtempSync(join(tmpdir(), 'landfall-snapshot-restart-'));
chmodSync(dir, 0o755);
const home = join(dir, 'home');
const tableConfig = { table: 'photos', prefix: 'photos/', conflictKey: ['task_pk', 'photo_id'], mode: 'snapshot', scope: ['task_pk'], partitions: 3, missing: { maxRemovedShare: 1 } };
const configPath = join(dir, 'landfall.json');
writeFileSync(configPath, JSON.stringify({ tables: [tableConfig], batch: { maxRows: 20, maxBytes: 1024 * 1024 } }));
const config = parseConfig({ tables: [tableConfig] });

const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : null)));
});

const csv = (rows: [number, number][]) => `task_pk,photo_id,url\n${rows.map(([t, p]) => `${t},${p},u${t}-${p}`).join('\n')}\n`;
const all = (tasks: number, photos: number) => Array.from({ length: tasks * photos }, (_, i): [number, number] => [Math.floor(i / photos), i % photos]);

test('landfall dev killed with SIGKILL during a removal: after the restart it has run exactly once', async () => {
  const first = await startDev({ configPath, databaseUrl: db.url, home, children });
  const dev = readDevState(home)!;
  const target = { ...(await devClients(dev)), sql, config, buckets: dev.buckets };
  const write = (name: string, rows: [number, number][]) => {
    const path = join(dir, name);
    writeFileSync(path, csv(rows));
    return path;
  };
  const load = write('photos-1.csv', all(30, 10));
  const loaded = await waitForFile(target, await dropFile(target, load, tableForFile(config, load)), { timeoutMs: 60_000 });
  expect(loaded, first.output()).toMatchObject({ status: 'complete', inserted: 300, removed: 0 });
  // The second file lacks photo 9 of every task: 30 rows to remove. Its removal is slowed down in
  // the database (a trigger on its ledger row sleeps), so the kill lands inside it.
  await sql`
    CREATE FUNCTION slow_removal() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.state = 'done' AND NEW.removed > 0 THEN PERFORM pg_sleep(4); END IF; RETURN NEW; END $$`;
  await sql`CREATE TRIGGER slow_removal BEFORE UPDATE ON landfall.snapshot_files FOR EACH ROW EXECUTE FUNCTION slow_removal()`;
  const second = write('photos-2.csv', all(30, 10).filter(([, p]) => p !== 9));
  const dropped = await dropFile(target, second, tableForFile(config, second));
  await until('the removal to run', async () => ((await sql`SELECT 1 FROM pg_stat_activity WHERE query LIKE '%snapshot_files SET state = ''done''%' AND state = 'active'`).length ? true : undefined), 60_000);
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  // The removal never committed: the rows are there, the file is not complete.
  await until('the killed removal to end', async () => ((await sql`SELECT 1 FROM pg_stat_activity WHERE query LIKE '%snapshot_files SET state = ''done''%' AND state = 'active'`).length ? undefined : true), 30_000);
  expect(await sql`SELECT count(*)::int AS n FROM photos`).toEqual([{ n: 300 }]);
  expect((await fileReceipts(sql, { fileIds: [dropped.fileId] }))[0]).toMatchObject({ status: 'pending', removed: 0 });

  const restarted = await startDev({ configPath, databaseUrl: db.url, home, children });
  const receipt = await until(
    'the file complete after the restart',
    async () => {
      const [r] = await fileReceipts(sql, { fileIds: [dropped.fileId] });
      return r?.status === 'complete' ? r : undefined;
    },
    120_000,
  );

  expect(restarted.output()).toMatch(/Resuming the previous run/);
  expect(receipt).toMatchObject({ read: 270, unchanged: 270, removed: 30 });
  expect(await sql`SELECT count(*)::int AS n, count(*) FILTER (WHERE photo_id = 9)::int AS nines FROM photos`).toEqual([{ n: 270, nines: 0 }]);
  expect(await sql`SELECT state, removed::int FROM landfall.snapshot_files WHERE file_id = ${dropped.fileId}`).toEqual([{ state: 'done', removed: 30 }]);
  // The first file's removal (nothing to remove) ran once too, and is not run again by the restart.
  expect(await sql`SELECT count(*)::int AS n FROM landfall.snapshot_files WHERE state = 'done'`).toEqual([{ n: 2 }]);
}, 240_000);
