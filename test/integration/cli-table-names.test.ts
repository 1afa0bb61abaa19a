import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { main } from '../../cli/main.ts';
import { captureIo } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';

const db = await createTestDatabase();
await db.sql`CREATE SCHEMA sales`;
await db.sql`CREATE TABLE public.customers (id int PRIMARY KEY, name text)`;
await db.sql`CREATE TABLE sales.orders (id int PRIMARY KEY, customer_id int)`;
const dir = mkdtempSync(join(tmpdir(), 'landfall-table-names-'));
const config = join(dir, 'landfall.json');
writeFileSync(
  config,
  JSON.stringify({
    tables: [
      { table: 'public.customers', prefix: 'customers/', conflictKey: ['id'] },
      { table: 'sales.orders', prefix: 'orders/', conflictKey: ['id'] },
    ],
  }),
);
const file = join(dir, 'export.csv');
writeFileSync(file, 'id,name\n1,Ada\n2,Grace\n');

async function landfall(...args: string[]) {
  const io = captureIo({ LANDFALL_HOME: join(dir, 'home') });
  const code = await main(['node', 'landfall', '--config', config, '--database-url', db.url, ...args], io);
  return { code, out: io.out(), err: io.err() };
}

test('run --table takes the table without its schema: customers is public.customers', async () => {
  const { code, out } = await landfall('run', '--json', '--no-progress', '--table', 'customers', file);

  expect(code).toBe(0);
  expect(JSON.parse(out)).toMatchObject({ table: 'public.customers', status: 'complete', read: 2, inserted: 2 });
  expect(await db.sql`SELECT id, name FROM public.customers ORDER BY id`).toEqual([{ id: 1, name: 'Ada' }, { id: 2, name: 'Grace' }]);
});

test('run --table with a typo is refused before anything is dropped, with a guess and the tables', async () => {
  const { code, err } = await landfall('run', '--no-progress', '--table', 'custmers', file);

  expect(code).toBe(2);
  expect(err).toContain('table "custmers" is not in the config (did you mean "public.customers"?); tables in the config: public.customers, sales.orders');
});

test('doctor --table orders checks the configured sales.orders, with its key from the config', async () => {
  const { code, out } = await landfall('doctor', '--json', '--table', 'orders');

  expect(code).toBe(0);
  expect(JSON.parse(out).tables).toEqual([expect.objectContaining({ table: 'sales.orders' })]);
});

test('doctor --table with a typo and no --key names the guess', async () => {
  const { code, err } = await landfall('doctor', '--table', 'sales.ordrs');

  expect(code).toBe(2);
  expect(err).toContain('did you mean "sales.orders"?');
});
