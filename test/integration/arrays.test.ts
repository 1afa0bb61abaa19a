import { beforeAll, describe, expect, test } from 'vitest';
import type { TargetTable } from '../../shared/postgres/target-table.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startFileLoader, startParquetWriter } from '../helpers/load-file.ts';

const { sql } = await createTestDatabase();
const loader = await startFileLoader(sql);
const parquet = await startParquetWriter();

const COLUMNS = {
  ints: 'int[]',
  bigs: 'bigint[]',
  texts: 'text[]',
  nums: 'numeric(10,2)[]',
  uuids: 'uuid[]',
  tss: 'timestamptz[]',
  bools: 'boolean[]',
  docs: 'jsonb[]',
  grid: 'int[][]',
} as const;
type ArrayColumn = keyof typeof COLUMNS;

/** What each row must store: the array PostgreSQL itself reads from this literal (the oracle). */
const EXPECTED: Record<ArrayColumn, string> = {
  ints: '{1,2,3}',
  bigs: '{9007199254740993,-1}',
  texts: '{"a,b","c\\"d",NULL,"NULL",""}',
  nums: '{1.005,2}',
  uuids: '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
  tss: '{"2024-01-02 03:04:05.123456+00"}',
  bools: '{t,f}',
  docs: '{"{\\"a\\": 1}","[1, 2]","\\"s\\"",NULL}',
  grid: '{{1,2},{3,4}}',
};

let table = 0;
async function arraysTable(): Promise<TargetTable> {
  const name = `arrays_${++table}`;
  await sql.unsafe(`CREATE TABLE ${name} (id int PRIMARY KEY, ${Object.entries(COLUMNS).map(([c, t]) => `${c} ${t}`).join(', ')}, st jsonb, mp jsonb)`);
  return loader.table({ table: name, conflictKey: ['id'] });
}

/** Every array column of the stored row as text, next to PostgreSQL's own reading of the expected literal. */
async function storedAndOracle(target: TargetTable, id: number) {
  const [stored] = await sql.unsafe(`SELECT ${Object.keys(COLUMNS).map((c) => `${c}::text`).join(', ')} FROM ${target.catalog.quoted} WHERE id = $1`, [id]);
  const [oracle] = await sql.unsafe(`SELECT ${Object.entries(COLUMNS).map(([c, t], i) => `$${i + 1}::${t}::text AS ${c}`).join(', ')}`, Object.keys(COLUMNS).map((c) => EXPECTED[c as ArrayColumn]));
  return { stored: { ...stored }, oracle: { ...oracle } };
}

beforeAll(async () => {
  await sql`SET TIME ZONE 'UTC'`;
});

