import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { beforeAll, describe, expect, test } from 'vitest';
import type { TargetTable } from '../../shared/postgres/target-table.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startFileLoader, startParquetWriter, type LoadedFile } from '../helpers/load-file.ts';
import { MATRIX, MATRIX_SETUP, type MatrixColumn } from '../helpers/type-matrix.ts';

/**
 * Every built-in type family × every format that can carry it: the value Landfall stores equals
 * what PostgreSQL itself stores for the same value, with PostgreSQL's own COPY as the oracle (of
 * the file itself for CSV; of the PostgreSQL text of each value for NDJSON and Parquet values in
 * their own types). Re-sent in other spellings PostgreSQL holds equal, a row counts `unchanged`,
 * types without an equality operator included. All files of a format go into one wide table, so
 * the whole matrix is a handful of loads.
 */
const { sql } = await createTestDatabase();
const loader = await startFileLoader(sql);
const parquet = await startParquetWriter();

const columnsDdl = MATRIX.map((c) => `${c.name} ${c.type}`).join(', ');
const csvField = (v: string | null) => (v === null ? '' : `"${v.replaceAll('"', '""')}"`);
const csvOf = (columns: string[], rows: (string | null)[][]) => [columns.join(','), ...rows.map((r) => r.map(csvField).join(','))].join('\n') + '\n';
const duckString = (v: string) => v.split('\u0000').map((part) => `'${part.replaceAll("'", "''")}'`).join(' || chr(0) || ');

/** Rows of PostgreSQL text, one per id, as `text` spells them (CSV, NDJSON strings, Parquet VARCHAR). */
const TEXT_ROWS = Math.max(...MATRIX.map((c) => c.text.length));
const textRow = (i: number) => MATRIX.map((c) => c.text[i] ?? null);
const nativeRows = (kind: 'json' | 'parquet') => Math.max(...MATRIX.map((c) => c[kind]?.length ?? 0));

/** The oracle: PostgreSQL's own COPY of the PostgreSQL text of every value, into a table of the same columns. */
async function oracleTable(name: string, rows: { id: number; values: (string | null)[] }[]) {
  await sql.unsafe(`CREATE TABLE ${name} (id int PRIMARY KEY, ${columnsDdl})`);
  const copy = await sql.unsafe(`COPY ${name} (id, ${MATRIX.map((c) => c.name).join(', ')}) FROM STDIN WITH (FORMAT csv)`).writable();
  await pipeline(Readable.from([rows.map((r) => [String(r.id), ...r.values].map(csvField).join(',')).join('\n') + '\n']), copy);
}

/**
 * A matrix table. With `stored`, rows of these ids exist (all NULL) before the load, so the file
 * takes the set-based upsert (its values bound as typed arrays) and not the COPY fast path.
 */
async function matrixTable(name: string, stored: number[] = []): Promise<TargetTable> {
  await sql.unsafe(`CREATE TABLE ${name} (id int PRIMARY KEY, ${columnsDdl})`);
  for (const id of stored) await sql.unsafe(`INSERT INTO ${name} (id) VALUES ($1)`, [id]);
  return loader.table({ table: name, conflictKey: ['id'] });
}

/** `column::text` by id, of a table. */
async function textsOf(table: string, column: string): Promise<[number, string | null][]> {
  const rows = await sql.unsafe<{ id: number; v: string | null }[]>(`SELECT id, ${column}::text AS v FROM ${table} ORDER BY id`);
  return rows.map((r) => [r.id, r.v]);
}

const loads: Record<string, LoadedFile[]> = {};
const targets: Record<string, TargetTable> = {};

beforeAll(async () => {
  for (const statement of MATRIX_SETUP) await sql.unsafe(statement);
  const names = MATRIX.map((c) => c.name);
  const textRows = Array.from({ length: TEXT_ROWS }, (_, i) => ({ id: i + 1, values: textRow(i) }));

  // CSV: the file is the oracle's input too; once through the upsert, once through COPY.
  const csv = csvOf(['id', ...names], textRows.map((r) => [String(r.id), ...r.values]));
  targets.csv = await matrixTable('matrix_csv', [1]);
  await oracleTable('oracle_csv', textRows);
  loads.csv = [await loader.load(targets.csv, 'matrix.csv', csv)];
  targets['csv-copy'] = await matrixTable('matrix_csv_copy');
  await oracleTable('oracle_csv_copy', textRows);
  loads['csv-copy'] = [await loader.load(targets['csv-copy'], 'matrix.csv', csv)];

  // NDJSON: the texts as strings, then JSON's own numbers, booleans, objects and arrays.
  const jsonRows = Array.from({ length: nativeRows('json') }, (_, j) => ({
    id: 1000 + j,
    values: MATRIX.map((c) => c.json?.[j] ?? null),
  }));
  targets.ndjson = await matrixTable('matrix_ndjson', [1]);
  await oracleTable('oracle_ndjson', [...textRows, ...jsonRows.map((r) => ({ id: r.id, values: r.values.map((v) => v?.pg ?? null) }))]);
  const lines = [
    ...textRows.map((r) => JSON.stringify(Object.fromEntries([['id', r.id], ...names.map((n, i) => [n, r.values[i]])]))),
    ...jsonRows.map((r) => JSON.stringify(Object.fromEntries([['id', r.id], ...names.map((n, i) => [n, r.values[i]?.value ?? null])]))),
  ];
  loads.ndjson = [await loader.load(targets.ndjson, 'matrix.ndjson', lines.join('\n') + '\n')];

  // Parquet: one file of VARCHAR texts, one of Parquet's own types (DuckDB), into one table.
  const parquetRows = Array.from({ length: nativeRows('parquet') }, (_, j) => ({ id: 2000 + j, values: MATRIX.map((c) => c.parquet?.[j] ?? null) }));
  const typed = MATRIX.filter((c) => c.parquet);
  targets.parquet = await matrixTable('matrix_parquet', [1, 2000]);
  await oracleTable('oracle_parquet', [...textRows, ...parquetRows.map((r) => ({ id: r.id, values: r.values.map((v) => v?.pg ?? null) }))]);
  const varchar = await parquet(
    textRows.map((r) => `SELECT ${r.id} AS id, ${r.values.map((v, i) => `${v === null ? 'NULL' : duckString(v)}::VARCHAR AS ${names[i]}`).join(', ')}`).join(' UNION ALL '),
  );
  const native = await parquet(
    parquetRows
      .map((r) => `SELECT ${r.id} AS id, ${typed.map((c) => `${c.parquet![r.id - 2000]?.duck ?? 'NULL'} AS ${c.name}`).join(', ')}`)
      .join(' UNION ALL BY NAME '),
  );
  loads.parquet = [await loader.load(targets.parquet, 'text.parquet', varchar), await loader.load(targets.parquet, 'native.parquet', native)];
}, 300_000);

