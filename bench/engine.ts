/**
 * Engine benchmark: rows/s of the set-based upsert against its limits, measured in the same run
 * on the same server over one connection. Not a test: it prints a table.
 *
 *   npm run bench:engine                                  # 1,000,000 rows, batches of batch.maxRows' default (50,000)
 *   ROWS=300000 npm run bench:engine                      # the size the issue's targets use
 *   ROWS=300000 SWEEP=1000,10000 npm run bench:engine     # also batches of 1,000 and 10,000
 *   ROWS=300000 SCENARIOS=headline npm run bench:engine   # only what the summary line needs
 *
 * The limits: COPY into the table for fresh inserts; for updates the faster, in each round, of a
 * plain `UPDATE … FROM unnest(…)` and COPY into a temporary table + `UPDATE … FROM`; for a batch
 * whose keys are half new, half stored (the daily case), COPY of the new half plus a plain
 * `UPDATE … FROM unnest(…)` of the stored half in one transaction per batch. None of them has
 * conflict handling, a winner rule, counts or a ledger: what any path pays at least.
 *
 * Every scenario starts from the same table state, made outside the timed part: the table (and
 * the ledger's batches) truncated, loaded with COPY where the scenario needs stored rows,
 * `VACUUM (ANALYZE)`d, then a CHECKPOINT, so no scenario inherits dead tuples, missing hint
 * bits, statistics or a pending checkpoint from the one before it (autovacuum is off for the
 * bench's tables for the same reason: a worker started by one scenario's writes must not run
 * in the next one's timed part).
 *
 * Scenarios run interleaved in rounds; each ratio is taken inside a round. After ROUNDS rounds
 * (default 3) more are run, up to MAX_ROUNDS (default 9), until the median of each ratio on the
 * summary line is settled: its distribution-free interval (bench/rounds.ts, medianInterval)
 * within ±15% of it. The last two lines are for scripts:
 *   engine: fresh inserts <r>x COPY, updates <r>x update limit, 50/50 <r>x COPY, 50/50 <r>x mixed limit
 *   engine, merge rules: updates <r>x update limit
 *
 * DATABASE_URL points it at your own PostgreSQL; otherwise it starts the embedded one.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import { applyBatch, claimBatch, insertIfFresh } from '../shared/postgres/apply-batch.ts';
import { toCopyCsv } from '../shared/postgres/copy-csv.ts';
import type { BatchData } from '../shared/core/batch.ts';
import { batchOfNewFile } from './batches.ts';
import { DEFAULT_BATCH_ROWS, parseConfig } from '../shared/core/config.ts';
import { migrateLedger } from '../shared/postgres/ledger/migrate.ts';
import { benchDatabase } from './database.ts';
import { addFastest, formatRatio, formatSettled, loadLabel, median, medianSettled, printTable, ratioOf, ratiosPerRound, runRounds, type RoundResults, type Scenario } from './rounds.ts';
import { toPgArrayLiteral } from '../shared/postgres/pg-array.ts';
import { prepareTable, type TargetTable } from '../shared/postgres/target-table.ts';
import { tombstoneRelationOf } from '../shared/core/tombstone-names.ts';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
/** Rows per engine batch: the config's default batch.maxRows unless BATCH says otherwise. */
const BATCH = Number(process.env.BATCH ?? DEFAULT_BATCH_ROWS);
const VALUES_CHUNK = 1_000;
const COLUMNS = ['tenant_id', 'sku', 'name', 'qty', 'price', 'attrs', 'updated_at', 'active'] as const;
const TABLE = 'bench_items';
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const MAX_ROUNDS = Number(process.env.MAX_ROUNDS ?? 9);
/** Further batch sizes for the engine's fresh, update and 50/50 scenarios (`SWEEP=1000,50000`). */
const SWEEP = (process.env.SWEEP ?? '').split(',').filter(Boolean).map(Number).filter((b) => b !== BATCH);
/** `headline`: only the scenarios of the summary line (and the sweep). */
const HEADLINE_ONLY = process.env.SCENARIOS === 'headline';

