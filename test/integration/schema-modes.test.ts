import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../shared/core/config.ts';
import { listQuarantine, retryQuarantine } from '../../shared/postgres/quarantine-retry.ts';
import { prepareTable as prepare } from '../../shared/postgres/target-table.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';
import { ndjsonOf } from '../helpers/producer-files.ts';

const db = await createTestDatabase();
const { sql } = db;
await sql`CREATE TABLE strict_items (id int PRIMARY KEY, name text, v int NOT NULL)`;
await sql`CREATE TABLE evolving_items (id int PRIMARY KEY, name text)`;
const config = parseConfig({
  tables: [
    { table: 'strict_items', prefix: 'strict/', conflictKey: ['id'], version: 'v', partitions: 8 },
    { table: 'evolving_items', prefix: 'evolving/', conflictKey: ['id'], partitions: 4, schema: 'evolve' },
  ],
});
const t = await startTestStack(config, db.url);

const csv = (header: string, rows: number) => `${header}\n${Array.from({ length: rows }, (_, i) => `${i},name ${i},${i % 3},x`).join('\n')}\n`;

describe('"schema": "strict" (the default)', () => {
  test('a file with an unknown column is moved aside whole, naming it and the fix; no row is quarantined', async () => {
    const receipt = await t.run(t.file('typo.csv', csv('id,nmae,v,colour', 3000)), 'strict_items');

    expect(receipt).toMatchObject({ status: 'moved-aside', read: 0, quarantined: 0 });
    expect(receipt.reason).toContain('unknown columns "nmae", "colour": table "strict_items" has no such column');
    expect(receipt.reason).toContain('ALTER TABLE "public"."strict_items" ADD COLUMN "nmae" text, ADD COLUMN "colour" text;');
    expect(receipt.reason).toContain('"columns"');
    expect(await sql`SELECT count(*)::int AS n FROM strict_items`).toEqual([{ n: 0 }]);
    expect(await listQuarantine(sql, {})).toEqual([]);
  });

  test('after the ALTER TABLE the reason names, the same file loads (the snapshot is read again)', async () => {
    await sql`ALTER TABLE strict_items ADD COLUMN nmae text, ADD COLUMN colour text`;

    const receipt = await t.run(t.file('typo-again.csv', csv('id,nmae,v,colour', 30)), 'strict_items');

    expect(receipt).toMatchObject({ status: 'complete', read: 30, inserted: 30, addsUp: true });
  });

  test('a file missing the version column is moved aside naming it', async () => {
    const receipt = await t.run(t.file('nover.csv', 'id,name\n1,a\n'), 'strict_items');

    expect(receipt.status).toBe('moved-aside');
    expect(receipt.reason).toContain('missing version column "v" of table "strict_items"');
  });
});

describe('"schema": "evolve"', () => {
  test('the columns a file brings are added as nullable (text, or jsonb for nested JSON), recorded, and the rows land', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => ({ id: i, name: `n${i}`, colour: i % 2 ? 'red' : null, meta: `{"n":${i}}` }));
    const ndjson = ndjsonOf(rows).replaceAll(/"meta":"(\{[^}]*\})"/g, (_, inner: string) => `"meta":${inner.replaceAll('\\"', '"')}`);

    const receipt = await t.run(t.file('new-columns.ndjson', ndjson), 'evolving_items');

    expect(receipt).toMatchObject({ status: 'complete', read: 40, inserted: 40, quarantined: 0, addsUp: true });
    const columns = await sql`
      SELECT column_name AS name, data_type AS type, is_nullable AS nullable FROM information_schema.columns
      WHERE table_name = 'evolving_items' ORDER BY ordinal_position`;
    expect(columns.slice(2)).toEqual([
      { name: 'colour', type: 'text', nullable: 'YES' },
      { name: 'meta', type: 'jsonb', nullable: 'YES' },
    ]);
    expect(await sql`SELECT colour, meta FROM evolving_items WHERE id = 3`).toEqual([{ colour: 'red', meta: { n: 3 } }]);
    const changes = await sql`SELECT table_name, column_name, column_type, file_id FROM landfall.schema_changes ORDER BY column_name`;
    expect(changes).toEqual([
      { table_name: 'evolving_items', column_name: 'colour', column_type: 'text', file_id: receipt.fileId },
      { table_name: 'evolving_items', column_name: 'meta', column_type: 'jsonb', file_id: receipt.fileId },
    ]);
  });

  test('a later file with the same columns adds nothing more', async () => {
    const receipt = await t.run(t.file('same-columns.csv', 'id,colour\n1,blue\n100,green\n'), 'evolving_items');

    expect(receipt).toMatchObject({ status: 'complete', read: 2, inserted: 1, updated: 1, addsUp: true });
    expect(await sql`SELECT count(*)::int AS n FROM landfall.schema_changes`).toEqual([{ n: 2 }]);
  });

  test('a missing key column is still refused whole', async () => {
    const receipt = await t.run(t.file('no-key.csv', 'name,colour\na,red\n'), 'evolving_items');

    expect(receipt.status).toBe('moved-aside');
    expect(receipt.reason).toContain('missing conflict key column "id" of table "evolving_items"');
  });
});

describe('"schema": "evolve" without the privilege to ALTER the table', () => {
  test('the rows are quarantined with the reason, nothing is lost, and the file completes', async () => {
    const role = `landfall_limited_${db.name.slice(-12)}`;
    await sql`CREATE TABLE locked_items (id int PRIMARY KEY, name text)`;
    await sql.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'limited'`);
    try {
      // What the ledger's migration check needs (it creates nothing new here), and rows of the table: no ownership.
      await sql.unsafe(`GRANT CREATE ON DATABASE ${db.name} TO ${role}; GRANT USAGE, CREATE ON SCHEMA landfall TO ${role}; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA landfall TO ${role};
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA landfall TO ${role}; GRANT SELECT, INSERT, UPDATE ON locked_items TO ${role}`);
      const url = new URL(db.url);
      url.username = role;
      url.password = 'limited';
      const locked = parseConfig({ tables: [{ table: 'locked_items', conflictKey: ['id'], partitions: 2, schema: 'evolve' }] });
      const limited = await startTestStack(locked, url.toString());

      const receipt = await limited.run(limited.file('locked.csv', 'id,colour\n1,red\n2,blue\n'), 'locked_items');

      expect(receipt).toMatchObject({ status: 'complete', read: 2, quarantined: 2, addsUp: true });
      const rows = await listQuarantine(sql, { table: 'locked_items' });
      const reason = expect.stringMatching(/^"schema": "evolve" could not add "colour" to locked_items: must be owner of table locked_items \(SQLSTATE 42501\); fix: make the Landfall role the owner of the table/);
      expect(rows.map((r) => r.message)).toEqual([reason, reason]);
      expect(rows.map((r) => r.sqlstate)).toEqual(['42501', '42501']);
      // Stopped here (again after the file, harmlessly) so that the role has no session left to drop.
      await limited.stack.stop();

      // Once someone who may adds the column, `quarantine retry` applies the rows.
      await sql`ALTER TABLE locked_items ADD COLUMN colour text`;
      const retried = await retryQuarantine(sql, (name) => prepare(sql, locked.tables.find((x) => x.table === name)!), rows);
      expect(retried).toMatchObject({ applied: 2 });
      expect(await sql`SELECT id, colour FROM locked_items ORDER BY id`).toEqual([{ id: 1, colour: 'red' }, { id: 2, colour: 'blue' }]);
    } finally {
      await sql.unsafe(`DROP OWNED BY ${role}; DROP ROLE ${role}`).catch(() => {});
    }
  });
});
