/**
 * Engine benchmark: rows/s of the set-based upsert against COPY into the same table, measured
 * in the same run on the same server over one connection. Not a test: it prints a table.
 *
 *   npm run bench:engine                 # 1,000,000 rows, batches of 10,000
 *   ROWS=200000 BATCH=50000 ROUNDS=5 npm run bench:engine
 *
 * Scenarios run interleaved in ROUNDS rounds (default 3); each ratio is taken inside a round
 * and the median over the rounds is reported with its range. The last two lines are for scripts:
 *   engine: fresh inserts <r>x COPY, updates <r>x update limit, 50/50 <r>x COPY
 *   engine, merge rules: updates <r>x update limit
 *
 * DATABASE_URL points it at your own PostgreSQL; otherwise it starts the embedded one.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import { applyBatch } from '../shared/postgres/apply-batch.ts';
import type { BatchData } from '../shared/core/batch.ts';
import { batchOfNewFile } from './batches.ts';
import { parseConfig } from '../shared/core/config.ts';
import { migrateLedger } from '../shared/postgres/ledger/migrate.ts';
import { benchDatabase } from './database.ts';
import { formatRatio, printTable, ratioOf, runRounds, type Scenario } from './rounds.ts';
import { toPgArrayLiteral } from '../shared/postgres/pg-array.ts';
import { prepareTable, type TargetTable } from '../shared/postgres/target-table.ts';
import { tombstoneRelationOf } from '../shared/core/tombstone-names.ts';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const BATCH = Number(process.env.BATCH ?? 10_000);
const VALUES_CHUNK = 1_000;
const COLUMNS = ['tenant_id', 'sku', 'name', 'qty', 'price', 'attrs', 'updated_at', 'active'] as const;
const TABLE = 'bench_items';
const ROUNDS = Number(process.env.ROUNDS ?? 3);

/** Scenario names (the table's rows, and what the summary line divides). */
const S = {
  copy: 'COPY into the table (reference)',
  fresh: 'engine: fresh inserts',
  updateLimit: 'update limit: plain UPDATE … FROM unnest (reference)',
  updates: 'engine: pure updates',
  mixed: 'engine: 50% inserts / 50% updates',
  duplicates: 'engine: fresh, 10% in-batch duplicates',
  valuesFresh: 'VALUES 1,000-row chunks: fresh inserts',
  valuesUpdates: 'VALUES 1,000-row chunks: pure updates',
  mergeFresh: 'COPY temp + merge (pins RDS Proxy): fresh inserts',
  mergeUpdates: 'COPY temp + merge (pins RDS Proxy): pure updates',
  deleteRuleFresh: 'engine, delete rule: fresh inserts, no delete remembered (COPY)',
  deleteRuleFreshRemembered: 'engine, delete rule: fresh inserts, one delete remembered (upsert)',
  deleteRuleUpdates: 'engine, delete rule: pure updates',
  deleteRuleHalf: 'engine, delete rule: 50% deletes / 50% updates',
  deleteRuleLate: 'engine, delete rule: late older rows (stale vs rows and remembered deletes)',
  partitionedCopy: 'partitioned (range, 4 partitions): COPY (reference)',
  partitionedFresh: 'engine, partitioned: fresh inserts',
  partitionedUpdates: 'engine, partitioned: pure updates',
  partitionedMixed: 'engine, partitioned: 50% inserts / 50% updates',
  mergeRulesUpdates: 'engine, merge rules (add, keep, ignoreNull): pure updates',
} as const;

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

const toBatch = (data: DataSet, from: number, to: number): BatchData => batchOfNewFile(TABLE, COLUMNS, data.slice(from, to), from + 1);

async function reset(sql: postgres.Sql, prefill?: DataSet) {
  await sql.unsafe(`TRUNCATE ${TABLE}`);
  await sql.unsafe('TRUNCATE landfall.batches');
  if (prefill) await copyInto(sql, TABLE, prefill);
  await sql.unsafe(`VACUUM ANALYZE ${TABLE}`);
  await sql.unsafe('CHECKPOINT');
}

async function runEngine(sql: postgres.Sql, target: TargetTable, data: DataSet): Promise<string> {
  const n = data.rows;
  const totals = { inserted: 0, updated: 0, collapsed: 0 };
  for (let from = 0; from < n; from += BATCH) {
    const { counts } = await applyBatch(sql, target, toBatch(data, from, Math.min(n, from + BATCH)));
    totals.inserted += counts.inserted;
    totals.updated += counts.updated;
    totals.collapsed += counts.collapsed;
  }
  return `inserted ${totals.inserted}, updated ${totals.updated}, collapsed ${totals.collapsed}`;
}

