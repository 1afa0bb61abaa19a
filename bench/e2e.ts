/**
 * End-to-end benchmark: a generated CSV goes through `landfall run` (producer, FIFO queue,
 * consumer, ledger, all through the S3/SQS emulator) into PostgreSQL, next to a COPY of the
 * same file into the same table in the same run. Not a test: it prints a table.
 *
 *   npm run bench:e2e                 # 1,000,000 rows
 *   ROWS=200000 ROUNDS=5 npm run bench:e2e
 *   ROUNDS=1 npm run bench:e2e -- --size 1GB   # as many rows as make 1 GB
 *
 * COPY and `landfall run` alternate in ROUNDS rounds (default 3); the ratio is the median of
 * the per-round ratios. The last line is for scripts:
 *   end to end: <r>x COPY, first batch applied after <s> s, peak RSS <MB> MB
 * where the first batch is timed from the drop (the file's S3 event time); the time from the
 * start of `landfall run`, its start-up and the upload of the file included, is printed above it.
 *
 * The emulator and the database run in this process; `landfall run` runs as a child process,
 * whose peak RSS (VmHWM) is the producer's and the consumer's together, as in one container.
 */
import { spawn } from 'node:child_process';
import { createReadStream, writeFileSync } from 'node:fs';
import { chmod, link, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { startFauxqs } from 'fauxqs';
import postgres from 'postgres';
import { benchDatabase } from './database.ts';
import { generateItemsCsv, itemsConfig, ITEMS_DDL } from './items-csv.ts';
import { argOf, median, parseSize, peakRssMbOf, printTable, ratioOf, runRounds } from './rounds.ts';

const SIZE = argOf('size');
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const COPY = 'COPY the CSV into the table (reference)';
const RUN = 'landfall run, end to end (start-up included)';

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'landfall-bench-e2e-'));
  await chmod(dir, 0o755);
  const csv = join(dir, 'bench_items.csv');
  const { url, stop: stopDb } = await benchDatabase();
  const emulator = await startFauxqs({ port: 0, logger: false });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    console.log(SIZE ? `generating ${SIZE} of rows…` : `generating ${Number(process.env.ROWS ?? 1_000_000).toLocaleString('en')} rows…`);
    const ROWS = await generateItemsCsv(csv, SIZE ? { bytes: parseSize(SIZE) } : { rows: Number(process.env.ROWS ?? 1_000_000) });
    console.log(`CSV: ${((await stat(csv)).size / 1024 / 1024).toFixed(0)} MB; ${ROUNDS} interleaved rounds\n`);
    await sql.unsafe('DROP TABLE IF EXISTS bench_copy, bench_items');
    await sql.unsafe(ITEMS_DDL('bench_copy'));
    await sql.unsafe(ITEMS_DDL('bench_items'));
    const config = join(dir, 'landfall.json');
    writeFileSync(config, JSON.stringify(itemsConfig('bench_items')));
    const empty = (table: string) => async () => {
      await sql.unsafe(`TRUNCATE ${table}`);
      await sql.unsafe('CHECKPOINT');
    };
    const peaks: number[] = [];
    const firstApplied: number[] = [];
    const firstFromStart: number[] = [];
    const receipts: { status: string; read: number; inserted: number; batches: number }[] = [];
    let round = 0;

    const runLandfall = async () => {
      // A new inbox key each round: the same key would be a file already produced.
      const file = join(dir, `bench_items-r${++round}.csv`);
      await link(csv, file);
      const started = Date.now();
      const child = spawn(process.execPath, ['bin/landfall.js', 'run', '--config', config, '--database-url', url, '--timeout', '3600', file], {
        env: { ...process.env, AWS_ENDPOINT_URL: `http://127.0.0.1:${emulator.port}`, LANDFALL_HOME: join(dir, 'home') },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, peakRssMbOf(child.pid!) ?? 0)), 100);
      const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
      clearInterval(sampler);
      if (code !== 0) throw new Error(`landfall run exited ${code}: ${stdout}`);
      receipts.push(JSON.parse(stdout.trim().split('\n').at(-1)!));
      peaks.push(peak);
      // From the drop (the S3 event time the ledger keeps for the file), as a pipeline sees a
      // file arrive; the start of `landfall run` adds its start-up and the upload of the file.
      const [first] = await sql`
        SELECT extract(epoch FROM min(b.applied_at))::float8 AS at, extract(epoch FROM min(f.event_time))::float8 AS dropped
        FROM landfall.batches b JOIN landfall.files f USING (file_id)
        WHERE b.applied_at >= to_timestamp(${started / 1000})`;
      firstApplied.push(first!.at - first!.dropped);
      firstFromStart.push(first!.at - started / 1000);
      await rm(file);
    };
    const results = await runRounds(
      [
        {
          name: COPY,
          prepare: empty('bench_copy'),
          run: async () => {
            const writable = await sql.unsafe('COPY bench_copy (tenant_id, sku, name, qty, price, attrs, updated_at, active) FROM STDIN WITH (FORMAT csv, HEADER true)').writable();
            await pipeline(createReadStream(csv), writable);
          },
        },
        { name: RUN, prepare: empty('bench_items'), run: runLandfall },
      ],
      ROUNDS,
      ROWS,
    );
    const [check] = await sql`SELECT count(*)::int AS n FROM bench_items`;

    printTable(results, ROWS, COPY, 'COPY');
    const receipt = receipts.at(-1)!;
    console.log(`\nlast receipt: status ${receipt.status}, read ${receipt.read}, inserted ${receipt.inserted}, batches ${receipt.batches}; table rows ${check!.n}`);
    console.log(`first batch applied after the drop (per round): ${firstApplied.map((s) => s.toFixed(1)).join(', ')} s; after the start of landfall run (start-up and upload of the file included): ${firstFromStart.map((s) => s.toFixed(1)).join(', ')} s`);
    console.log(`peak RSS of the landfall run process (producer + consumer + pollers; emulator and database elsewhere), per round: ${peaks.map((p) => p.toFixed(0)).join(', ')} MB`);
    const ratio = ratioOf(results, RUN, COPY);
    console.log(`end to end: ${ratio.median.toFixed(2)}x COPY, first batch applied after ${median(firstApplied).toFixed(1)} s, peak RSS ${Math.max(...peaks).toFixed(0)} MB`);
  } finally {
    await sql.end();
    await emulator.stop();
    await stopDb();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