describe.each(['csv', 'csv-copy', 'ndjson', 'parquet'])('%s', (format) => {
  const table = format.replace('-', '_');
  test('every row is stored, none quarantined', () => {
    const expected = TEXT_ROWS + (format.startsWith('csv') ? 0 : nativeRows(format === 'ndjson' ? 'json' : 'parquet'));
    const written = loads[format]!.reduce((n, l) => n + l.counts.inserted + l.counts.updated, 0);
    expect(loads[format]!.flatMap((l) => l.failures.map((f) => `row ${f.rowNumber} ${f.column}: ${f.message}`))).toEqual([]);
    expect(written, JSON.stringify(loads[format]!.map((l) => l.counts))).toBe(expected);
  });

  test.each(MATRIX.map((c) => [c.name, c.type, c] as const))('%s %s: stored as PostgreSQL stores the same value', async (name, _type, _c) => {
    expect(await textsOf(`matrix_${table}`, name)).toEqual(await textsOf(`oracle_${table}`, name));
  });
});

describe('the same values spelled differently count unchanged', () => {
  test.each(MATRIX.filter((c) => c.respell).map((c) => [c.name, c.type, c] as const))('%s %s', async (name, _type, column: MatrixColumn) => {
    const before = await textsOf('matrix_csv', name);
    const rows = Object.entries(column.respell!).map(([i, v]) => [String(Number(i) + 1), v]);

    const { counts } = await loader.load(targets.csv!, `respell-${name}.csv`, csvOf(['id', name], rows));

    expect(counts).toMatchObject({ read: rows.length, unchanged: rows.length, updated: 0, quarantined: 0 });
    expect(await textsOf('matrix_csv', name)).toEqual(before);
  });
});

describe('no value takes its batch down: what PostgreSQL cannot store is quarantined row by row', () => {
  const bad = MATRIX.filter((c) => c.unstorable);
  const rowOf = (i: number) => MATRIX.map((c) => (c === bad[i] ? c.unstorable![0] : null));
  const files: Record<string, () => Promise<string | Buffer>> = {
    csv: async () => csvOf(['id', ...MATRIX.map((c) => c.name)], [['1', ...MATRIX.map(() => null)], ...bad.map((_, i) => [String(100 + i), ...rowOf(i)])]),
    ndjson: async () =>
      [{ id: 1 }, ...bad.map((c, i) => ({ id: 100 + i, [c.name]: c.unstorable![0] }))]
        .map((o) => JSON.stringify({ ...Object.fromEntries(MATRIX.map((c) => [c.name, null])), ...o }))
        .join('\n') + '\n',
    parquet: async () =>
      parquet([`SELECT 1 AS id, ${MATRIX.map((c) => `NULL::VARCHAR AS ${c.name}`).join(', ')}`, ...bad.map((_, i) => `SELECT ${100 + i} AS id, ${rowOf(i).map((v, j) => `${v === null ? 'NULL' : duckString(v)}::VARCHAR AS ${MATRIX[j]!.name}`).join(', ')}`)].join(' UNION ALL ')),
  };

  test.each(['csv', 'ndjson', 'parquet'])('%s: each bad value quarantines its row with file, row, column, type and reason; the good row applies', async (format) => {
    const target = await matrixTable(`matrix_bad_${format}`);
    const types = new Map(target.catalog.columns.map((c) => [c.name, c.type]));

    const { counts, failures } = await loader.load(target, `bad.${format}`, await files[format]!());

    expect(counts).toMatchObject({ read: bad.length + 1, inserted: 1, quarantined: bad.length });
    const rowNumber = (i: number) => i + 2;
    expect(failures.map((f) => ({ row: f.rowNumber, column: f.column, sqlstate: f.sqlstate, file: f.fileKey.endsWith(`bad.${format}`) })).sort((a, b) => a.row - b.row)).toEqual(
      bad.map((c, i) => ({ row: rowNumber(i), column: c.name, sqlstate: c.unstorable![1], file: true })),
    );
    for (const f of failures) expect(f.message).toContain(`column "${f.column}" (${types.get(f.column!)})`);
  });
});
