import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../shared/config.ts';
import { listQuarantine } from '../../shared/quarantine-retry.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';

const db = await createTestDatabase();
const { sql } = db;
await sql`CREATE TABLE strict_items (id int PRIMARY KEY, name text, v int NOT NULL)`;
const config = parseConfig({
  tables: [{ table: 'strict_items', prefix: 'strict/', conflictKey: ['id'], version: 'v', partitions: 8 }],
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