const UPDATE_SET = COLUMNS.filter((c) => c !== 'tenant_id' && c !== 'sku').map((c) => `${c} = EXCLUDED.${c}`).join(', ');
const UPSERT_GUARD = `WHERE ${TABLE}.updated_at < EXCLUDED.updated_at`;
const COLUMN_TYPES = ['int4', 'text', 'text', 'int4', 'numeric', 'jsonb', 'timestamptz', 'bool'] as const;

/**
 * The physical limit for updates: a plain `UPDATE … FROM unnest(…)` of the same rows in the same
 * batches, one transaction each, with no conflict handling, no winner rule and no counts; the
 * same table and indexes. What any update path pays at least.
 */
async function runUpdateLimit(sql: postgres.Sql, data: DataSet): Promise<void> {
  const set = COLUMNS.filter((c) => c !== 'tenant_id' && c !== 'sku').map((c) => `${c} = u.${c}`).join(', ');
  const text = `UPDATE ${TABLE} AS t SET ${set}
    FROM unnest(${COLUMN_TYPES.map((type, i) => `$${i + 1}::${type}[]`).join(', ')}) AS u(${COLUMNS.join(', ')})
    WHERE t.tenant_id = u.tenant_id AND t.sku = u.sku`;
  for (let from = 0; from < data.rows; from += BATCH) {
    const cols = data.slice(from, Math.min(data.rows, from + BATCH));
    await sql.begin((tx) => tx.unsafe(text, cols.map((c) => toPgArrayLiteral(c))));
  }
}

/** What most TypeScript code does: multi-row VALUES with 8 params a row, 1,000 rows a statement. */
async function runValues(sql: postgres.Sql, data: DataSet): Promise<void> {
  const n = data.rows;
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
}

/** What dlt and pipelinewise do: COPY into a temporary table, then one merge. It pins RDS Proxy. */
async function runCopyMerge(sql: postgres.Sql, data: DataSet): Promise<void> {
  const n = data.rows;
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
}

/**
 * Delete-heavy batches on a table with a delete rule (remembered deletes), on a copy of the
 * table of its own: pure updates (against "engine: pure updates", the cost of the tombstone
 * look-ups), half the rows tombstones, and then the same keys again as late older rows (all
 * stale: half against the rows, half against the remembered deletes).
 */
async function deleteRuleScenarios(sql: postgres.Sql, v0: DataSet, v1: DataSet): Promise<Scenario[]> {
  const table = 'bench_deletes';
  await sql.unsafe(`DROP TABLE IF EXISTS ${table}`);
  await sql.unsafe(`CREATE TABLE ${table} (LIKE ${TABLE} INCLUDING ALL)`);
  const config = parseConfig({ tables: [{ table, conflictKey: ['tenant_id', 'sku'], version: 'updated_at', delete: { column: '_op', equals: 'D' } }] });
  const target = await prepareTable(sql, config.tables[0]!);
  const remembered = tombstoneRelationOf({ schema: 'public', name: table }).quoted;
  /** `deleteEvery` null: the batches have no delete column at all. */
  const apply = async (data: DataSet, deleteEvery: number | null) => {
    const totals = { inserted: 0, updated: 0, deleted: 0, stale: 0 };
    for (let from = 0; from < data.rows; from += BATCH) {
      const batch = { ...toBatch(data, from, Math.min(data.rows, from + BATCH)), table };
      const ops = batch.rowNumbers.map((n) => (deleteEvery && n % deleteEvery === 0 ? 'D' : null));
      const withOps = deleteEvery === null ? batch : { ...batch, columns: [...batch.columns, '_op'], values: [...batch.values, ops] };
      const { counts } = await applyBatch(sql, target, withOps);
      for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += counts[k];
    }
    return Object.entries(totals).map(([k, v]) => `${k} ${v}`).join(', ');
  };
  const prefilled = async () => {
    await sql.unsafe(`TRUNCATE ${table}, ${remembered}`);
    await copyInto(sql, table, v0);
    await sql.unsafe(`VACUUM ANALYZE ${table}`);
  };
  const emptied = async () => {
    await sql.unsafe(`TRUNCATE ${table}, ${remembered}`);
    await sql.unsafe('CHECKPOINT');
  };
  // A delete of a key outside the data set: the table now remembers one, so rule 6 must be
  // checked row by row and every batch takes the upsert.
  const oneRemembered = async () => {
    await emptied();
    const tombstone = batchOfNewFile(table, [...COLUMNS, '_op'], [...generate(0, 1, 9).map((c) => c.map(() => null)), ['D']], 1);
    tombstone.values[0]![0] = '-1';
    tombstone.values[1]![0] = 'remembered';
    tombstone.values[6]![0] = new Date(Date.UTC(2030, 0, 1)).toISOString();
    await applyBatch(sql, target, { ...tombstone, table });
  };
  return [
    // A first full load of a delete-rule table (files without the delete column): COPY while the
    // table remembers no delete, the upsert once it remembers one (rule 6).
    { name: S.deleteRuleFresh, prepare: emptied, run: () => apply(v0, null) },
    { name: S.deleteRuleFreshRemembered, prepare: oneRemembered, run: () => apply(v0, null) },
    { name: S.deleteRuleUpdates, prepare: prefilled, run: () => apply(v1, 0) },
    { name: S.deleteRuleHalf, prepare: prefilled, run: () => apply(v1, 2) },
    {
      name: S.deleteRuleLate,
      prepare: async () => {
        await prefilled();
        await apply(v1, 2);
      },
      run: () => apply(v0, 0),
    },
  ];
}

