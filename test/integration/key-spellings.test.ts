import { describe, expect, test } from 'vitest';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { catalogSnapshotKeyOf, parseSnapshot } from '../../shared/core/catalog-snapshot.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { partitionOf } from '../../shared/core/partition.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { EQUAL_SPELLINGS } from '../helpers/key-spellings.ts';
import { startTestStack } from '../helpers/local-stack.ts';
import { csvOf } from '../helpers/producer-files.ts';

/**
 * One key spelled several ways, through the whole local stack with 8 partitions and equal
 * versions (ties): the spellings must land in one FIFO group and one batch, so the later row
 * wins (the first in insert mode) and the repeats count as `collapsed`. The tables have no
 * arrival column on purpose: a tie across groups would then go to whichever group ran last.
 */
const cases = EQUAL_SPELLINGS.filter((c) => c.equal.length > 1 && !c.timeZone).map((c, i) => ({
  ...c,
  name: `k${i}_${c.column.baseType}`,
  sqlType: `${c.column.type}${c.column.collation ? ` COLLATE "${c.column.collation.name}"` : ''}`,
}));

const db = await createTestDatabase();
const { sql } = db;
await sql`CREATE EXTENSION IF NOT EXISTS citext`;
await sql`CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`;
for (const c of cases) {
  for (const mode of ['upsert', 'insert']) await sql.unsafe(`CREATE TABLE ${c.name}_${mode} (k ${c.sqlType} PRIMARY KEY, v int NOT NULL, n int NOT NULL)`);
}
await sql`CREATE TABLE bigint_keys (id bigint PRIMARY KEY, v int NOT NULL, val text NOT NULL)`;
await sql`CREATE TABLE composite_keys (tenant citext NOT NULL, id bigint NOT NULL, at timestamptz NOT NULL, v int NOT NULL, n int NOT NULL, PRIMARY KEY (tenant, id, at))`;
const config = parseConfig({
  tables: [
    ...cases.flatMap((c) => ['upsert', 'insert'].map((mode) => ({ table: `${c.name}_${mode}`, conflictKey: ['k'], version: 'v', mode, partitions: 8 }))),
    { table: 'composite_keys', conflictKey: ['tenant', 'id', 'at'], version: 'v', partitions: 8 },
    { table: 'bigint_keys', conflictKey: ['id'], version: 'v', partitions: 8 },
  ],
  // Small batches: a key's two spellings often fall in different chunks of their partition.
  batch: { maxRows: 50, maxBytes: 1024 * 1024 },
});
const t = await startTestStack(config, db.url);

describe('the catalog snapshot', () => {
  test('is in staging for every table when the stack starts, with types, collations and the session time zone', async () => {
    const ci = cases.find((c) => c.column.collation)!;
    const read = async (table: string) => {
      const object = await t.stack.s3.send(new GetObjectCommand({ Bucket: t.stack.buckets.staging, Key: catalogSnapshotKeyOf(table) }));
      return parseSnapshot(await object.Body!.transformToString());
    };

    const snapshot = await read(`${ci.name}_upsert`);

    expect(snapshot).toMatchObject({ table: `${ci.name}_upsert`, conflictKey: ['k'], index: `${ci.name}_upsert_pkey`, arrivalColumn: null, timeZone: expect.any(String) });
    expect(snapshot!.columns[0]).toEqual({ name: 'k', type: 'text', baseType: 'text', category: 'S', collation: { schema: 'public', name: 'ci', deterministic: false, locale: 'und-u-ks-level2' } });
    expect((await read(`${cases[0]!.name}_insert`))!.columns.map((c) => c.name)).toEqual(['k', 'v', 'n']);
  });
});

describe('one key spelled several ways has one winner', () => {
  test('the raw spellings would spread over several partitions (what this test guards against)', () => {
    const spread = cases.filter((c) => new Set(c.equal.map((s) => partitionOf([s], 8))).size > 1);
    expect(spread.length).toBeGreaterThanOrEqual(cases.length - 2);
  });

  describe.each(cases)('$label ($sqlType)', (c) => {
    // Rows n = 1..m spell one key; the last row spells another key.
    const rows = [...c.equal.map((k, i) => ({ k, v: 1, n: i + 1 })), { k: c.other, v: 1, n: 0 }];
    const m = c.equal.length;

    test.each([
      { mode: 'upsert', expectedN: m, rule: 'the later row wins' },
      { mode: 'insert', expectedN: 1, rule: 'the first row wins' },
    ])('$mode: stored n = $expectedN ($rule); repeats are collapsed', async ({ mode, expectedN }) => {
      const table = `${c.name}_${mode}`;

      const receipt = await t.run(t.file(`${table}.csv`, csvOf(rows)), table);

      expect(receipt).toMatchObject({ status: 'complete', read: m + 1, inserted: 2, collapsed: m - 1, quarantined: 0, addsUp: true });
      const stored = await sql.unsafe(`SELECT n FROM ${table} ORDER BY n`);
      expect(stored.map((r) => r.n)).toEqual([0, expectedN]);
    });
  });
});

describe('a composite key', () => {
  test('each column is canonicalised by its own type: one key, one winner, the repeats collapsed', async () => {
    const spellings = [
      ['Acme', '7', '2024-06-01T00:00:00Z'],
      ['ACME', '07', '2024-06-01 02:00:00+02'],
      ['acme', '+7', '2024-05-31 20:00:00-04'],
      ['AcMe', ' 7', '2024-06-01 00:00:00.000000+00'],
    ];
    const rows = [...spellings.map(([tenant, id, at], i) => ({ tenant: tenant!, id: id!, at: at!, v: 1, n: i + 1 })), { tenant: 'acme', id: '8', at: '2024-06-01T00:00:00Z', v: 1, n: 0 }];

    const receipt = await t.run(t.file('composite.csv', csvOf(rows)), 'composite_keys');

    expect(receipt).toMatchObject({ status: 'complete', read: 5, inserted: 2, collapsed: 3, addsUp: true });
    expect(await sql`SELECT id::int AS id, n FROM composite_keys ORDER BY id`).toEqual([{ id: 7, n: 4 }, { id: 8, n: 0 }]);
  });
});

describe('the load the issue reported: 200 bigint keys written as n and then 0n, equal versions', () => {
  test('every key keeps its later row, across chunks of one partition too', async () => {
    const rows = [
      ...Array.from({ length: 200 }, (_, n) => ({ id: String(n), v: 1, val: `first ${n}` })),
      ...Array.from({ length: 200 }, (_, n) => ({ id: `0${n}`, v: 1, val: `later ${n}` })),
    ];

    const receipt = await t.run(t.file('bigint-keys.csv', csvOf(rows)), 'bigint_keys');

    expect(receipt).toMatchObject({ status: 'complete', read: 400, inserted: 200, addsUp: true });
    expect(receipt.collapsed + receipt.updated).toBe(200);
    const wrong = await sql`SELECT count(*)::int AS n FROM bigint_keys WHERE val <> 'later ' || id`;
    expect(wrong).toEqual([{ n: 0 }]);
  });
});
