import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { zstdCompressSync } from 'node:zlib';
import { beforeAll, describe, expect, test } from 'vitest';
import { parseConfig } from '../../shared/core/config.ts';
import type { Sql } from '../../shared/postgres/db.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';

/**
 * Issue 20's "done means": each file shape through the whole local stack, every file continued
 * over several producer invocations (1 ms producer timeout, 4 KB segments), checked against an
 * oracle: PostgreSQL's own COPY (with the same delimiter, quote, escape, NULL and encoding), its
 * own casts and to_date for the local number and date formats, and its own JSON functions for
 * the JSON array. The target table must equal the oracle's table, row for row.
 */
const db = await createTestDatabase();
const { sql } = db;

interface Row {
  id: number;
  name: string | null;
  amount: string | null;
  day: string;
}
const ROWS: Row[] = Array.from({ length: 300 }, (_, i) => ({
  id: i + 1,
  name: i % 11 === 0 ? null : i % 7 === 0 ? `Müller; "Straße", Nr. ${i}\nzweite Zeile` : i % 5 === 0 ? `O'Brien \\ ${i}` : `name ${i} €`,
  amount: i % 13 === 0 ? null : `${(i * 1234.5 + 0.25).toFixed(2)}`,
  day: `2026-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}`,
}));

const quoteCsv = (v: string, q = '"') => `${q}${v.replaceAll(q, q + q)}${q}`;
/** A delimited text of the rows: `field` writes each value. */
function delimited(d: string, field: (value: string | null, column: keyof Row) => string, header = true, eol = '\n') {
  const cols: (keyof Row)[] = ['id', 'name', 'amount', 'day'];
  const lines = ROWS.map((r) => cols.map((c) => field(r[c] === null ? null : String(r[c]), c)).join(d));
  return (header ? [cols.join(d), ...lines] : lines).join(eol) + eol;
}
const plain = (v: string | null) => (v === null ? '' : /[",\n;\t|'\\]/.test(v) ? quoteCsv(v) : v);
const euNumber = (v: string) => {
  const [whole, fraction] = v.split('.');
  return `${whole!.replace(/\B(?=(\d{3})+(?!\d))/g, '.')},${fraction}`;
};
const CP1252: Record<string, number> = { '€': 0x80 };
const cp1252 = (text: string) => Buffer.from([...text].map((c) => CP1252[c] ?? c.charCodeAt(0)));
const bzip2 = (bytes: Uint8Array) => execFileSync('bzip2', ['-c'], { input: bytes });

async function copyInto(target: Sql, statement: string, bytes: string | Buffer): Promise<void> {
  const writable = await target.unsafe(statement).writable();
  await pipeline(Readable.from([Buffer.from(bytes)]), writable);
}

interface Shape {
  table: string;
  file: string;
  format: object;
  body: () => string | Buffer;
  /** Fills `ref_<table>` (same columns) the oracle's way. */
  oracle: (ref: string) => Promise<void>;
}

const csvText = delimited(',', plain);
const shapes: Shape[] = [
  {
    table: 'eu',
    file: 'export.csv',
    format: { delimiter: ';', encoding: 'windows-1252', decimal: ',', thousands: '.', dates: { day: 'DD.MM.YYYY' } },
    body: () => cp1252(delimited(';', (v, c) => (v === null ? '' : c === 'amount' ? euNumber(v) : c === 'day' ? `${v.slice(8)}.${v.slice(5, 7)}.${v.slice(0, 4)}` : plain(v)), true, '\r\n')),
    oracle: async (ref) => {
      await sql.unsafe(`CREATE TEMP TABLE raw_eu (id text, name text, amount text, day text)`);
      await copyInto(sql, `COPY raw_eu FROM STDIN WITH (FORMAT csv, DELIMITER ';', HEADER true, ENCODING 'WIN1252')`, shapes[0]!.body());
      await sql.unsafe(`INSERT INTO ${ref} SELECT id::int, name, replace(replace(amount, '.', ''), ',', '.')::numeric, to_date(day, 'DD.MM.YYYY') FROM raw_eu`);
    },
  },
  {
    table: 'tsv',
    file: 'export.tsv',
    format: {},
    body: () => delimited('\t', plain),
    oracle: (ref) => copyInto(sql, `COPY ${ref} FROM STDIN WITH (FORMAT csv, DELIMITER E'\\t', HEADER true)`, delimited('\t', plain)),
  },
  {
    table: 'headerless',
    file: 'export.csv',
    format: { header: false, fields: ['id', 'name', 'amount', 'day'] },
    body: () => delimited(',', plain, false),
    oracle: (ref) => copyInto(sql, `COPY ${ref} FROM STDIN WITH (FORMAT csv)`, delimited(',', plain, false)),
  },
  {
    table: 'mysql',
    file: 'dump.csv',
    format: { escape: '\\', nullValues: ['\\N'] },
    body: () => delimited(',', (v) => (v === null ? '\\N' : `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)),
    oracle: (ref) => copyInto(sql, `COPY ${ref} FROM STDIN WITH (FORMAT csv, HEADER true, ESCAPE '\\', NULL '\\N')`, shapes[3]!.body()),
  },
  {
    table: 'markers',
    file: 'export.psv',
    format: { nullValues: ['NULL'], trim: true },
    body: () => delimited('|', (v) => (v === null ? ' NULL ' : ` ${quoteCsv(v)} `)),
    oracle: (ref) => copyInto(sql, `COPY ${ref} FROM STDIN WITH (FORMAT csv, DELIMITER '|', HEADER true, NULL 'NULL')`, delimited('|', (v) => (v === null ? 'NULL' : quoteCsv(v)))),
  },
  {
    table: 'utf16',
    file: 'export.csv',
    format: {},
    body: () => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(csvText, 'utf16le')]),
    oracle: (ref) => copyInto(sql, `COPY ${ref} FROM STDIN WITH (FORMAT csv, HEADER true)`, csvText),
  },
  {
    table: 'api',
    file: 'items.json',
    format: {},
    body: () => JSON.stringify(ROWS.map((r) => ({ ...r, amount: r.amount === null ? null : Number(r.amount) })), null, 2),
    oracle: async (ref) => {
      await sql.unsafe(`INSERT INTO ${ref} SELECT * FROM jsonb_populate_recordset(null::${ref}, $1::text::jsonb)`, [shapes[6]!.body() as string]);
    },
  },
  {
    table: 'zst',
    file: 'export.csv.zst',
    format: {},
    body: () => zstdCompressSync(csvText),
    oracle: (ref) => copyInto(sql, `COPY ${ref} FROM STDIN WITH (FORMAT csv, HEADER true)`, csvText),
  },
  {
    table: 'bz2',
    file: 'export.csv.bz2',
    format: {},
    body: () => bzip2(Buffer.from(csvText)),
    oracle: (ref) => copyInto(sql, `COPY ${ref} FROM STDIN WITH (FORMAT csv, HEADER true)`, csvText),
  },
];

const config = parseConfig({
  tables: [
    ...shapes.map((s) => ({ table: s.table, prefix: `${s.table}/`, conflictKey: ['id'], partitions: 3, format: s.format })),
    { table: 'strict_keys', prefix: 'strict_keys/', conflictKey: ['id'], partitions: 2 },
    { table: 'evolve_keys', prefix: 'evolve_keys/', conflictKey: ['id'], partitions: 2, schema: 'evolve' },
  ],
  batch: { maxRows: 40, maxBytes: 1024 * 1024 },
});

beforeAll(async () => {
  for (const s of shapes) {
    for (const name of [s.table, `ref_${s.table}`]) await sql.unsafe(`CREATE TABLE ${name} (id int PRIMARY KEY, name text, amount numeric(12,2), day date)`);
  }
  for (const name of ['strict_keys', 'evolve_keys']) await sql.unsafe(`CREATE TABLE ${name} (id int PRIMARY KEY, name text)`);
});
// Every invocation stops after its first 4 KB segment: each file is continued many times.
const t = await startTestStack(config, db.url, { producer: { timeoutMs: 1, limits: { segmentBytes: 4096 } } });

describe('each file shape through the local stack equals its oracle', () => {
  test.each(shapes)('$table: $file', async (shape) => {
    const receipt = await t.run(t.file(`${shape.table}-${shape.file}`, shape.body()), shape.table);
    await shape.oracle(`ref_${shape.table}`);

    expect(receipt).toMatchObject({ status: 'complete', read: 300, rejected: 0, quarantined: 0, inserted: 300, addsUp: true });
    expect(receipt.batches).toBeGreaterThan(3);
    const loaded = await sql.unsafe(`SELECT id, name, amount::text, day::text FROM ${shape.table} ORDER BY id`);
    const expected = await sql.unsafe(`SELECT id, name, amount::text, day::text FROM ref_${shape.table} ORDER BY id`);
    expect(expected).toHaveLength(300);
    expect(loaded).toEqual(expected);
  });
});

describe('a JSON object with a key the table lacks, through the local stack', () => {
  const objects = Array.from({ length: 60 }, (_, i) => ({ id: i + 1, name: `n${i + 1}`, ...(i % 20 === 7 ? { nickname: `nick ${i + 1}` } : {}) }));
  const body = JSON.stringify(objects);

  test('strict: each object that carries it is a counted reject naming line, row and key; the others land', async () => {
    const receipt = await t.run(t.file('strict_keys-objects.json', body), 'strict_keys');

    expect(receipt).toMatchObject({ status: 'complete', read: 60, rejected: 3, inserted: 57, addsUp: true });
    const rejects = await sql`SELECT row_number::int AS row, reason FROM landfall.rejects WHERE file_id = ${receipt.fileId} ORDER BY row_number`;
    expect(rejects.map((r) => r.row)).toEqual([8, 28, 48]);
    expect(rejects[0]!.reason).toMatch(/^line 1 \(row 8\): key "nickname": table "strict_keys" has no such column \(schema "strict"\)/);
    expect(await sql`SELECT count(*)::int AS n FROM strict_keys`).toEqual([{ n: 57 }]);
  });

  test('evolve: the column is added and holds the values of the objects that carried it', async () => {
    const receipt = await t.run(t.file('evolve_keys-objects.json', body), 'evolve_keys');

    expect(receipt).toMatchObject({ status: 'complete', read: 60, rejected: 0, inserted: 60, addsUp: true });
    expect(await sql`SELECT id, nickname FROM evolve_keys WHERE nickname IS NOT NULL ORDER BY id`).toEqual([
      { id: 8, nickname: 'nick 8' },
      { id: 28, nickname: 'nick 28' },
      { id: 48, nickname: 'nick 48' },
    ]);
  });
});
