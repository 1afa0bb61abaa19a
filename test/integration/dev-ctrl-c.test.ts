import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { devClients, readDevState } from '../../cli/local.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { connect } from '../../shared/postgres/db.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { devStatePath } from '../../shared/local/stack.ts';
import { dropFile, tableForFile } from '../../shared/local/run-files.ts';
import { until } from '../helpers/dev-process.ts';

// `landfall dev` on its own embedded PostgreSQL, as `npm start` runs it: a terminal's Ctrl-C
// reaches the whole process group, the database server included.
const dir = mkdtempSync(join(tmpdir(), 'landfall-ctrl-c-'));
chmodSync(dir, 0o755);
const home = join(dir, 'home');
const tableConfig = { table: 'readings', prefix: 'readings/', conflictKey: ['id'], partitions: 4 };
const configPath = join(dir, 'landfall.json');
writeFileSync(configPath, JSON.stringify({ tables: [tableConfig], batch: { maxRows: 500, maxBytes: 1024 * 1024 } }));
const config = parseConfig({ tables: [tableConfig] });
const data = join(dir, 'readings.csv');
writeFileSync(data, `id,reading\n${Array.from({ length: 100_000 }, (_, i) => `${i},r${i}`).join('\n')}\n`);

let child: ChildProcess | undefined;
afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    process.kill(-child.pid!, 'SIGKILL');
    await new Promise((r) => child!.once('exit', r));
  }
});

/** `landfall sql -c` on the home's embedded database, as a user creates a table before `landfall dev`. */
function createTable(): Promise<string> {
  return new Promise((resolve, reject) => {
    const sqlChild = spawn(process.execPath, ['bin/landfall.js', 'sql', '-c', 'CREATE TABLE readings (id int PRIMARY KEY, reading text)'], { env: { ...process.env, LANDFALL_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    sqlChild.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    sqlChild.stderr!.on('data', (d: Buffer) => (text += d.toString()));
    sqlChild.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`landfall sql exited ${code}: ${text}`))));
  });
}

test('Ctrl-C of landfall dev mid-load stops it without an ERROR line: the failures its own shutdown causes are not reported', async () => {
  expect(await createTable()).toContain('CREATE TABLE');
  child = spawn(process.execPath, ['bin/landfall.js', 'dev', '--config', configPath], { env: { ...process.env, LANDFALL_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
  const sql = await until('landfall dev to watch the inbox', async () => {
    if (child!.exitCode !== null) throw new Error(`landfall dev exited early:\n${out}`);
    const dev = out.includes('Watching the inbox') ? readDevState(home) : null;
    return dev ? dev : undefined;
  }, 120_000).then(async (dev) => {
    const db = connect({ url: dev.databaseUrl, max: 1 });
    const target = { ...(await devClients(dev)), sql: db, config, buckets: dev.buckets };
    await dropFile(target, data, tableForFile(config, data));
    return db;
  });

  // GIVEN a load in flight: some batches applied, not all.
  const midway = await until('the first batches to apply', async () => {
    const [r] = await fileReceipts(sql).catch(() => []);
    return r && r.batchesApplied > 0 ? r : undefined;
  }, 120_000);
  await sql.end({ timeout: 1 });
  // WHEN Ctrl-C reaches the process group, as a terminal sends it.
  process.kill(-child.pid!, 'SIGINT');
  await exited;

  // THEN it says it stops, and no handler or status line reports the connections the shutdown closed.
  expect(midway.status).not.toBe('complete');
  expect(out).toContain('Stopping…');
  expect(out).not.toMatch(/"level":"ERROR"|\bERROR\b|CONNECTION_CLOSED|57P0\d|landfall: status:/);
  expect(existsSync(devStatePath(home))).toBe(false);
}, 240_000);