describe('arrays from every format land as PostgreSQL reads the same array', () => {
  test('NDJSON: JSON arrays of every element type, multi-dimensional too', async () => {
    const target = await arraysTable();
    const line = {
      id: 1,
      ints: [1, 2, 3],
      bigs: [9007199254740993n, -1],
      texts: ['a,b', 'c"d', null, 'NULL', ''],
      nums: [1.005, 2],
      uuids: ['A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'],
      tss: ['2024-01-02T03:04:05.123456Z'],
      bools: [true, false],
      docs: [{ a: 1 }, [1, 2], 's', null],
      grid: [[1, 2], [3, 4]],
    };
    const text = JSON.stringify(line, (_k, v: unknown) => (typeof v === 'bigint' ? (JSON as unknown as { rawJSON(s: string): unknown }).rawJSON(v.toString()) : v));

    const { counts } = await loader.load(target, 'a.ndjson', `${text}\n`);

    expect(counts).toMatchObject({ read: 1, inserted: 1, quarantined: 0 });
    const { stored, oracle } = await storedAndOracle(target, 1);
    expect(stored).toEqual(oracle);
  });

  test('CSV: PostgreSQL array literals, and JSON arrays in a field', async () => {
    const target = await arraysTable();
    const header = `id,${Object.keys(COLUMNS).join(',')}`;
    const csvField = (s: string) => `"${s.replaceAll('"', '""')}"`;
    const literal = [1, ...Object.keys(COLUMNS).map((c) => csvField(EXPECTED[c as ArrayColumn]))].join(',');
    const json = [2, ...['[1,2,3]', '[9007199254740993,-1]', '["a,b","c\\"d",null,"NULL",""]', '[1.005,2]', '["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]', '["2024-01-02T03:04:05.123456Z"]', '[true,false]', '[{"a":1},[1,2],"s",null]', '[[1,2],[3,4]]'].map(csvField)].join(',');

    const { counts } = await loader.load(target, 'a.csv', `${header}\n${literal}\n${json}\n`);

    expect(counts).toMatchObject({ read: 2, inserted: 2, quarantined: 0 });
    for (const id of [1, 2]) {
      const { stored, oracle } = await storedAndOracle(target, id);
      expect(stored).toEqual(oracle);
    }
  });

  test('Parquet (DuckDB): LIST of every element type, nested LIST, and STRUCT and MAP into jsonb', async () => {
    const target = await arraysTable();
    const file = await parquet(`SELECT 1 AS id, [1,2,3]::INT[] AS ints, [9007199254740993, -1]::BIGINT[] AS bigs,
      ['a,b', 'c"d', NULL, 'NULL', '']::VARCHAR[] AS texts, [1.005, 2]::DECIMAL(10,3)[] AS nums,
      ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID] AS uuids, [TIMESTAMPTZ '2024-01-02 03:04:05.123456+00'] AS tss,
      [true, false] AS bools, ['{"a":1}'::JSON, '[1,2]'::JSON, '"s"'::JSON, NULL] AS docs, [[1,2],[3,4]]::INT[][] AS grid,
      {'a': 1, 'b': [1, 2], 'c': 9007199254740993::BIGINT, 'd': 'x', 'e': CAST('12345678901234567.89' AS DECIMAL(20,2))} AS st, MAP {'k1': 1, 'k2': 2} AS mp`);

    const { counts } = await loader.load(target, 'a.parquet', file);

    expect(counts).toMatchObject({ read: 1, inserted: 1, quarantined: 0 });
    const { stored, oracle } = await storedAndOracle(target, 1);
    expect(stored).toEqual(oracle);
    const [nested] = await sql.unsafe(`SELECT st::text, mp::text FROM ${target.catalog.quoted} WHERE id = 1`);
    const [expected] = await sql.unsafe(`SELECT $1::text::jsonb::text AS st, $2::text::jsonb::text AS mp`, ['{"a": 1, "b": [1, 2], "c": 9007199254740993, "d": "x", "e": 12345678901234567.89}', '{"k1": 1, "k2": 2}']);
    expect({ ...nested }).toEqual({ ...expected });
  });

  test('an element that does not cast is quarantined with the column, the element position and the reason; the rest applies', async () => {
    const target = await arraysTable();
    const lines = [
      { id: 1, ints: [1, 2], grid: null, texts: null, uuids: null, bools: null },
      { id: 2, ints: [1, 'x', 3] },
      { id: 3, grid: [[1, 2], [3, 'y']] },
      { id: 4, texts: ['fine'], uuids: ['not-a-uuid'] },
      { id: 5, grid: [[1, 2], [3]] },
      { id: 6, bools: [true] },
    ];

    const { counts, failures } = await loader.load(target, 'bad.ndjson', lines.map((l) => JSON.stringify(l)).join('\n'));

    expect(counts).toMatchObject({ read: 6, inserted: 2, quarantined: 4 });
    expect(failures.map((f) => [f.rowNumber, f.column, f.sqlstate, f.message])).toEqual([
      [2, 'ints', '22P02', 'column "ints" (integer[]) element [2]: invalid input syntax for type integer: "x"'],
      [3, 'grid', '22P02', 'column "grid" (integer[]) element [2][2]: invalid input syntax for type integer: "y"'],
      [4, 'uuids', '22P02', 'column "uuids" (uuid[]) element [1]: invalid input syntax for type uuid: "not-a-uuid"'],
      [5, 'grid', '22P02', expect.stringMatching(/^column "grid" \(integer\[\]\): malformed array literal: .*multidimensional arrays must have sub-arrays with matching dimensions|^column "grid" \(integer\[\]\): malformed array literal/)],
    ]);
    const stored = await sql.unsafe(`SELECT id FROM ${target.catalog.quoted} ORDER BY id`);
    expect(stored.map((r) => r.id)).toEqual([1, 6]);
  });
});
