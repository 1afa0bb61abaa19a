/**
 * `npm run bench:dedupe [-- --rows 5000000 --duplicates 0.4 --batch 10000]`: seeds a table whose
 * rows are `duplicates` surplus copies (each surplus row repeats a key stored elsewhere in the
 * heap), runs a real dedupe (backup, batched deletes, CREATE UNIQUE INDEX CONCURRENTLY, verify)
 * and prints the time and rows/s. DATABASE_URL points it at your own server; else it starts the
 * embedded PostgreSQL in a temporary directory.
 */
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { runDedupe } from '../shared/tools/dedupe/run-dedupe.ts';
import { benchDatabase } from './database.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: process.env.BENCH_ROWS ?? '5000000' },
    duplicates: { type: 'string', default: '0.4' },
    batch: { type: 'string', default: '10000' },
  },
});
const rows = Number(values.rows);
const ratio = Number(values.duplicates);
const batchSize = Number(values.batch);
const keys = Math.round(rows * (1 - ratio));

const { url, stop } = await benchDatabase();
const sql = postgres(url, { max: 1, onnotice: () => {} });
const seconds = (since: number) => (performance.now() - since) / 1000;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
try {
  await sql`DROP TABLE IF EXISTS bench_dedupe`;
  await sql`CREATE TABLE bench_dedupe (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account_id int8 NOT NULL, sku text NOT NULL, version int4, payload text)`;
  let t = performance.now();
  // Row g carries key (g mod keys): the copies of a key sit far apart in the heap, as re-deliveries do.
  await sql`
    INSERT INTO bench_dedupe (account_id, sku, version, payload)
    SELECT k % 1000, 'sku-' || k, (g * 7919) % 97, md5(g::text)
    FROM generate_series(0, ${rows - 1}::int8) g, LATERAL (SELECT g % ${keys}::int8 AS k) x`;
  await sql`VACUUM ANALYZE bench_dedupe`;
  console.log(`seeded ${fmt(rows)} rows, ${fmt(keys)} keys, ${fmt(rows - keys)} surplus (${(ratio * 100).toFixed(0)}%) in ${seconds(t).toFixed(1)} s`);

  t = performance.now();
  let lastPhase = '';
  const summary = await runDedupe(
    sql,
    { table: { schema: 'public', name: 'bench_dedupe' }, key: ['account_id', 'sku'], keep: { kind: 'newest', column: 'version' }, batchSize },
    {
      onProgress: (e) => {
        if (e.phase !== lastPhase) console.log(`  ${seconds(t).toFixed(1)} s: ${e.phase}`);
        lastPhase = e.phase;
      },
    },
  );
  const elapsed = seconds(t);
  const [left] = await sql`SELECT count(*)::int8::text AS n FROM bench_dedupe`;
  console.log(
    JSON.stringify(
      {
        rows,
        duplicates: ratio,
        batchSize,
        removed: summary.removed,
        left: Number(left!.n),
        indexCreated: summary.indexCreated,
        seconds: Number(elapsed.toFixed(2)),
        rowsPerSecond: Math.round(rows / elapsed),
        removedPerSecond: Math.round(summary.removed / elapsed),
      },
      null,
      2,
    ),
  );
  console.log(`dedupe of ${fmt(rows)} rows (${fmt(summary.removed)} removed, backed up, index created) in ${elapsed.toFixed(1)} s: ${fmt(rows / elapsed)} rows/s`);
} finally {
  await sql.end({ timeout: 5 });
  await stop();
}
