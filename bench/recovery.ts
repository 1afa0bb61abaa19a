/**
 * Recovery benchmark: the same load (a generated CSV, 200,000 rows by default) through the whole
 * local stack (producer, FIFO queue, consumer, ledger; the stack's own visibility timeouts),
 * unfaulted, and with one PostgreSQL restart mid-load (a fast shutdown once a quarter of the rows
 * are applied, then a start on the same data), in the same run. Not a test: it prints a table.
 *
 *   npm run bench:recovery
 *   ROWS=100000 ROUNDS=5 npm run bench:recovery
 *   npm run bench:recovery -- --pgbouncer      # through pgbouncer in transaction mode (it stays up)
 *
 * The two scenarios alternate in ROUNDS rounds (default 3); the ratio is the median of the
 * per-round ratios (faulted seconds over unfaulted seconds). The last line is for scripts:
 *   recovery: <r>x unfaulted
 * Each round also checks exactly-once: every row stored once, every batch applied once.
 */
import { mkdtemp, link, rm, chmod } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { parseConfig } from '../shared/core/config.ts';
import { type EmbeddedServer, findFreePort, startEmbeddedPostgres } from '../shared/local/embedded-postgres.ts';
import { dropFile, waitForFile } from '../shared/local/run-files.ts';
import { startLocalStack } from '../shared/local/stack.ts';
import { startPgbouncer } from '../test/helpers/pgbouncer.ts';
import { generateItemsCsv, itemsConfig, ITEMS_DDL } from './items-csv.ts';
import { formatRatio, median, printTable, runRounds } from './rounds.ts';

const ROWS = Number(process.env.ROWS ?? 200_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const THROUGH_PGBOUNCER = process.argv.includes('--pgbouncer');
const TABLE = 'bench_recovery';
const UNFAULTED = 'load, unfaulted (reference)';
const FAULTED = 'load, one PostgreSQL restart mid-load';

const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'landfall-bench-recovery-'));
  await chmod(dir, 0o755);
  const port = await findFreePort();
  const dataDir = join(dir, 'pg');
  let server: EmbeddedServer = await startEmbeddedPostgres({ dataDir, persistent: true, port });
  const bouncer = THROUGH_PGBOUNCER ? await startPgbouncer(server.url, { poolSize: 10 }) : null;
  const databaseUrl = bouncer ? bouncer.urlFor(server.url) : server.url;
  const admin = postgres(server.url, { max: 1, onnotice: () => {} });
  const config = parseConfig(itemsConfig(TABLE));
  const csv = join(dir, 'items.csv');
  console.log(`machine load (1, 5, 15 min) at start: ${load()}`);
  console.log(`generating ${ROWS.toLocaleString('en')} rows…`);
  await generateItemsCsv(csv, { rows: ROWS });
  await admin.unsafe(ITEMS_DDL(TABLE));
  // An invocation past its function's timeout is one Lambda would have killed (its records then
  // wait for the visibility timeout): counted, so a stall is explained, not just measured.
  const overruns: string[] = [];
  const stack = await startLocalStack({
    config,
    home: join(dir, 'home'),
    databaseUrl,
    logLevel: 'SILENT',
    onOverrun: (name, _elapsed, timeout) => overruns.push(`${name} (${timeout / 1000} s)`),
  });
  const target = { s3: stack.s3, sql: stack.sql, config, buckets: stack.buckets, pollInbox: stack.pollInbox };
  const restarts: string[] = [];
  let round = 0;
  try {
    console.log(`${ROUNDS} interleaved rounds${bouncer ? ', through pgbouncer (transaction mode)' : ''}; visibility timeouts as the stack's\n`);
    const loadOnce = async (fault: boolean) => {
      // A new inbox key each run: the same key and bytes would be a file already loaded.
      const file = join(dir, `${TABLE}-${++round}.csv`);
      await link(csv, file);
      const started = performance.now();
      const dropped = await dropFile(target, file, config.tables[0]!, { force: true });
      const restart = fault ? restartMidLoad(dropped.fileId, started) : Promise.resolve();
      const receipt = await waitForFile(target, dropped, { timeoutMs: 3_600_000 });
      const seconds = (performance.now() - started) / 1000;
      await restart;
      await rm(file);
      if (receipt.status !== 'complete' || !receipt.addsUp || receipt.inserted !== ROWS) throw new Error(`the load did not complete as expected: ${JSON.stringify(receipt)}`);
      const [check] = await admin<{ rows: number; keys: number; most: number }[]>`
        SELECT (SELECT count(*)::int FROM ${admin(TABLE)}) AS rows,
               (SELECT count(DISTINCT (tenant_id, sku))::int FROM ${admin(TABLE)}) AS keys,
               (SELECT max(applications)::int FROM landfall.batches WHERE file_id = ${dropped.fileId}) AS most`;
      if (check!.rows !== ROWS || check!.keys !== ROWS || check!.most !== 1) throw new Error(`exactly-once broken: ${JSON.stringify(check)}`);
      return { seconds, note: `${receipt.batches} batches` };
    };
    // Once a quarter of the rows are applied: a fast shutdown (in-flight transactions aborted,
    // connections dropped, 57P01), then a start on the same data and port.
    const restartMidLoad = async (fileId: string, started: number) => {
      for (;;) {
        const [applied] = await admin<{ rows: number }[]>`SELECT coalesce(sum(read), 0)::int AS rows FROM landfall.batches WHERE file_id = ${fileId} AND status = 'applied'`;
        if (applied!.rows >= ROWS / 4) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const at = (performance.now() - started) / 1000;
      const down = performance.now();
      await server.stop();
      server = await startEmbeddedPostgres({ dataDir, persistent: true, port });
      restarts.push(`at ${at.toFixed(1)} s, down ${((performance.now() - down) / 1000).toFixed(1)} s`);
    };
    const empty = async () => {
      await admin.unsafe(`TRUNCATE ${TABLE}`);
      await admin.unsafe('CHECKPOINT');
    };
    const results = await runRounds(
      [
        { name: UNFAULTED, prepare: empty, run: () => loadOnce(false) },
        { name: FAULTED, prepare: empty, run: () => loadOnce(true) },
      ],
      ROUNDS,
      ROWS,
    );
    printTable(results, ROWS, UNFAULTED, 'unfaulted');
    const perRound = (name: string) => results.seconds.get(name)!.map((s) => s.toFixed(1)).join(', ');
    console.log(`\nseconds per round: unfaulted ${perRound(UNFAULTED)}; faulted ${perRound(FAULTED)}`);
    console.log(`restarts: ${restarts.join('; ')}`);
    console.log(`invocations still running at their function's timeout: ${overruns.length ? overruns.join(', ') : 'none'}`);
    console.log(`machine load (1, 5, 15 min) at end: ${load()}`);
    // The slowdown per round (faulted seconds over unfaulted seconds of the same round).
    const faulted = results.seconds.get(FAULTED)!;
    const unfaulted = results.seconds.get(UNFAULTED)!;
    const perRoundRatio = faulted.map((s, i) => s / unfaulted[i]!);
    const slowdown = { median: median(perRoundRatio), min: Math.min(...perRoundRatio), max: Math.max(...perRoundRatio) };
    console.log(`faulted over unfaulted, median (range over rounds): ${formatRatio(slowdown)}; median seconds ${median(faulted).toFixed(1)} vs ${median(unfaulted).toFixed(1)}`);
    console.log(`recovery: ${slowdown.median.toFixed(2)}x unfaulted`);
  } finally {
    await stack.stop();
    await admin.end({ timeout: 2 }).catch(() => {});
    await bouncer?.stop();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
