import { Readable } from 'node:stream';
import { expect, test } from 'vitest';
import { sqlCommand } from '../../cli/commands/sql.ts';
import { captureIo } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';

const db = await createTestDatabase();

test('sql -c runs several statements and prints each result as psql would', async () => {
  const io = captureIo();

  const code = await sqlCommand({ databaseUrl: db.url, command: "CREATE TABLE mine (id int PRIMARY KEY, name text); INSERT INTO mine VALUES (1, 'a'), (2, NULL); SELECT * FROM mine ORDER BY id" }, io);

  expect(code).toBe(0);
  expect(io.out()).toContain('INSERT 2\nid  name\n1   a\n2\n(2 rows)\n');
  expect(await db.sql`SELECT count(*)::int AS n FROM mine`).toEqual([{ n: 2 }]);
});

test('sql -c with a failing statement prints the error and exits 1', async () => {
  const io = captureIo();

  expect(await sqlCommand({ databaseUrl: db.url, command: 'SELECT * FROM nope' }, io)).toBe(1);
  expect(io.err()).toContain('ERROR: relation "nope" does not exist');
});

test('the prompt runs a statement once its line ends in ; and goes on after an error', async () => {
  const io = captureIo();
  const input = Readable.from(['SELECT 40 + 2\n', 'AS answer;\n', 'SELEC 1;\n', 'SELECT 1 AS one;\n']);

  expect(await sqlCommand({ databaseUrl: db.url, json: true }, io, input)).toBe(0);
  expect(io.out()).toContain('[{"answer":42}]');
  expect(io.out()).toContain('[{"one":1}]');
  expect(io.err()).toContain('ERROR: syntax error at or near "SELEC"');
});
