/**
 * Engine benchmark: rows/s of the set-based upsert against COPY into the same table, measured
 * in the same run on the same server over one connection. Not a test: it prints a table.
 *
 *   npm run bench:engine                 # 1,000,000 rows, batches of 10,000
 *   ROWS=200000 BATCH=50000 npm run bench:engine
 *
 * DATABASE_URL points it at your own PostgreSQL; otherwise it starts the embedded one.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import { applyBatch } from '../shared/apply-batch.ts';
import { type BatchData, batchIdOf, fileArrivalOf, fileIdOf } from '../shared/batch.ts';
import { parseConfig } from '../shared/config.ts';
import { migrateLedger } from '../shared/ledger/migrate.ts';
import { benchDatabase } from './database.ts';
import { prepareTable, type TargetTable } from '../shared/target-table.ts';
import { tombstoneRelationOf } from '../shared/tombstones.ts';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const BATCH = Number(process.env.BATCH ?? 10_000);
const VALUES_CHUNK = 1_000;
const COLUMNS = ['tenant_id', 'sku', 'name', 'qty', 'price', 'attrs', 'updated_at', 'active'] as const;
const TABLE = 'bench_items';

type Columns = (string | null)[][];

/**
 * Rows [from, to) of a data set, column-major; `variant` changes every non-key value (and bumps
 * the version). Generated per batch, so the process holds one batch, not the data set.
 */
function generate(from: number, to: number, variant: number, duplicateEvery = 0): Columns {
  const n = to - from;
  const cols: Columns = COLUMNS.map(() => new Array<string | null>(n));
  const base = Date.UTC(2026, 0, 1) + variant * 86_400_000;
  for (let k = 0; k < n; k++) {
    const r = from + k;
    // With duplicateEvery = 10, every 10th row repeats the key of the row before it.
    const i = duplicateEvery && r % duplicateEvery === duplicateEvery - 1 ? r - 1 : r;
    cols[0]![k] = String(i % 100);
    cols[1]![k] = `sku-${i}`;
    cols[2]![k] = `item ${i} v${variant}`;
    cols[3]![k] = String((i + variant) % 1000);
    cols[4]![k] = ((i % 10_000) / 100 + variant).toFixed(2);
    cols[5]![k] = `{"color":"red","size":${(i + variant) % 5},"tags":["a","b"]}`;
    cols[6]![k] = new Date(base + i * 1000 + (r !== i ? 1 : 0)).toISOString();
    cols[7]![k] = (i + variant) % 2 ? 't' : 'f';
  }
  return cols;
}

/** A data set: its size and how to make any slice of it. */
interface DataSet {
  rows: number;
  slice(from: number, to: number): Columns;
}
const dataSet = (rows: number, variant: number, duplicateEvery = 0): DataSet => ({ rows, slice: (from, to) => generate(from, to, variant, duplicateEvery) });

const csvField = (v: string | null) => (v === null ? '' : `"${v.replaceAll('"', '""')}"`);

function* csvLines(data: DataSet, from = 0, to = data.rows): Generator<string> {
  for (let start = from; start < to; start += 10_000) {
    const cols = data.slice(start, Math.min(to, start + 10_000));
    const lines: string[] = [];
    for (let r = 0; r < cols[0]!.length; r++) lines.push(`${cols.map((c) => csvField(c[r]!)).join(',')}\n`);
    yield lines.join('');
  }
}

async function copyInto(sql: postgres.Sql | postgres.TransactionSql, table: string, data: DataSet, from?: number, to?: number) {
  const writable = await sql.unsafe(`COPY ${table} (${COLUMNS.join(', ')}) FROM STDIN WITH (FORMAT csv)`).writable();
  await pipeline(Readable.from(csvLines(data, from, to)), writable);
}

let batchCounter = 0;
function toBatch(data: DataSet, from: number, to: number): BatchData {
  const file = { bucket: 'bench', key: `bench/${++batchCounter}.csv`, versionId: null, etag: String(batchCounter), eventTime: new Date(Date.UTC(2026, 0, 1) + batchCounter).toISOString() };
  const fileId = fileIdOf(file);
  return {
    format: 1,
    batchId: batchIdOf(fileId, 0, 0),
    fileId,
    file,
    table: TABLE,
    partition: 0,
    chunk: 0,
    arrival: fileArrivalOf(file),
    columns: [...COLUMNS],
    rowNumbers: Array.from({ length: to - from }, (_, i) => from + i + 1),
    values: data.slice(from, to),
  };
}