/**
 * A range-partitioned copy of the table (by tenant_id, part of the key, 4 partitions): COPY into
 * it as the reference, then the engine's fresh inserts, pure updates and a 50/50 batch into it.
 */
async function partitionedScenarios(sql: postgres.Sql, v0: DataSet, v1: DataSet, firstHalf: DataSet): Promise<Scenario[]> {
  const table = 'bench_partitioned';
  await sql.unsafe(`DROP TABLE IF EXISTS ${table}`);
  await sql.unsafe(`CREATE TABLE ${table} (LIKE ${TABLE} INCLUDING DEFAULTS) PARTITION BY RANGE (tenant_id)`);
  await sql.unsafe(`ALTER TABLE ${table} ADD UNIQUE (tenant_id, sku)`);
  await sql.unsafe(`CREATE INDEX ON ${table} (updated_at)`);
  for (const from of [0, 25, 50, 75]) await sql.unsafe(`CREATE TABLE ${table}_${from} PARTITION OF ${table} FOR VALUES FROM (${from}) TO (${from + 25})`);
  const config = parseConfig({ tables: [{ table, conflictKey: ['tenant_id', 'sku'], version: 'updated_at' }] });
  const target = await prepareTable(sql, config.tables[0]!);
  const apply = async (data: DataSet) => {
    const totals = { inserted: 0, updated: 0 };
    for (let from = 0; from < data.rows; from += BATCH) {
      const { counts } = await applyBatch(sql, target, { ...toBatch(data, from, Math.min(data.rows, from + BATCH)), table });
      totals.inserted += counts.inserted;
      totals.updated += counts.updated;
    }
    return `inserted ${totals.inserted}, updated ${totals.updated}`;
  };
  const reset = (prefill?: DataSet) => async () => {
    await sql.unsafe(`TRUNCATE ${table}`);
    if (prefill) await copyInto(sql, table, prefill);
    await sql.unsafe(`VACUUM ANALYZE ${table}`);
  };
  return [
    { name: S.partitionedCopy, prepare: reset(), run: () => copyInto(sql, table, v0) },
    { name: S.partitionedFresh, prepare: reset(), run: () => apply(v0) },
    { name: S.partitionedUpdates, prepare: reset(v0), run: () => apply(v1) },
    { name: S.partitionedMixed, prepare: reset(firstHalf), run: () => apply(v1) },
  ];
}

/**
 * Pure updates on a copy of the table whose config gives three columns merge rules (`qty` add,
 * `name` keep, `price` ignoreNull): against "engine: pure updates", the cost of the merge form of
 * the statement (docs/rules.md, "Merge rules").
 */
async function mergeRuleScenarios(sql: postgres.Sql, v0: DataSet, v1: DataSet): Promise<Scenario[]> {
  const table = 'bench_merge';
  await sql.unsafe(`DROP TABLE IF EXISTS ${table}`);
  await sql.unsafe(`CREATE TABLE ${table} (LIKE ${TABLE} INCLUDING ALL)`);
  const config = parseConfig({ tables: [{ table, conflictKey: ['tenant_id', 'sku'], version: 'updated_at', merge: { qty: 'add', name: 'keep', price: 'ignoreNull' } }] });
  const target = await prepareTable(sql, config.tables[0]!);
  return [
    {
      name: S.mergeRulesUpdates,
      prepare: async () => {
        await sql.unsafe(`TRUNCATE ${table}`);
        await sql.unsafe('TRUNCATE landfall.batches');
        await copyInto(sql, table, v0);
        await sql.unsafe(`VACUUM ANALYZE ${table}`);
        await sql.unsafe('CHECKPOINT');
      },
      run: async () => {
        const totals = { updated: 0 };
        for (let from = 0; from < v1.rows; from += BATCH) {
          const { counts } = await applyBatch(sql, target, { ...toBatch(v1, from, Math.min(v1.rows, from + BATCH)), table });
          totals.updated += counts.updated;
        }
        return `updated ${totals.updated}`;
      },
    },
  ];
}

