import { beforeAll, describe, expect, test } from 'vitest';
import { canonicalizerFor } from '../../shared/core/canonical-key.ts';
import { partitionOf } from '../../shared/core/partition.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { EQUAL_SPELLINGS } from '../helpers/key-spellings.ts';
import { startFileLoader } from '../helpers/load-file.ts';

/**
 * The type matrix's key columns: every key type whose canonical form is exact (the types the
 * canonicaliser knows, domains over them, domains over domains, enums) partitions equal keys
 * spelled differently into one partition, through the real producer and its catalog snapshot:
 * the spellings meet in one batch and collapse there (with raw-text partitioning they would
 * spread over several partitions, each applied apart).
 */
const { sql } = await createTestDatabase();
const loader = await startFileLoader(sql);
const PARTITIONS = 16;

const SETUP = [
  `CREATE EXTENSION IF NOT EXISTS citext`,
  `CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`,
  `CREATE TYPE key_mood AS ENUM ('sad', 'ok', 'happy')`,
  `CREATE DOMAIN key_big AS bigint CHECK (VALUE > 0)`,
  `CREATE DOMAIN key_price AS numeric(10,2)`,
  `CREATE DOMAIN key_price_again AS key_price`,
  `CREATE DOMAIN key_code AS char(5)`,
  `CREATE DOMAIN key_id AS uuid`,
  `CREATE DOMAIN key_at AS timestamptz`,
  `CREATE DOMAIN key_mood_domain AS key_mood`,
];

const CASES: { label: string; ddl: string; equal: string[] }[] = [
  ...EQUAL_SPELLINGS.filter((row) => !row.timeZone).map((row) => ({
    label: row.label,
    ddl: `${row.column.type}${row.column.collation ? ` COLLATE "${row.column.collation.name}"` : ''}`,
    equal: row.equal,
  })),
  { label: 'domain over bigint', ddl: 'key_big', equal: ['5', '05', '+5', ' 5', '0x5', '0b101'] },
  { label: 'domain over numeric(10,2) (rounds as its base type)', ddl: 'key_price', equal: ['2.50', '2.5', '2.504', '2.495', '02.5'] },
  { label: 'domain over a domain over numeric(10,2)', ddl: 'key_price_again', equal: ['2.50', '2.5', '2.504', '2.495', '02.5'] },
  { label: 'domain over char(5)', ddl: 'key_code', equal: ['ab', 'ab ', 'ab   '] },
  { label: 'domain over uuid', ddl: 'key_id', equal: ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', 'a0eebc999c0b4ef8bb6d6bb9bd380a11'] },
  { label: 'domain over timestamptz', ddl: 'key_at', equal: ['2024-06-01T00:00:00Z', '2024-06-01 02:00:00+02', '2024-05-31 19:00-05'] },
  { label: 'enum', ddl: 'key_mood', equal: ['ok', 'ok'] },
  { label: 'domain over an enum', ddl: 'key_mood_domain', equal: ['happy', 'happy'] },
];

beforeAll(async () => {
  for (const statement of SETUP) await sql.unsafe(statement);
});

describe('key columns of every exact type partition canonically', () => {
  test.each(CASES.map((c, i) => ({ ...c, table: `keys_${i}` })))('$label', async ({ ddl, equal, table }) => {
    await sql.unsafe(`CREATE TABLE ${table} (k ${ddl} PRIMARY KEY, v int)`);
    const target = await loader.table({ table, conflictKey: ['k'], partitions: PARTITIONS });
    const key = target.catalog.columns.find((c) => c.name === 'k')!;
    expect(canonicalizerFor({ ...key, category: key.category ?? null, collation: key.collation ?? null }, target.catalog.timeZone).exact).toBe(true);
    const csv = `k,v\n${equal.map((s, i) => `"${s.replaceAll('"', '""')}",${i}`).join('\n')}\n`;

    const { counts } = await loader.load(target, 'keys.csv', csv);

    // One partition, one batch: every spelling but the winner collapses there.
    expect(counts).toMatchObject({ read: equal.length, collapsed: equal.length - 1, inserted: 1, updated: 0, unchanged: 0 });
    const [stored] = await sql.unsafe(`SELECT count(*)::int AS n, min(v) AS v FROM ${table}`);
    expect(stored).toEqual({ n: 1, v: equal.length - 1 });
  });

  test('the spellings above would spread over several partitions as raw text (the test can fail)', () => {
    const spread = CASES.filter((c) => new Set(c.equal).size > 1).filter((c) => new Set(c.equal.map((s) => partitionOf([s], PARTITIONS))).size > 1);
    expect(spread.length).toBeGreaterThan(CASES.length / 2);
  });
});
