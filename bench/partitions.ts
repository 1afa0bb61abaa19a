/**
 * Partition scaling: the consumer's work (applyBatch, one transaction per batch) run by P
 * concurrent workers, as P FIFO message groups feed P consumer invocations, each with its own
 * connection and its own keys. Rows/s for P = 1, 2, 4, 8 on the same table in the same run,
 * interleaved in rounds, for fresh inserts (the COPY fast path) and for updates (the upsert).
 * Not a test: it prints a table (for the README's "Scale on paper").
 *
 *   npm run bench:partitions                  # 400,000 rows, batches of 10,000, 3 rounds
 *   ROWS=200000 PARTITIONS=1,2,4 ROUNDS=5 npm run bench:partitions
 */
import os from 'node:os';
import postgres from 'postgres';
import { applyBatch } from '../shared/postgres/apply-batch.ts';
import type { BatchData } from '../shared/core/batch.ts';
import { batchOfNewFile } from './batches.ts';
import { parseConfig } from '../shared/core/config.ts';
import { migrateLedger } from '../shared/postgres/ledger/migrate.ts';
import { prepareTable, type TargetTable } from '../shared/postgres/target-table.ts';
import { benchDatabase } from './database.ts';
import { median, ratioOf, runRounds, type Scenario } from './rounds.ts';

const ROWS = Number(process.env.ROWS ?? 400_000);
const BATCH = Number(process.env.BATCH ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PARTITIONS = (process.env.PARTITIONS ?? '1,2,4,8').split(',').map(Number);
const TABLE = 'bench_partitions';

/** Rows [from, to) as one batch of a new file; `version` bumps the values and the timestamp. */
function batchOf(from: number, to: number, version: number): BatchData {
  const ids: string[] = [];
  const names: string[] = [];
  const qty: string[] = [];
  const at: string[] = [];
  for (let i = from; i < to; i++) {
    ids.push(String(i));
    names.push(`item ${i} v${version}`);
    qty.push(String((i + version) % 1000));
    at.push(new Date(Date.UTC(2026, 0, 1 + version) + i).toISOString());
  }
  return batchOfNewFile(TABLE, ['id', 'name', 'qty', 'updated_at'], [ids, names, qty, at]);
}

/** P workers, worker w applying the batches of its own key range, each on its own connection. */
async function applyConcurrently(sql: postgres.Sql, target: TargetTable, partitions: number, version: number): Promise<void> {
  const perWorker = Math.ceil(ROWS / partitions);
  await Promise.all(
    Array.from({ length: partitions }, async (_, w) => {
      const end = Math.min(ROWS, (w + 1) * perWorker);
      for (let from = w * perWorker; from < end; from += BATCH) await applyBatch(sql, target, batchOf(from, Math.min(end, from + BATCH), version));
    }),
  );
}

async function main() {
  const { url, stop } = await benchDatabase();
  const sql = postgres(url, { max: Math.max(...PARTITIONS), prepare: false, onnotice: () => {} });
  try {
    const [version] = await sql`SELECT current_setting('server_version') AS v`;
    console.log(`PostgreSQL ${version!.v}; ${os.cpus().length} CPUs; ${ROWS.toLocaleString('en')} rows; batches of ${BATCH.toLocaleString('en')}; P = ${PARTITIONS.join(', ')}; ${ROUNDS} rounds\n`);
    await migrateLedger(sql);
    await sql.unsafe(`DROP TABLE IF EXISTS ${TABLE}`);
    await sql.unsafe(`CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, name text, qty int, updated_at timestamptz NOT NULL)`);
    await sql.unsafe(`CREATE INDEX ON ${TABLE} (updated_at)`);
    const target = await prepareTable(sql, parseConfig({ tables: [{ table: TABLE, conflictKey: ['id'], version: 'updated_at' }] }).tables[0]!);
    const reset = async (prefill: boolean) => {
      await sql.unsafe(`TRUNCATE ${TABLE}, landfall.batches`);
      if (prefill) {
        await sql.unsafe(`INSERT INTO ${TABLE} SELECT i, 'old ' || i, 0, timestamptz '2025-01-01' FROM generate_series(0, ${ROWS - 1}) AS i`);
      }
      await sql.unsafe(`VACUUM ANALYZE ${TABLE}`);
      await sql.unsafe('CHECKPOINT');
    };
    const scenarios: Scenario[] = PARTITIONS.flatMap((p) => [
      { name: `fresh inserts, P = ${p}`, prepare: () => reset(false), run: () => applyConcurrently(sql, target, p, 1) },
      { name: `updates, P = ${p}`, prepare: () => reset(true), run: () => applyConcurrently(sql, target, p, 1) },
    ]);
    const results = await runRounds(scenarios, ROUNDS, ROWS);
    console.log('\n| P | fresh inserts rows/s | × P = 1 | updates rows/s | × P = 1 |\n| ---: | ---: | ---: | ---: | ---: |');
    const rate = (name: string) => ROWS / median(results.seconds.get(name)!);
    const [first] = PARTITIONS;
    for (const p of PARTITIONS) {
      const speedUp = (kind: string) => ratioOf(results, `${kind}, P = ${p}`, `${kind}, P = ${first}`).median.toFixed(2);
      console.log(`| ${p} | ${Math.round(rate(`fresh inserts, P = ${p}`))} | ${speedUp('fresh inserts')} | ${Math.round(rate(`updates, P = ${p}`))} | ${speedUp('updates')} |`);
    }
  } finally {
    await sql.end();
    await stop();
  }
}

await main();
