import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../shared/core/config.ts';
import { listBlockedTables } from '../../shared/postgres/ledger/blocked-tables.ts';
import { listQuarantine } from '../../shared/postgres/quarantine-retry.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';

// Failures that belong to one file's batch or to some rows never block the table: the file
// completes with the rows quarantined and the reason, and later files of the table apply.
const db = await createTestDatabase();
const { sql } = db;
await sql`CREATE TABLE wide (id int PRIMARY KEY, name text)`;
await sql`CREATE TABLE guarded (id int PRIMARY KEY, qty int)`;
await sql`
  CREATE FUNCTION refuse_negative() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF NEW.qty < 0 THEN RAISE EXCEPTION 'qty must not be negative'; END IF;
    RETURN NEW;
  END $$`;
await sql`CREATE TRIGGER guarded_qty BEFORE INSERT OR UPDATE ON guarded FOR EACH ROW EXECUTE FUNCTION refuse_negative()`;
const config = parseConfig({
  tables: [
    { table: 'wide', prefix: 'wide/', conflictKey: ['id'], partitions: 2, schema: 'evolve' },
    { table: 'guarded', prefix: 'guarded/', conflictKey: ['id'], partitions: 2 },
  ],
});
const t = await startTestStack(config, db.url);

describe('a file with more columns than PostgreSQL allows, on an "evolve" table (54011)', () => {
  test('GIVEN a 1,700-column file WHEN it is loaded THEN its rows are quarantined with 54011 and the fix, the file completes, the table is not blocked, and a later file applies', async () => {
    const columns = ['id', ...Array.from({ length: 1699 }, (_, i) => `extra_${i + 1}`)];
    const rows = [1, 2, 3].map((id) => [String(id), ...columns.slice(1).map((_, i) => String(i))].join(','));
    const path = t.file('wide-1700.csv', `${columns.join(',')}\n${rows.join('\n')}\n`);

    const receipt = await t.run(path, 'wide');

    expect(receipt).toMatchObject({ status: 'complete', read: 3, quarantined: 3, inserted: 0, addsUp: true });
    const quarantined = await listQuarantine(sql, { table: 'wide' });
    expect(quarantined.map((q) => q.sqlstate)).toEqual(['54011', '54011', '54011']);
    expect(quarantined[0]!.message).toContain('"schema": "evolve" could not add "extra_1", "extra_2", "extra_3", "extra_4", "extra_5" and 1,694 more (1,699 columns) to wide');
    expect(quarantined[0]!.message).toContain('tables can have at most 1600 columns (SQLSTATE 54011); fix: remove the extra columns from the file');
    expect(await listBlockedTables(sql)).toEqual([]);
    // Nothing was added: the ALTER TABLE failed whole.
    expect(await sql`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'wide'`).toEqual([{ n: 2 }]);

    const later = await t.run(t.file('wide-later.csv', 'id,name,colour\n10,ten,red\n11,eleven,blue\n'), 'wide');

    expect(later).toMatchObject({ status: 'complete', read: 2, inserted: 2, quarantined: 0, addsUp: true });
    expect(await sql`SELECT id, name, colour FROM wide ORDER BY id`).toEqual([
      { id: 10, name: 'ten', colour: 'red' },
      { id: 11, name: 'eleven', colour: 'blue' },
    ]);
  });
});

describe("a trigger's exception (P0001) belongs to the row", () => {
  test('GIVEN a BEFORE trigger that refuses negative quantities WHEN a file has two such rows THEN those two are quarantined with the message, the rest applies, and the table is not blocked', async () => {
    const body = ['id,qty', ...Array.from({ length: 20 }, (_, i) => `${i + 1},${i === 4 || i === 15 ? -1 : i}`)].join('\n');

    const receipt = await t.run(t.file('guarded.csv', `${body}\n`), 'guarded');

    expect(receipt).toMatchObject({ status: 'complete', read: 20, inserted: 18, quarantined: 2, addsUp: true });
    const quarantined = await listQuarantine(sql, { table: 'guarded' });
    expect(quarantined.map((q) => [q.rowNumber, q.sqlstate, q.message])).toEqual([
      [5, 'P0001', 'qty must not be negative'],
      [16, 'P0001', 'qty must not be negative'],
    ]);
    expect(await listBlockedTables(sql)).toEqual([]);
  });
});
