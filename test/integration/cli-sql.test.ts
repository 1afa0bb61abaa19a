import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, test } from 'vitest';
import { findPsql, sqlCommand } from '../../cli/commands/sql.ts';
import { captureIo } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';

const db = await createTestDatabase();
const psql = findPsql(process.env);
if (!psql) console.warn('\n*** landfall sql: the psql oracle tests are SKIPPED: no psql on PATH (apt-get install postgresql-client) ***\n');

beforeAll(async () => {
  await db.sql`CREATE TABLE items (id int PRIMARY KEY, x int, name text, price numeric(8,2), seen timestamptz, attrs jsonb)`;
  await db.sql`INSERT INTO items SELECT i, i % 1000, 'item ' || i, i / 100.0, '2026-12-01 10:00:00+00', jsonb_build_object('n', i) FROM generate_series(1, 2500) i`;
  await db.sql`CREATE TABLE parents (id int PRIMARY KEY)`;
  await db.sql`CREATE TABLE children (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, parent_id int NOT NULL REFERENCES parents, qty int CHECK (qty > 0), note text DEFAULT 'none')`;
  await db.sql`CREATE UNIQUE INDEX children_note_idx ON children (note) WHERE note <> 'none'`;
});

/** `landfall sql -c TEXT` in-process: exit code, stdout, stderr. */
async function landfallSql(text: string, options: { json?: boolean } = {}) {
  const io = captureIo();
  const code = await sqlCommand({ databaseUrl: db.url, command: text, psql: false, ...options }, io);
  return { code, out: io.out(), err: io.err() };
}

/** The same text through the real psql: the oracle for the format. */
function psqlSays(text: string): string {
  const u = new URL(db.url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return execFileSync(psql!, ['-X', u.toString(), '-c', text], { env: { ...process.env, PGPASSWORD: password, PGTZ: 'UTC' }, encoding: 'utf8' });
}

describe('landfall sql prints what PostgreSQL returns', () => {
  test('two columns of the same name stay two, by position', async () => {
    const { code, out } = await landfallSql('select 1 as a, 2 as a');

    expect(code).toBe(0);
    expect(out).toBe(' a | a \n---+---\n 1 | 2\n(1 row)\n\n');
  });

  test('count(*) and count(distinct x) are two numbers, each its own', async () => {
    const { out } = await landfallSql('select count(*), count(distinct x) from items');

    expect(out).toBe(' count | count \n-------+-------\n  2500 |  1000\n(1 row)\n\n');
  });

  test('every statement of a multi-statement -c prints its result, tags included', async () => {
    const { code, out } = await landfallSql("create table mine (id int primary key, name text); insert into mine values (1, 'a'), (2, null); update mine set name = 'b' where id = 2; select * from mine order by id; select 1 where false");

    expect(code).toBe(0);
    expect(out).toBe('CREATE TABLE\nINSERT 0 2\nUPDATE 1\n id | name \n----+------\n  1 | a\n  2 | b\n(2 rows)\n\n ?column? \n----------\n(0 rows)\n\n');
  });

  test('values are PostgreSQL\'s text: numeric scale, timestamptz, jsonb, NULL', async () => {
    const { out } = await landfallSql("set time zone 'UTC'; select price, seen, attrs, null::text as nothing from items where id = 150");

    expect(out).toBe("SET\n price |          seen          |   attrs    | nothing \n-------+------------------------+------------+---------\n  1.50 | 2026-12-01 10:00:00+00 | {\"n\": 150} | \n(1 row)\n\n");
  });

  test('--json is one line per statement, rows by position, values as text', async () => {
    const { out } = await landfallSql('select 1 as a, 2 as a, null::int as n; delete from items where false', { json: true });

    expect(out.trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      { command: 'SELECT', count: 1, columns: [{ name: 'a', type: 'int4' }, { name: 'a', type: 'int4' }, { name: 'n', type: 'int4' }], rows: [['1', '2', null]] },
      { command: 'DELETE', count: 0, columns: null, rows: [] },
    ]);
  });

  test('a failing statement prints PostgreSQL\'s error as psql does, stops, and exits 1', async () => {
    const { code, out, err } = await landfallSql('select 1 as before; select * from nope; select 2 as after');

    expect(code).toBe(1);
    expect(out).toBe(' before \n--------\n      1\n(1 row)\n\n');
    expect(err).toBe('ERROR:  relation "nope" does not exist\n');
  });

  test('\\d TABLE describes it: columns, indexes, checks, foreign keys', async () => {
    const { code, out } = await landfallSql('\\d children');

    expect(code).toBe(0);
    expect(out).toContain('Table "public.children"');
    expect(out).toContain(' id        | integer |           | not null | generated always as identity');
    expect(out).toContain('    "children_pkey" PRIMARY KEY, btree (id)');
    expect(out).toContain("    \"children_note_idx\" UNIQUE, btree (note) WHERE note <> 'none'::text");
    expect(out).toContain('    "children_qty_check" CHECK (qty > 0)');
    expect(out).toContain('    "children_parent_id_fkey" FOREIGN KEY (parent_id) REFERENCES parents(id)');
  });

  test('an unknown meta-command says so and exits 1', async () => {
    const { code, err } = await landfallSql('\\dx');

    expect(code).toBe(1);
    expect(err).toContain('invalid command \\dx');
  });
});