async function main() {
  const { url, stop } = await benchDatabase();
  const sql = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
  try {
    const [version] = await sql`SELECT current_setting('server_version') AS v`;
    console.log(
      `PostgreSQL ${version!.v}; ${ROWS.toLocaleString('en')} rows; engine batches of ${BATCH.toLocaleString('en')}; one connection, prepare: false; ${ROUNDS} interleaved rounds\n`,
    );
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
    const firstHalf = dataSet(Math.floor(ROWS / 2), 0);
    const withDuplicates = dataSet(ROWS, 2, 10);
    const empty = () => reset(sql);
    const prefilled = (data: DataSet) => () => reset(sql, data);
    // Each scenario is self-contained: its starting state, then the timed work.
    const scenarios: Scenario[] = [
      { name: S.copy, prepare: empty, run: () => copyInto(sql, TABLE, v0) },
      { name: S.fresh, prepare: empty, run: () => runEngine(sql, target, v0) },
      { name: S.updateLimit, prepare: prefilled(v0), run: () => runUpdateLimit(sql, v1) },
      { name: S.updates, prepare: prefilled(v0), run: () => runEngine(sql, target, v1) },
      { name: S.mixed, prepare: prefilled(firstHalf), run: () => runEngine(sql, target, v1) },
      { name: S.duplicates, prepare: empty, run: () => runEngine(sql, target, withDuplicates) },
      { name: S.valuesFresh, prepare: empty, run: () => runValues(sql, v0) },
      { name: S.valuesUpdates, prepare: prefilled(v0), run: () => runValues(sql, v1) },
      { name: S.mergeFresh, prepare: empty, run: () => runCopyMerge(sql, v0) },
      { name: S.mergeUpdates, prepare: prefilled(v0), run: () => runCopyMerge(sql, v1) },
      ...(await deleteRuleScenarios(sql, v0, v1)),
      ...(await partitionedScenarios(sql, v0, v1, firstHalf)),
      ...(await mergeRuleScenarios(sql, v0, v1)),
    ];
    const results = await runRounds(scenarios, ROUNDS, ROWS);

    printTable(results, ROWS, S.copy, 'COPY');
    console.log(`\nengine pure updates × VALUES pure updates: ${formatRatio(ratioOf(results, S.updates, S.valuesUpdates))}`);
    console.log(`engine fresh inserts × COPY temp + merge: ${formatRatio(ratioOf(results, S.fresh, S.mergeFresh))}`);
    console.log(`engine pure updates × update limit: ${formatRatio(ratioOf(results, S.updates, S.updateLimit))}`);
    console.log(`delete rule, pure updates × engine pure updates (the tombstone look-ups): ${formatRatio(ratioOf(results, S.deleteRuleUpdates, S.updates))}`);
    console.log(`delete rule, fresh inserts, no delete remembered (COPY) × one remembered (upsert): ${formatRatio(ratioOf(results, S.deleteRuleFresh, S.deleteRuleFreshRemembered))}`);
    console.log(
      `partitioned table × COPY into it: fresh inserts ${formatRatio(ratioOf(results, S.partitionedFresh, S.partitionedCopy))}, ` +
        `pure updates ${formatRatio(ratioOf(results, S.partitionedUpdates, S.partitionedCopy))}, 50/50 ${formatRatio(ratioOf(results, S.partitionedMixed, S.partitionedCopy))}; ` +
        `pure updates × the same on the plain table ${formatRatio(ratioOf(results, S.partitionedUpdates, S.updates))}`,
    );
    console.log(`peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (rows are generated one batch at a time)`);
    const r = (scenario: string, reference: string) => ratioOf(results, scenario, reference).median.toFixed(2);
    console.log(`merge rules, pure updates × engine pure updates (the merge form of the statement): ${formatRatio(ratioOf(results, S.mergeRulesUpdates, S.updates))}`);
    console.log(`engine: fresh inserts ${r(S.fresh, S.copy)}x COPY, updates ${r(S.updates, S.updateLimit)}x update limit, 50/50 ${r(S.mixed, S.copy)}x COPY`);
    console.log(`engine, merge rules: updates ${r(S.mergeRulesUpdates, S.updateLimit)}x update limit`);
  } finally {
    await sql.end();
    await stop();
  }
}

await main();