/** Scenario names (the table's rows, and what the summary line divides). */
const S = {
  copy: 'COPY into the table (reference)',
  copyBatched: 'COPY in the engine\'s batches, one transaction each (reference)',
  fresh: 'engine: fresh inserts',
  updateLimit: 'update limit: plain UPDATE … FROM unnest (reference)',
  updateLimitCopy: 'update limit: COPY temp + UPDATE … FROM (reference)',
  updateLimitFastest: 'update limit: the faster of the two in each round',
  updates: 'engine: pure updates',
  mixedLimit: 'mixed limit: COPY of the new half + UPDATE … FROM unnest of the stored half (reference)',
  mixed: 'engine: 50/50 (each batch half new keys, half stored)',
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
  partitionedMixed: 'engine, partitioned: 50/50 (each batch half new keys, half stored)',
  mergeRulesUpdates: 'engine, merge rules (add, keep, ignoreNull): pure updates',
} as const;

type Columns = (string | null)[][];

/**
 * Rows [from, to) of a data set, column-major; `variant` changes every non-key value (and bumps
 * the version); row k of the set is row `stride`·k (+ `offset`) of the full one, so the even
 * rows are a set of their own. Generated per batch, so the process holds one batch, not the set.
 */
function generate(from: number, to: number, variant: number, duplicateEvery = 0, stride = 1, offset = 0): Columns {
  const n = to - from;
  const cols: Columns = COLUMNS.map(() => new Array<string | null>(n));
  const base = Date.UTC(2026, 0, 1) + variant * 86_400_000;
  for (let k = 0; k < n; k++) {
    const r = (from + k) * stride + offset;
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
/** Every other row of a set of `rows` (offset 0: the even ones, 1: the odd ones). */
const everyOther = (rows: number, variant: number, offset: 0 | 1): DataSet => ({
  rows: Math.floor((rows + 1 - offset) / 2),
  slice: (from, to) => generate(from, to, variant, 0, 2, offset),
});

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

/**
 * The starting state every scenario gets, outside the timed part: `tables` (and the ledger's
 * batches) truncated, `prefill` loaded into the first with COPY, all of them vacuumed and
 * analyzed, then a checkpoint (so the timed part starts as far from the next one as any other).
 */
async function settle(sql: postgres.Sql, tables: readonly string[], prefill?: DataSet) {
  await sql.unsafe(`TRUNCATE ${[...tables, 'landfall.batches'].join(', ')}`);
  if (prefill) await copyInto(sql, tables[0]!, prefill);
  await vacuumAndCheckpoint(sql, tables);
}

async function vacuumAndCheckpoint(sql: postgres.Sql, tables: readonly string[]) {
  await sql.unsafe(`VACUUM (ANALYZE) ${[...tables, 'landfall.batches'].join(', ')}`);
  await sql.unsafe('CHECKPOINT');
}

const reset = (sql: postgres.Sql, prefill?: DataSet) => settle(sql, [TABLE], prefill);

async function runEngine(sql: postgres.Sql, target: TargetTable, data: DataSet, batchRows = BATCH): Promise<string> {
  const n = data.rows;
  const totals = { inserted: 0, updated: 0, collapsed: 0 };
  for (let from = 0; from < n; from += batchRows) {
    const { counts } = await applyBatch(sql, target, toBatch(data, from, Math.min(n, from + batchRows)));
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
 * What batching itself costs: COPY of the same rows in the engine's batches, one transaction
 * each, with nothing else (no ledger, no claim). Between it and one COPY: a commit per batch, and
 * on a machine whose cores the client shares, the client's CSV building no longer overlapping the
 * server's work at every batch's start and end.
 */
async function runCopyBatched(sql: postgres.Sql, data: DataSet): Promise<void> {
  for (let from = 0; from < data.rows; from += BATCH) {
    const to = Math.min(data.rows, from + BATCH);
    await sql.begin((tx) => copyInto(tx, TABLE, data, from, to));
  }
}

const SET_FROM = (alias: string) => COLUMNS.filter((c) => c !== 'tenant_id' && c !== 'sku').map((c) => `${c} = ${alias}.${c}`).join(', ');
const UPDATE_FROM_UNNEST = `UPDATE ${TABLE} AS t SET ${SET_FROM('u')}
    FROM unnest(${COLUMN_TYPES.map((type, i) => `$${i + 1}::${type}[]`).join(', ')}) AS u(${COLUMNS.join(', ')})
    WHERE t.tenant_id = u.tenant_id AND t.sku = u.sku`;

/**
 * A plain reference for updates: `UPDATE … FROM unnest(…)` of the same rows in the same batches,
 * one transaction each, with no conflict handling, no winner rule and no counts; the same table
 * and indexes.
 */
async function runUpdateLimit(sql: postgres.Sql, data: DataSet): Promise<void> {
  for (let from = 0; from < data.rows; from += BATCH) {
    const cols = data.slice(from, Math.min(data.rows, from + BATCH));
    await sql.begin((tx) => tx.unsafe(UPDATE_FROM_UNNEST, cols.map((c) => toPgArrayLiteral(c))));
  }
}

/**
 * The other plain reference for updates: per batch, COPY into a temporary table, then one
 * `UPDATE … FROM` it (pins RDS Proxy, so no path of Landfall's can take it; a limit all the same).
 */
async function runUpdateLimitCopy(sql: postgres.Sql, data: DataSet): Promise<void> {
  for (let from = 0; from < data.rows; from += BATCH) {
    const to = Math.min(data.rows, from + BATCH);
    await sql.begin(async (tx) => {
      await tx.unsafe(`CREATE TEMPORARY TABLE stage (LIKE ${TABLE} INCLUDING DEFAULTS) ON COMMIT DROP`);
      await copyInto(tx, 'stage', data, from, to);
      await tx.unsafe(`UPDATE ${TABLE} AS t SET ${SET_FROM('s')} FROM stage AS s WHERE t.tenant_id = s.tenant_id AND t.sku = s.sku`);
    });
  }
}

/**
 * The limit for a batch whose keys are half new, half stored: per batch, in one transaction,
 * COPY of its new rows (the odd ones) and a plain `UPDATE … FROM unnest(…)` of its stored rows
 * (the even ones), knowing in advance which are which.
 */
async function runMixedLimit(sql: postgres.Sql, variant: number, rows: number): Promise<void> {
  const odd = everyOther(rows, variant, 1);
  const even = everyOther(rows, variant, 0);
  for (let from = 0; from < rows; from += BATCH) {
    const to = Math.min(rows, from + BATCH);
    // Rows [from, to) of the full set are rows [⌈from/2⌉, ⌈to/2⌉) of the even set and [⌊from/2⌋, ⌊to/2⌋) of the odd one (from even).
    await sql.begin(async (tx) => {
      await copyInto(tx, TABLE, odd, Math.floor(from / 2), Math.floor(to / 2));
      const cols = even.slice(Math.ceil(from / 2), Math.ceil(to / 2));
      await tx.unsafe(UPDATE_FROM_UNNEST, cols.map((c) => toPgArrayLiteral(c)));
    });
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
  await sql.unsafe(`ALTER TABLE ${table} SET (autovacuum_enabled = off)`);
  const prefilled = () => settle(sql, [table, remembered], v0);
  const emptied = () => settle(sql, [table, remembered]);
  // A delete of a key outside the data set: the table now remembers one, so rule 6 must be
  // checked row by row and every batch takes the upsert.
  const oneRemembered = async () => {
    await sql.unsafe(`TRUNCATE ${table}, ${remembered}`);
    const tombstone = batchOfNewFile(table, [...COLUMNS, '_op'], [...generate(0, 1, 9).map((c) => c.map(() => null)), ['D']], 1);
    tombstone.values[0]![0] = '-1';
    tombstone.values[1]![0] = 'remembered';
    tombstone.values[6]![0] = new Date(Date.UTC(2030, 0, 1)).toISOString();
    await applyBatch(sql, target, { ...tombstone, table });
    await vacuumAndCheckpoint(sql, [table, remembered]);
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
        await vacuumAndCheckpoint(sql, [table, remembered]);
      },
      run: () => apply(v0, 0),
    },
  ];
}

/**
 * Where a batch's time goes on the fresh path, outside the rounds (one pass per batch size, so
 * a label, not a ratio): BEGIN and the claim, the COPY in its savepoint with the count, and the
 * COMMIT, per batch; the CSV encoding alone; and a 1-row batch, which is nothing but the fixed
 * cost. `COPY` of the same rows as one statement is the yardstick.
 */
async function breakdown(sql: postgres.Sql, target: TargetTable, data: DataSet, sizes: readonly number[]): Promise<void> {
  console.log('\nWhere a fresh batch\'s time goes (one pass each, after the rounds; ms per batch, then the fixed part per row):');
  console.log('| batch rows | BEGIN + claim | savepoint + COPY + count | COMMIT | of which CSV encoding (JS) | total per batch | fixed cost (1-row batch) | fixed cost per 1,000 rows | COPY of the same rows, per batch |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const size of sizes) {
    await reset(sql);
    const parts = { claim: 0, copy: 0, commit: 0, encode: 0, total: 0 };
    const batches = Math.ceil(data.rows / size);
    for (let from = 0; from < data.rows; from += size) {
      const batch = toBatch(data, from, Math.min(data.rows, from + size));
      const t0 = performance.now();
      let t1 = 0;
      let t2 = 0;
      await sql.begin(async (tx) => {
        await claimBatch(tx, batch);
        t1 = performance.now();
        if (!(await insertIfFresh(tx, target, batch, null))) throw new Error('the fresh path did not take a batch of new keys');
        t2 = performance.now();
      });
      const t3 = performance.now();
      const e0 = performance.now();
      for (const _ of toCopyCsv(batch.values)) void _;
      parts.encode += performance.now() - e0;
      parts.claim += t1 - t0;
      parts.copy += t2 - t1;
      parts.commit += t3 - t2;
      parts.total += t3 - t0;
    }
    // The fixed cost: 1-row batches of new keys (50 of them).
    await reset(sql);
    const f0 = performance.now();
    for (let k = 0; k < 50; k++) await applyBatch(sql, target, toBatch(data, k, k + 1));
    const fixed = (performance.now() - f0) / 50;
    await reset(sql);
    const c0 = performance.now();
    await copyInto(sql, TABLE, data);
    const copyPerBatch = (performance.now() - c0) / batches;
    const ms = (v: number) => (v / batches).toFixed(1);
    console.log(`| ${size.toLocaleString('en')} | ${ms(parts.claim)} | ${ms(parts.copy)} | ${ms(parts.commit)} | ${ms(parts.encode)} | ${ms(parts.total)} | ${fixed.toFixed(1)} | ${((fixed * 1000) / size).toFixed(2)} | ${copyPerBatch.toFixed(1)} |`);
  }
  console.log(`(${loadLabel()})`);
}

/**
 * A range-partitioned copy of the table (by tenant_id, part of the key, 4 partitions): COPY into
 * it as the reference, then the engine's fresh inserts, pure updates and 50/50 batches (each half new
 * keys, half stored) into it.
 */
async function partitionedScenarios(sql: postgres.Sql, v0: DataSet, v1: DataSet, evenRows: DataSet): Promise<Scenario[]> {
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
  for (const from of [0, 25, 50, 75]) await sql.unsafe(`ALTER TABLE ${table}_${from} SET (autovacuum_enabled = off)`);
  const reset = (prefill?: DataSet) => () => settle(sql, [table], prefill);
  return [
    { name: S.partitionedCopy, prepare: reset(), run: () => copyInto(sql, table, v0) },
    { name: S.partitionedFresh, prepare: reset(), run: () => apply(v0) },
    { name: S.partitionedUpdates, prepare: reset(v0), run: () => apply(v1) },
    { name: S.partitionedMixed, prepare: reset(evenRows), run: () => apply(v1) },
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
  await sql.unsafe(`CREATE TABLE ${table} (LIKE ${TABLE} INCLUDING ALL) WITH (autovacuum_enabled = off)`);
  const config = parseConfig({ tables: [{ table, conflictKey: ['tenant_id', 'sku'], version: 'updated_at', merge: { qty: 'add', name: 'keep', price: 'ignoreNull' } }] });
  const target = await prepareTable(sql, config.tables[0]!);
  return [
    {
      name: S.mergeRulesUpdates,
      prepare: () => settle(sql, [table], v0),
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
    const [settings] = await sql`SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc, current_setting('shared_buffers') AS sb, current_setting('max_wal_size') AS mw`;
    console.log(
      `PostgreSQL ${version!.v} (fsync ${settings!.fsync}, synchronous_commit ${settings!.sc}, shared_buffers ${settings!.sb}, max_wal_size ${settings!.mw}); ` +
        `${ROWS.toLocaleString('en')} rows; engine batches of ${BATCH.toLocaleString('en')}${SWEEP.length ? ` (and ${SWEEP.map((b) => b.toLocaleString('en')).join(', ')})` : ''}; ` +
        `one connection, prepare: false; ${ROUNDS} interleaved rounds, up to ${MAX_ROUNDS} until the summary's medians settle; ${loadLabel()}\n`,
    );
    await migrateLedger(sql);
    await sql.unsafe(`DROP TABLE IF EXISTS ${TABLE}`);
    await sql.unsafe(`CREATE TABLE ${TABLE} (
      tenant_id int NOT NULL, sku text NOT NULL, name text, qty int, price numeric(12,2),
      attrs jsonb, updated_at timestamptz NOT NULL, active boolean,
      UNIQUE (tenant_id, sku)) WITH (autovacuum_enabled = off)`);
    await sql.unsafe(`CREATE INDEX ${TABLE}_updated_at ON ${TABLE} (updated_at)`);
    const config = parseConfig({ tables: [{ table: TABLE, conflictKey: ['tenant_id', 'sku'], version: 'updated_at' }] });
    const target = await prepareTable(sql, config.tables[0]!);

    const v0 = dataSet(ROWS, 0);
    const v1 = dataSet(ROWS, 1);
    // The stored half of every 50/50 batch: the even rows, as they were (variant 0).
    const evenRows = everyOther(ROWS, 0, 0);
    const withDuplicates = dataSet(ROWS, 2, 10);
    const empty = () => reset(sql);
    const prefilled = (data: DataSet) => () => reset(sql, data);
    // Each scenario is self-contained: its starting state, then the timed work.
    const headline: Scenario[] = [
      { name: S.copy, prepare: empty, run: () => copyInto(sql, TABLE, v0) },
      { name: S.copyBatched, prepare: empty, run: () => runCopyBatched(sql, v0) },
      { name: S.fresh, prepare: empty, run: () => runEngine(sql, target, v0) },
      { name: S.updateLimit, prepare: prefilled(v0), run: () => runUpdateLimit(sql, v1) },
      { name: S.updateLimitCopy, prepare: prefilled(v0), run: () => runUpdateLimitCopy(sql, v1) },
      { name: S.updates, prepare: prefilled(v0), run: () => runEngine(sql, target, v1) },
      { name: S.mixedLimit, prepare: prefilled(evenRows), run: () => runMixedLimit(sql, 1, ROWS) },
      { name: S.mixed, prepare: prefilled(evenRows), run: () => runEngine(sql, target, v1) },
      ...(await mergeRuleScenarios(sql, v0, v1)),
    ];
    const sweep: Scenario[] = SWEEP.flatMap((b) => [
      { name: sweepName(S.fresh, b), prepare: empty, run: () => runEngine(sql, target, v0, b) },
      { name: sweepName(S.updates, b), prepare: prefilled(v0), run: () => runEngine(sql, target, v1, b) },
      { name: sweepName(S.mixed, b), prepare: prefilled(evenRows), run: () => runEngine(sql, target, v1, b) },
    ]);
    const others: Scenario[] = HEADLINE_ONLY
      ? []
      : [
          { name: S.duplicates, prepare: empty, run: () => runEngine(sql, target, withDuplicates) },
          { name: S.valuesFresh, prepare: empty, run: () => runValues(sql, v0) },
          { name: S.valuesUpdates, prepare: prefilled(v0), run: () => runValues(sql, v1) },
          { name: S.mergeFresh, prepare: empty, run: () => runCopyMerge(sql, v0) },
          { name: S.mergeUpdates, prepare: prefilled(v0), run: () => runCopyMerge(sql, v1) },
          ...(await deleteRuleScenarios(sql, v0, v1)),
          ...(await partitionedScenarios(sql, v0, v1, evenRows)),
        ];
    const withUpdateLimit = (results: RoundResults) => {
      const copy: RoundResults = { seconds: new Map(results.seconds), notes: new Map(results.notes) };
      addFastest(copy, S.updateLimitFastest, [S.updateLimit, S.updateLimitCopy]);
      return copy;
    };
    const summaryRatios = (results: RoundResults) => {
      const all = withUpdateLimit(results);
      return {
        fresh: ratiosPerRound(all, S.fresh, S.copy),
        updates: ratiosPerRound(all, S.updates, S.updateLimitFastest),
        mixedCopy: ratiosPerRound(all, S.mixed, S.copy),
        mixed: ratiosPerRound(all, S.mixed, S.mixedLimit),
      };
    };
    const raw = await runRounds([...headline, ...sweep, ...others], ROUNDS, ROWS, {
      maxRounds: MAX_ROUNDS,
      enough: (results) => {
        const { fresh, updates, mixed } = summaryRatios(results);
        return [fresh, updates, mixed].every((ratios) => medianSettled(ratios));
      },
    });
    const results = withUpdateLimit(raw);
    const rounds = results.seconds.get(S.copy)!.length;

    printTable(results, ROWS, S.copy, 'COPY');
    if (!HEADLINE_ONLY) {
      console.log(`\nengine pure updates × VALUES pure updates: ${formatRatio(ratioOf(results, S.updates, S.valuesUpdates))}`);
      console.log(`engine fresh inserts × COPY temp + merge: ${formatRatio(ratioOf(results, S.fresh, S.mergeFresh))}`);
      console.log(`delete rule, pure updates × engine pure updates (the tombstone look-ups): ${formatRatio(ratioOf(results, S.deleteRuleUpdates, S.updates))}`);
      console.log(`delete rule, fresh inserts, no delete remembered (COPY) × one remembered (upsert): ${formatRatio(ratioOf(results, S.deleteRuleFresh, S.deleteRuleFreshRemembered))}`);
      console.log(
        `partitioned table × COPY into it: fresh inserts ${formatRatio(ratioOf(results, S.partitionedFresh, S.partitionedCopy))}, ` +
          `pure updates ${formatRatio(ratioOf(results, S.partitionedUpdates, S.partitionedCopy))}, 50/50 ${formatRatio(ratioOf(results, S.partitionedMixed, S.partitionedCopy))}; ` +
          `pure updates × the same on the plain table ${formatRatio(ratioOf(results, S.partitionedUpdates, S.updates))}`,
      );
    }
    console.log(`merge rules, pure updates × engine pure updates (the merge form of the statement): ${formatRatio(ratioOf(results, S.mergeRulesUpdates, S.updates))}`);
    const ratios = summaryRatios(raw);
    console.log(`\nThe summary's ratios, median (its distribution-free ~90% interval; range over rounds; rounds):`);
    console.log(`  fresh inserts × COPY: ${formatSettled(ratios.fresh)}`);
    console.log(`  fresh inserts × COPY in the same batches: ${formatSettled(ratiosPerRound(results, S.fresh, S.copyBatched))}`);
    console.log(`  COPY in batches × one COPY (what batching costs here): ${formatSettled(ratiosPerRound(results, S.copyBatched, S.copy))}`);
    console.log(`  pure updates × update limit: ${formatSettled(ratios.updates)}`);
    console.log(`  50/50 × mixed limit: ${formatSettled(ratios.mixed)}`);
    console.log(`  50/50 × COPY: ${formatSettled(ratios.mixedCopy)}`);
    const unsettled = Object.entries({ fresh: ratios.fresh, updates: ratios.updates, '50/50': ratios.mixed }).filter(([, r]) => !medianSettled(r));
    if (unsettled.length) {
      console.log(`  not settled after ${rounds} rounds (MAX_ROUNDS=${MAX_ROUNDS}): ${unsettled.map(([n]) => n).join(', ')}; the machine's load moved too much between rounds (${loadLabel()}); run again with a larger MAX_ROUNDS or on a quiet machine`);
    }
    if (SWEEP.length) {
      console.log(`\nBy batch size (batch.maxRows), median ratio over ${rounds} rounds (range), against the same references (batches of ${BATCH.toLocaleString('en')} for the limits):`);
      console.log('| batch rows | fresh × COPY | updates × update limit | 50/50 × mixed limit |\n| ---: | ---: | ---: | ---: |');
      for (const b of [...new Set([BATCH, ...SWEEP])].sort((x, y) => x - y)) {
        const name = (scenario: string) => (b === BATCH ? scenario : sweepName(scenario, b));
        console.log(`| ${b.toLocaleString('en')} | ${formatRatio(ratioOf(results, name(S.fresh), S.copy))} | ${formatRatio(ratioOf(results, name(S.updates), S.updateLimitFastest))} | ${formatRatio(ratioOf(results, name(S.mixed), S.mixedLimit))} |`);
      }
    }
    if (process.env.BREAKDOWN !== '0') await breakdown(sql, target, dataSet(Math.min(ROWS, 200_000), 3), [...new Set([BATCH, ...SWEEP])].sort((x, y) => x - y));
    console.log(`peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (rows are generated one batch at a time)`);
    console.log(`measured on: ${loadLabel()}`);
    const r = (list: number[]) => median(list).toFixed(2);
    console.log(`engine: fresh inserts ${r(ratios.fresh)}x COPY, updates ${r(ratios.updates)}x update limit, 50/50 ${r(ratios.mixedCopy)}x COPY, 50/50 ${r(ratios.mixed)}x mixed limit`);
    console.log(`engine, merge rules: updates ${r(ratiosPerRound(results, S.mergeRulesUpdates, S.updateLimitFastest))}x update limit`);
  } finally {
    await sql.end();
    await stop();
  }
}

/** A scenario's name at another batch size. */
const sweepName = (scenario: string, batchRows: number) => `${scenario}, batches of ${batchRows.toLocaleString('en')}`;

await main();
