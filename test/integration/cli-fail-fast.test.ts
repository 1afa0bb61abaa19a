import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { devCommand } from '../../cli/commands/dev.ts';
import { runCommand } from '../../cli/commands/run.ts';
import { main } from '../../cli/main.ts';
import { CliError } from '../../cli/context.ts';
import { devStatePath } from '../../shared/local/stack.ts';
import { captureIo } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';

const db = await createTestDatabase();
await db.sql`CREATE TABLE ready (id int PRIMARY KEY, v int)`;
await db.sql`CREATE TABLE no_index (id int, v int)`;
const dir = mkdtempSync(join(tmpdir(), 'landfall-fail-fast-'));
const data = join(dir, 'rows.csv');
writeFileSync(data, 'id,v\n1,1\n');

function configFile(name: string, tables: object[]): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ tables }));
  return path;
}

/** Runs `landfall run` in-process; returns the CliError it refused with, and how long it took. */
async function refusal(configPath: string, table: string, env: Record<string, string> = {}) {
  const io = captureIo({ LANDFALL_HOME: join(dir, 'home'), ...env });
  const started = Date.now();
  const error = await runCommand([data], { config: configPath, table, ...(env.LANDFALL_HOME ? {} : { databaseUrl: db.url }) }, io).then(
    () => null,
    (e: unknown) => e,
  );
  return { error: error as CliError | null, stderr: io.err(), seconds: (Date.now() - started) / 1000 };
}

const nothingLanded = async () => {
  const [files] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM landfall.files`.catch(() => [{ n: 0 }]);
  return files!.n;
};

test('run refuses a config naming a table that does not exist, exit 2, before dropping anything', async () => {
  const config = configFile('missing.json', [
    { table: 'ready', prefix: 'ready/', conflictKey: ['id'] },
    { table: 'nope', prefix: 'nope/', conflictKey: ['id'] },
  ]);

  const { error, stderr, seconds } = await refusal(config, 'ready');

  expect(error).toBeInstanceOf(CliError);
  expect(error!.exitCode).toBe(2);
  expect(error!.message).toContain('run: refused before dropping anything: table nope not ready');
  expect(stderr).toMatch(/nope\s+table\s+FAIL\s+does not exist/);
  expect(stderr).not.toMatch(/^ready/m);
  expect(seconds).toBeLessThan(30);
  expect(await nothingLanded()).toBe(0);
});

test('run refuses a table whose unique index does not match the key, printing doctor\'s fix', async () => {
  const config = configFile('no-index.json', [{ table: 'no_index', prefix: 'no_index/', conflictKey: ['id'] }]);

  const { error, stderr } = await refusal(config, 'no_index');

  expect(error?.exitCode).toBe(2);
  expect(stderr).toMatch(/no_index\s+unique index\s+FAIL\s+none matches \(id\)/);
  expect(stderr).toContain('landfall dedupe no_index --key id');
  expect(await nothingLanded()).toBe(0);
});

test('run refuses a table this user may not write, with the GRANT', async () => {
  await db.sql`CREATE TABLE locked (id int PRIMARY KEY, v int)`;
  await db.sql`DROP ROLE IF EXISTS landfall_reader`;
  await db.sql`CREATE ROLE landfall_reader LOGIN PASSWORD 'reader'`;
  await db.sql`GRANT USAGE, CREATE ON SCHEMA public TO landfall_reader`;
  await db.sql.unsafe(`GRANT CREATE ON DATABASE "${new URL(db.url).pathname.slice(1)}" TO landfall_reader`);
  await db.sql`GRANT SELECT ON locked TO landfall_reader`;
  // The ledger is the pipeline's own: this user may write it, only the target table is read-only.
  await db.sql`CREATE SCHEMA IF NOT EXISTS landfall`;
  await db.sql`GRANT ALL ON SCHEMA landfall TO landfall_reader`;
  await db.sql`GRANT ALL ON ALL TABLES IN SCHEMA landfall TO landfall_reader`;
  const url = new URL(db.url);
  url.username = 'landfall_reader';
  url.password = 'reader';
  const config = configFile('locked.json', [{ table: 'locked', prefix: 'locked/', conflictKey: ['id'] }]);
  const io = captureIo({ LANDFALL_HOME: join(dir, 'home-locked') });

  const error = await runCommand([data], { config, databaseUrl: url.toString() }, io).catch((e: unknown) => e as CliError);

  expect(error, String(error)).toBeInstanceOf(CliError);
  expect((error as CliError).exitCode).toBe(2);
  expect(io.err()).toMatch(/locked\s+privileges\s+FAIL\s+"landfall_reader" lacks INSERT, UPDATE on the table/);
  expect(io.err()).toContain('GRANT INSERT, UPDATE ON "public"."locked" TO "landfall_reader";');
});

test('run refuses to attach to a running landfall dev that uses another config', async () => {
  const home = join(dir, 'dev-home');
  mkdirSync(home, { recursive: true });
  const devConfig = configFile('dev.json', [{ table: 'ready', prefix: 'ready/', conflictKey: ['id'] }]);
  const mine = configFile('mine.json', [{ table: 'ready', prefix: 'other/', conflictKey: ['id'] }]);
  // This process stands in for the dev: its state file names a live pid.
  writeFileSync(
    devStatePath(home),
    JSON.stringify({ pid: process.pid, databaseUrl: db.url, endpoint: 'http://127.0.0.1:9', region: 'us-east-1', namePrefix: 'landfall', buckets: { inbox: 'i', staging: 's' }, queues: {}, configPath: devConfig }),
  );

  const { error } = await refusal(mine, 'ready', { LANDFALL_HOME: home });

  expect(error?.exitCode).toBe(2);
  expect(error?.message).toContain(`the running landfall dev uses another table config (${devConfig})`);
  expect(error?.message).toContain('run with that --config, stop the dev first, or set LANDFALL_HOME');
});

test('dev refuses a config naming a missing table at start-up, exit 2, and leaves no dev state behind', async () => {
  const config = configFile('dev-missing.json', [{ table: 'nope', prefix: 'nope/', conflictKey: ['id'] }]);
  const home = join(dir, 'dev-refused');
  const io = captureIo({ LANDFALL_HOME: home });

  const error = await devCommand({ config, databaseUrl: db.url, once: true }, io).catch((e: unknown) => e as CliError);

  expect((error as CliError).exitCode).toBe(2);
  expect((error as CliError).message).toContain('dev: refused before dropping anything: table nope not ready');
  expect(io.err()).toMatch(/nope\s+table\s+FAIL\s+does not exist/);
  expect(existsSync(devStatePath(home))).toBe(false);
});

test('with --json the refusal carries each table\'s problems and fixes as data, and does not point "above"', async () => {
  const config = configFile('no-index-json.json', [{ table: 'no_index', prefix: 'no_index/', conflictKey: ['id'] }]);
  const io = captureIo({ LANDFALL_HOME: join(dir, 'home-json') });

  const code = await main(['node', 'landfall', 'run', '--json', '--no-progress', '--config', config, '--database-url', db.url, data], io);

  expect(code).toBe(2);
  const { error } = JSON.parse(io.out());
  expect(error.message).not.toContain('above');
  expect(error.details.tables).toEqual([{ table: 'no_index', problems: [expect.objectContaining({ check: 'unique index', fix: expect.arrayContaining([expect.stringContaining('landfall dedupe no_index --key id')]) })] }]);
});