describe.runIf(psql !== null || process.env.CI === 'true')('byte for byte what psql prints (psql is the oracle)', () => {
  test.each([
    'select 1 as a, 2 as a',
    'select count(*), count(distinct x) from items',
    "select id, name, price, attrs from items where id in (1, 99, 1000) order by id",
    "select name, id from items where id < 4 order by id desc",
    'select 1 where false',
    "insert into parents values (1), (2); insert into children (parent_id, qty, note) values (1, 3, 'x'); update children set qty = 4; delete from children where false; select * from children",
    '\\dt',
    '\\d',
    '\\d parents',
    '\\d children',
  ])('%s', async (text) => {
    expect(psql, 'CI must install psql (.ci/run)').not.toBeNull();
    const ours = await landfallSql(text);
    // Undo what the statement did, so that psql runs it on the same data.
    await db.sql`TRUNCATE parents, children RESTART IDENTITY`;
    const theirs = psqlSays(text);
    await db.sql`TRUNCATE parents, children RESTART IDENTITY`;

    expect(ours.err).toBe('');
    expect(ours.out).toBe(theirs);
  });
});

test('the prompt runs a statement once its line ends in ;, \\dt at the end of its line, and goes on after an error', async () => {
  const io = captureIo();
  const input = Readable.from(['SELECT 40 + 2\n', 'AS answer;\n', 'SELEC 1;\n', "SELECT ';' AS semi\n", ';\n', '\\dt items\n', '\\q\n', 'SELECT 99;\n']);

  expect(await sqlCommand({ databaseUrl: db.url, psql: false }, io, input)).toBe(0);
  expect(io.out()).toContain(' answer \n--------\n     42\n(1 row)\n');
  expect(io.out()).toContain(' semi \n------\n ;\n(1 row)\n');
  expect(io.out()).toContain(' public | items | table | ');
  expect(io.out()).not.toContain('99');
  expect(io.err()).toContain('ERROR:  syntax error at or near "SELEC"');
});

test.runIf(existsSync('/usr/bin/psql') || psql !== null)('--psql hands over to psql, the password in PGPASSWORD, not on its command line', async () => {
  // A stand-in psql on PATH that prints what it was given.
  const { mkdtempSync, writeFileSync, chmodSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const bin = mkdtempSync(join(tmpdir(), 'landfall-psql-'));
  writeFileSync(join(bin, 'psql'), '#!/bin/sh\necho "args: $*"\necho "password: $PGPASSWORD"\nexit 3\n');
  chmodSync(join(bin, 'psql'), 0o755);
  const { spawnSync } = await import('node:child_process');

  const ran = spawnSync(process.execPath, ['bin/landfall.js', 'sql', '--psql', '-c', 'select 1', '--database-url', db.url], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8' });

  const u = new URL(db.url);
  expect(ran.stdout).toContain(`args: postgres://${u.username}@${u.host}${u.pathname} -c select 1`);
  expect(ran.stdout).toContain(`password: ${decodeURIComponent(u.password)}`);
  expect(ran.status).toBe(1);
});
