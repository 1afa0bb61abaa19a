import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { doctorCommand } from '../../cli/commands/doctor.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { captureIo, landfall } from '../helpers/cli.ts';

const db = await createTestDatabase();
const dir = mkdtempSync(join(tmpdir(), 'landfall-doctor-'));

function writeConfig(name: string, tables: unknown[]): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ tables }));
  return path;
}

// The seed-003 shape: an upsert target with a surrogate key and no unique index on its natural key.
await db.sql`CREATE TABLE order_lines (
  id bigserial PRIMARY KEY, order_no text NOT NULL, line int4 NOT NULL, qty int4, updated_at timestamptz NOT NULL DEFAULT now())`;
await db.sql`CREATE INDEX order_lines_order_no ON order_lines (order_no)`;
const seed003 = { table: 'order_lines', conflictKey: ['order_no', 'line'], version: 'updated_at' };

test('doctor on an upsert target without a unique index reports it with the exact CREATE UNIQUE INDEX', async () => {
  await db.sql`INSERT INTO order_lines (order_no, line, qty) SELECT 'o' || g, 1, g FROM generate_series(1, 50) g`;
  const io = captureIo();

  const code = await doctorCommand({ config: writeConfig('no-index', [seed003]), json: true, sql: db.sql }, io);

  expect(code).toBe(1);
  const report = JSON.parse(io.out());
  expect(report.status).toBe('findings');
  const checks = report.tables[0].checks as { check: string; severity: string; fix: string[]; message: string }[];
  expect(checks.find((c) => c.check === 'unique index')).toMatchObject({
    severity: 'error',
    message: expect.stringContaining('"order_lines_pkey" is on (id)'),
    fix: ['CREATE UNIQUE INDEX CONCURRENTLY "order_lines_order_no_line_key" ON "public"."order_lines" ("order_no", "line");'],
  });
  expect(checks.find((c) => c.check === 'arrival column')).toMatchObject({
    severity: 'warning',
    fix: ['ALTER TABLE "public"."order_lines" ADD COLUMN "_landfall_arrival" text COLLATE "C";'],
  });
  expect(checks.find((c) => c.check === 'duplicates')).toMatchObject({ severity: 'ok' });
});

test('with duplicates the fix is `landfall dedupe`; running it (as a process) and the other fixes makes doctor healthy', async () => {
  // GIVEN 20 keys stored three times
  await db.sql`INSERT INTO order_lines (order_no, line, qty) SELECT 'o' || g, 1, g FROM generate_series(1, 20) g, generate_series(1, 2)`;
  const config = writeConfig('dups', [seed003]);
  const first = await landfall(['doctor', '--config', config], { DATABASE_URL: db.url });
  expect(first.code, first.stderr).toBe(1);
  expect(first.stdout).toMatch(/^order_lines\s+duplicates\s+FAIL\s+20 key\(s\) stored more than once, 40 surplus row\(s\)$/m);
  const fixes = first.stdout.slice(first.stdout.indexOf('Fixes:')).split('\n').map((l) => l.trim());
  const dedupe = fixes.find((l) => l.startsWith('landfall dedupe'))!;
  expect(dedupe).toMatch(/^landfall dedupe order_lines --key order_no,line --keep version:updated_at /);

  // WHEN the printed fixes are applied: the dedupe command line as printed, then the SQL
  const args = dedupe.split('#')[0]!.trim().split(/\s+/).slice(1);
  const run = await landfall([...args, '--json'], { DATABASE_URL: db.url });
  expect(run.code, run.stderr).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ groups: 20, removed: 40, indexCreated: true, remainingDuplicateGroups: 0 });
  for (const statement of fixes.filter((l) => l.startsWith('ALTER TABLE'))) await db.sql.unsafe(statement);

  // THEN doctor says healthy, exit 0
  const second = await landfall(['doctor'], { DATABASE_URL: db.url, LANDFALL_CONFIG: config });
  expect(second.code, second.stdout + second.stderr).toBe(0);
  expect(second.stdout).toContain('1 table(s): 1 healthy, 0 with findings, 0 not checked');
});

test('doctor --table --key checks any table', async () => {
  await db.sql`CREATE TABLE healthy (k text NOT NULL PRIMARY KEY, v int8, _landfall_arrival text COLLATE "C")`;
  const io = captureIo({ DATABASE_URL: db.url });
  expect(await doctorCommand({ table: 'healthy', key: ['k'], version: 'v' }, io)).toBe(0);
  expect(io.out()).toMatch(/^healthy\s+unique index\s+ok\s+"healthy_pkey" \(constraint healthy_pkey\)$/m);
  const missing = captureIo();
  expect(await doctorCommand({ table: 'nope', key: ['k'], sql: db.sql }, missing)).toBe(1);
  expect(missing.out()).toMatch(/^nope\s+table\s+FAIL\s+does not exist/m);
});

test('doctor exits 2 when it cannot check: an unreachable database', async () => {
  const down = await landfall(['doctor', '--table', 'healthy', '--key', 'k', '--database-url', 'postgres://postgres:x@127.0.0.1:1/postgres']);
  expect(down.code).toBe(2);
  expect(down.stdout).toMatch(/healthy\s+-\s+ERROR\s+could not check/);
});

test('doctor counts the rows of a table the planner has not analyzed since a load, instead of printing its stale "~0 rows"', async () => {
  await db.sql`CREATE TABLE fresh_load (id int PRIMARY KEY, v int)`;
  await db.sql`ANALYZE fresh_load`;
  // GIVEN 286,668 rows loaded after the planner last looked (it still thinks the table is empty)
  await db.sql`INSERT INTO fresh_load SELECT g, g FROM generate_series(1, 286668) g`;
  expect((await db.sql`SELECT reltuples::float8 AS n FROM pg_class WHERE oid = 'fresh_load'::regclass`)[0]!.n).toBeLessThan(1000);
  const io = captureIo();

  await doctorCommand({ config: writeConfig('fresh-load', [{ table: 'fresh_load', conflictKey: ['id'] }]), json: true, sql: db.sql }, io);

  const checks = JSON.parse(io.out()).tables[0].checks as { check: string; message: string }[];
  expect(checks.find((c) => c.check === 'table')!.message).toBe('public.fresh_load, 286,668 rows');
});

test('doctor --estimate-only on a large table says the rows are the planner\'s estimate and how to refresh it', async () => {
  await db.sql`ANALYZE fresh_load`;
  const io = captureIo();

  await doctorCommand({ config: writeConfig('estimate', [{ table: 'fresh_load', conflictKey: ['id'] }]), json: true, sql: db.sql, estimateOnly: true, largeTableRows: 1 }, io);

  const checks = JSON.parse(io.out()).tables[0].checks as { check: string; message: string }[];
  expect(checks.find((c) => c.check === 'table')!.message).toMatch(/^public\.fresh_load, ~[\d,]+ rows by the planner's estimate, not counted \(ANALYZE "public"\."fresh_load" refreshes it\)$/);
});