async function reset(sql: postgres.Sql, prefill?: DataSet) {
  await sql.unsafe(`TRUNCATE ${TABLE}`);
  await sql.unsafe('TRUNCATE landfall.batches');
  if (prefill) await copyInto(sql, TABLE, prefill);
  await sql.unsafe(`VACUUM ANALYZE ${TABLE}`);
  await sql.unsafe('CHECKPOINT');
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

async function runEngine(sql: postgres.Sql, target: TargetTable, data: DataSet) {
  const n = data.rows;
  const totals = { inserted: 0, updated: 0, collapsed: 0 };
  const seconds = await timed(async () => {
    for (let from = 0; from < n; from += BATCH) {
      const { counts } = await applyBatch(sql, target, toBatch(data, from, Math.min(n, from + BATCH)));
      totals.inserted += counts.inserted;
      totals.updated += counts.updated;
      totals.collapsed += counts.collapsed;
    }
  });
  return { seconds, totals };
}

const UPDATE_SET = COLUMNS.filter((c) => c !== 'tenant_id' && c !== 'sku').map((c) => `${c} = EXCLUDED.${c}`).join(', ');
const UPSERT_GUARD = `WHERE ${TABLE}.updated_at < EXCLUDED.updated_at`;

/** What most TypeScript code does: multi-row VALUES with 8 params a row, 1,000 rows a statement. */
async function runValues(sql: postgres.Sql, data: DataSet) {
  const n = data.rows;
  return timed(async () => {
    for (let from = 0; from < n; from += VALUES_CHUNK) {
      const to = Math.min(n, from + VALUES_CHUNK);
      const cols = data.slice(from, to);
      const params: (string | null)[] = [];
      const tuples: string[] = [];
      for (let r = 0; r < to - from; r++) {
        const base = params.length;
        for (const c of cols) params.push(c[r]!);
        tuples.push(`(${COLUMNS.map((_, i) => `$${base + i + 1}`).join(', ')})`);
      }
      await sql.unsafe(
        `INSERT INTO ${TABLE} (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (tenant_id, sku) DO UPDATE SET ${UPDATE_SET} ${UPSERT_GUARD}`,
        params,
      );
    }
  });
}

/** What dlt and pipelinewise do: COPY into a temporary table, then one merge. It pins RDS Proxy. */
async function runCopyMerge(sql: postgres.Sql, data: DataSet) {
  const n = data.rows;
  return timed(async () => {
    for (let from = 0; from < n; from += BATCH) {
      const to = Math.min(n, from + BATCH);
      await sql.begin(async (tx) => {
        await tx.unsafe(`CREATE TEMPORARY TABLE stage (LIKE ${TABLE} INCLUDING DEFAULTS) ON COMMIT DROP`);
        await copyInto(tx, 'stage', data, from, to);
        await tx.unsafe(
          `INSERT INTO ${TABLE} (${COLUMNS.join(', ')}) SELECT DISTINCT ON (tenant_id, sku) ${COLUMNS.join(', ')} FROM stage ORDER BY tenant_id, sku, updated_at DESC
           ON CONFLICT (tenant_id, sku) DO UPDATE SET ${UPDATE_SET} ${UPSERT_GUARD}`,
        );
      });
    }
  });
}

/**
 * Delete-heavy batches on a table with a delete rule (remembered deletes, DESIGN.md rule 6), on a
 * copy of the table of its own: half the rows tombstones, then the same keys again as late older
 * rows (all stale: half against the rows, half against the remembered deletes), then newer rows
 * that bring the deleted keys back (clearing their tombstones); and pure updates with the delete
 * rule, to compare with "engine: pure updates" for the cost of the tombstone look-ups.
 */
async function benchDeletes(sql: postgres.Sql, record: (name: string, seconds: number, note?: string) => void) {
  const table = 'bench_deletes';
  await sql.unsafe(`DROP TABLE IF EXISTS ${table}`);
  await sql.unsafe(`CREATE TABLE ${table} (LIKE ${TABLE} INCLUDING ALL)`);
  const config = parseConfig({ tables: [{ table, conflictKey: ['tenant_id', 'sku'], version: 'updated_at', delete: { column: '_op', equals: 'D' } }] });
  const target = await prepareTable(sql, config.tables[0]!);
  const remembered = tombstoneRelationOf({ schema: 'public', name: table }).quoted;
  const run = async (data: DataSet, deleteEvery: number) => {
    const totals = { inserted: 0, updated: 0, deleted: 0, stale: 0 };
    const seconds = await timed(async () => {
      for (let from = 0; from < data.rows; from += BATCH) {
        const batch = toBatch(data, from, Math.min(data.rows, from + BATCH));
        const ops = batch.rowNumbers.map((n) => (deleteEvery && n % deleteEvery === 0 ? 'D' : null));
        const { counts } = await applyBatch(sql, target, { ...batch, table, columns: [...batch.columns, '_op'], values: [...batch.values, ops] });
        for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += counts[k];
      }
    });
    return { seconds, note: Object.entries(totals).map(([k, v]) => `${k} ${v}`).join(', ') };
  };
  const resetDeletes = async () => {
    await sql.unsafe(`TRUNCATE ${table}, ${remembered}`);
    await copyInto(sql, table, dataSet(ROWS, 0));
    await sql.unsafe(`VACUUM ANALYZE ${table}`);
  };

  await resetDeletes();
  const pure = await run(dataSet(ROWS, 1), 0);
  record('engine, delete rule: pure updates', pure.seconds, pure.note);

  await resetDeletes();
  const half = await run(dataSet(ROWS, 1), 2);
  record('engine, delete rule: 50% deletes / 50% updates', half.seconds, half.note);
  const late = await run(dataSet(ROWS, 0), 0);
  record('engine, delete rule: late older rows (stale vs rows and remembered deletes)', late.seconds, late.note);
  const back = await run(dataSet(ROWS, 2), 0);
  record('engine, delete rule: newer rows bring the deleted keys back', back.seconds, back.note);
  await sql.unsafe(`DROP TABLE ${table}`);
}

async function main() {
  const { url, stop } = await benchDatabase();
  const sql = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
  try {
    const [version] = await sql`SELECT current_setting('server_version') AS v`;
    console.log(`PostgreSQL ${version!.v}; ${ROWS.toLocaleString('en')} rows; engine batches of ${BATCH.toLocaleString('en')}; one connection, prepare: false\n`);
    await migrateLedger(sql);
    await sql.unsafe(`DROP TABLE IF EXISTS ${TABLE}`);
    await sql.unsafe(`CREATE TABLE ${TABLE} (
      tenant_id int NOT NULL, sku text NOT NULL, name text, qty int, price numeric(12,2),
      attrs jsonb, updated_at timestamptz NOT NULL, active boolean,
      UNIQUE (tenant_id, sku))`);
    await sql.unsafe(`CREATE INDEX ${TABLE}_updated_at ON ${TABLE} (updated_at)`);
    const config = parseConfig({ tables: [{ table: TABLE, conflictKey: ['tenant_id', 'sku'], version: 'updated_at' }] });
    const target = await prepareTable(sql, config.tables[0]!);

    const v0 = dataSet(ROWS, 0);
    const v1 = dataSet(ROWS, 1);
    const half = Math.floor(ROWS / 2);
    const withDuplicates = dataSet(ROWS, 2, 10);
    const results: { name: string; rows: number; seconds: number; note?: string }[] = [];
    const record = (name: string, seconds: number, note?: string) => {
      results.push({ name, rows: ROWS, seconds, ...(note ? { note } : {}) });
      console.log(`  ${name}: ${(ROWS / seconds).toFixed(0)} rows/s`);
    };

    await reset(sql);
    record('COPY into the table (reference)', await timed(() => copyInto(sql, TABLE, v0)));

    await reset(sql);
    const fresh = await runEngine(sql, target, v0);
    record('engine: fresh inserts', fresh.seconds, `inserted ${fresh.totals.inserted}`);

    await reset(sql, v0);
    const updates = await runEngine(sql, target, v1);
    record('engine: pure updates', updates.seconds, `updated ${updates.totals.updated}`);

    await reset(sql, dataSet(half, 0));
    const mixed = await runEngine(sql, target, v1);
    record('engine: 50% inserts / 50% updates', mixed.seconds, `inserted ${mixed.totals.inserted}, updated ${mixed.totals.updated}`);

    await reset(sql);
    const dup = await runEngine(sql, target, withDuplicates);
    record('engine: fresh, 10% in-batch duplicates', dup.seconds, `collapsed ${dup.totals.collapsed}`);

    await reset(sql);
    record('VALUES 1,000-row chunks: fresh inserts', await runValues(sql, v0));

    await reset(sql, v0);
    record('VALUES 1,000-row chunks: pure updates', await runValues(sql, v1));

    await reset(sql);
    record('COPY temp + merge (pins RDS Proxy): fresh inserts', await runCopyMerge(sql, v0));

    await reset(sql, v0);
    record('COPY temp + merge (pins RDS Proxy): pure updates', await runCopyMerge(sql, v1));

    await benchDeletes(sql, record);

    const copy = results[0]!.seconds;
    console.log('\n| scenario | rows/s | × COPY | note |\n| --- | ---: | ---: | --- |');
    for (const r of results) {
      console.log(`| ${r.name} | ${(r.rows / r.seconds).toFixed(0)} | ${(copy / r.seconds).toFixed(2)} | ${r.note ?? ''} |`);
    }
    const byName = (name: string) => results.find((r) => r.name === name)!.seconds;
    console.log(`\nengine pure updates vs VALUES pure updates: ${(byName('VALUES 1,000-row chunks: pure updates') / byName('engine: pure updates')).toFixed(2)}×`);
    console.log(`engine fresh inserts vs COPY temp + merge: ${(byName('COPY temp + merge (pins RDS Proxy): fresh inserts') / byName('engine: fresh inserts')).toFixed(2)}×`);
    console.log(`peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (rows are generated one batch at a time)`);
  } finally {
    await sql.end();
    await stop();
  }
}

await main();
