/**
 * End-to-end benchmark: a generated CSV goes through `landfall run` (producer, FIFO queue,
 * consumer, ledger, all through the S3/SQS emulator) into PostgreSQL, next to a COPY of the
 * same file into the same table in the same run. Not a test: it prints a table.
 *
 *   npm run bench:e2e                 # 1,000,000 rows
 *   ROWS=200000 ROUNDS=5 npm run bench:e2e
 *   BATCH=50000 ROWS=300000 npm run bench:e2e   # batch.maxRows other than the default
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
 *
 * Where the time goes, per round: the child's start (Node, module loading, the stack's queues,
 * buckets, ledger and table checks) and the upload, until the watcher saw the file; from there
 * to the first batch applied; the flow until the last one; and the end (the run noticing, the
 * stack stopping). And what each part costs: CPU seconds per million rows of PostgreSQL, of the
 * `landfall run` process (producer, consumer and pollers), and of the emulator (this process),
 * for `landfall run` and for COPY; with LANDFALL_BENCH_CPU_PROF=<dir> the child writes a V8 CPU
 * profile there, split into producer, consumer and start-up. From those, the ratio AWS would
 * see, where the functions do not share the database's cores (printed with how it is made).
 */
import { spawn } from 'node:child_process';
import { createReadStream, writeFileSync } from 'node:fs';
import { chmod, link, mkdtemp, rm, stat } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { startFauxqs } from 'fauxqs';
import postgres from 'postgres';
import { benchDatabase } from './database.ts';
import { generateItemsCsv, itemsConfig, ITEMS_DDL } from './items-csv.ts';
import { argOf, loadLabel, median, parseSize, peakRssMbOf, printTable, ratioOf, runRounds } from './rounds.ts';
import { exitedChildrenCpuSeconds, ownCpuSeconds, postgresCpuSeconds, postmasterOnPort, type ProfileSplit, splitProfile } from './cpu.ts';

const SIZE = argOf('size');
const ROUNDS = Number(process.env.ROUNDS ?? 3);
/** `batch.maxRows` of the run's config (default: the config's own default). */
const BATCH = process.env.BATCH ? Number(process.env.BATCH) : null;
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
    // The items table as bench:recovery loads it, but with the config's default batch size unless BATCH says otherwise.
    writeFileSync(config, JSON.stringify({ tables: itemsConfig('bench_items').tables, ...(BATCH ? { batch: { maxRows: BATCH } } : {}) }));
    const empty = (table: string) => async () => {
      await sql.unsafe(`TRUNCATE ${table}`);
      await sql.unsafe('CHECKPOINT');
    };
    const peaks: number[] = [];
    const firstApplied: number[] = [];
    const firstFromStart: number[] = [];
    const receipts: { status: string; read: number; inserted: number; batches: number }[] = [];
    let round = 0;
    // CPU seconds per round, by part, for COPY and for landfall run.
    const postmaster = postmasterOnPort(Number(new URL(url).port));
    const cpu = { copy: [] as CpuReading[], run: [] as CpuReading[] };
    const phases: Phases[] = [];
    const splits: ProfileSplit[] = [];
    const profileDir = process.env.LANDFALL_BENCH_CPU_PROF;
    // A profile's samples are wall-clock intervals (a thread waiting for a core still ages them):
    // its non-idle shares, applied to the process's CPU seconds, are what each part used.
    const cpuSplit = (split: ProfileSplit, cpuSeconds: number): ProfileSplit => {
      const busy = split.producer + split.consumer + split['start-up'] + split.other;
      const share = (v: number) => (busy > 0 ? (v / busy) * cpuSeconds : 0);
      return { producer: share(split.producer), consumer: share(split.consumer), 'start-up': share(split['start-up']), other: share(split.other), idle: 0 };
    };
    const reading = () => ({ db: postgresCpuSeconds(postmaster), run: exitedChildrenCpuSeconds(), bench: ownCpuSeconds() });
    const since = (before: ReturnType<typeof reading>): CpuReading => {
      const after = reading();
      const diff = (a: number | null, b: number | null) => (a === null || b === null ? null : a - b);
      return { db: diff(after.db, before.db), run: diff(after.run, before.run), bench: after.bench - before.bench };
    };

    const runLandfall = async () => {
      // A new inbox key each round: the same key would be a file already produced.
      const file = join(dir, `bench_items-r${++round}.csv`);
      await link(csv, file);
      const started = Date.now();
      const before = reading();
      const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=e2e-round-${round}.cpuprofile`] : [];
      const child = spawn(process.execPath, [...profile, 'bin/landfall.js', 'run', '--config', config, '--database-url', url, '--timeout', '3600', file], {
        env: { ...process.env, AWS_ENDPOINT_URL: `http://127.0.0.1:${emulator.port}`, LANDFALL_HOME: join(dir, 'home') },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, peakRssMbOf(child.pid!) ?? 0)), 100);
      const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
      const ended = Date.now();
      clearInterval(sampler);
      cpu.run.push(since(before));
      if (profileDir && cpu.run.at(-1)!.run !== null) splits.push(cpuSplit(splitProfile(join(profileDir, `e2e-round-${round}.cpuprofile`)), cpu.run.at(-1)!.run!));
      if (code !== 0) throw new Error(`landfall run exited ${code}: ${stdout}`);
      receipts.push(JSON.parse(stdout.trim().split('\n').at(-1)!));
      peaks.push(peak);
      // From the drop (the S3 event time the ledger keeps for the file), as a pipeline sees a
      // file arrive; the start of `landfall run` adds its start-up and the upload of the file.
      const [first] = await sql`
        SELECT extract(epoch FROM min(b.applied_at))::float8 AS at, extract(epoch FROM max(b.applied_at))::float8 AS last,
               extract(epoch FROM min(f.event_time))::float8 AS dropped
        FROM landfall.batches b JOIN landfall.files f USING (file_id)
        WHERE b.applied_at >= to_timestamp(${started / 1000})`;
      firstApplied.push(first!.at - first!.dropped);
      firstFromStart.push(first!.at - started / 1000);
      // applied_at is the transaction's start: the last batch's commit is a little later.
      phases.push({ start: first!.dropped - started / 1000, firstBatch: first!.at - first!.dropped, flow: first!.last - first!.at, end: ended / 1000 - first!.last });
      await rm(file);
    };
    const results = await runRounds(
      [
        {
          name: COPY,
          prepare: empty('bench_copy'),
          run: async () => {
            const before = reading();
            const writable = await sql.unsafe('COPY bench_copy (tenant_id, sku, name, qty, price, attrs, updated_at, active) FROM STDIN WITH (FORMAT csv, HEADER true)').writable();
            await pipeline(createReadStream(csv), writable);
            cpu.copy.push(since(before));
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
    const s1 = (v: number) => v.toFixed(1);
    console.log(`where landfall run's time went, per round (s): ${phases.map((p) => `start and upload ${s1(p.start)}, drop to first batch ${s1(p.firstBatch)}, flow ${s1(p.flow)}, end ${s1(p.end)}`).join('; ')}`);
    const perM = (v: number | null) => (v === null ? 'n/a' : ((v * 1e6) / ROWS).toFixed(1));
    const med = (list: CpuReading[], part: keyof CpuReading) => (list.some((r) => r[part] === null) ? null : median(list.map((r) => r[part]!)));
    console.log('\nCPU seconds per million rows (median over rounds; the machine\'s cores are shared by all of them):');
    console.log('| part | landfall run | COPY |\n| --- | ---: | ---: |');
    console.log(`| PostgreSQL (every backend and background process of the server) | ${perM(med(cpu.run, 'db'))} | ${perM(med(cpu.copy, 'db'))} |`);
    console.log(`| the landfall run process (producer, consumer, pollers, start-up) | ${perM(med(cpu.run, 'run'))} | – |`);
    console.log(`| the emulator (S3 and SQS; this process) / COPY's client | ${perM(med(cpu.run, 'bench'))} | ${perM(med(cpu.copy, 'bench'))} |`);
    if (splits.length) {
      const part = (k: keyof ProfileSplit) => perM(median(splits.map((x) => x[k])));
      console.log(`| of the landfall run process, by its CPU profile: producer ${part('producer')}, consumer ${part('consumer')}, start-up ${part('start-up')}, other (garbage collection, the SDK's HTTP after an await, pollers) ${part('other')} | | |`);
    }
    // On AWS the producer and the consumers run on Lambda's cores, the emulator is S3 and SQS, and
    // the database has its cores to itself: the run then goes as fast as its slowest part allows.
    const aws = awsEstimate(cpu.run, cpu.copy, splits, phases);
    if (aws) console.log(`\n${aws.explain}`);
    console.log(`measured on: ${loadLabel()}`);
    const ratio = ratioOf(results, RUN, COPY);
    console.log(`end to end: ${ratio.median.toFixed(2)}x COPY, first batch applied after ${median(firstApplied).toFixed(1)} s, peak RSS ${Math.max(...peaks).toFixed(0)} MB${aws ? `, AWS estimate ${aws.ratio.toFixed(2)}x COPY` : ''}`);
  } finally {
    await sql.end();
    await emulator.stop();
    await stopDb();
    await rm(dir, { recursive: true, force: true });
  }
}

interface CpuReading {
  /** PostgreSQL's CPU seconds in the timed part; null when the server is not on this machine's /proc. */
  db: number | null;
  /** The landfall run process's CPU seconds (null for COPY, and without /proc). */
  run: number | null;
  /** This process's: the emulator during landfall run, the client during COPY. */
  bench: number;
}

interface Phases {
  /** From the spawn of landfall run until the watcher saw the file (Node, modules, the stack, the upload). */
  start: number;
  /** From then until the first batch was applied. */
  firstBatch: number;
  /** From the first batch applied to the last. */
  flow: number;
  /** From the last batch applied until the process exited. */
  end: number;
}

/**
 * The ratio to COPY AWS would see, from the CPU seconds each part used here rather than from
 * wall time on cores they all shared (and other work shared too). There the database has its
 * cores to itself (as many as here), S3 and SQS are services, the producer has one vCPU
 * (1,769 MB) and each consumer invocation its own. COPY keeps one database core busy for its
 * CPU seconds; the run's consumers apply partitions in parallel, so its database part takes its
 * CPU seconds over the cores; the producer takes its CPU seconds on its vCPU, at the same time.
 * The run then takes the longer of the two, after the latency from the drop to the first batch
 * applied (measured here, so an upper bound). Null without the CPU readings.
 */
function awsEstimate(run: CpuReading[], copy: CpuReading[], splits: ProfileSplit[], phases: Phases[]): { ratio: number; explain: string } | null {
  if (run.some((r) => r.db === null || r.run === null) || copy.some((r) => r.db === null)) return null;
  const cores = os.cpus().length;
  const copyDb = median(copy.map((r) => r.db!));
  const runDb = median(run.map((r) => r.db!));
  const runProcess = median(run.map((r) => r.run!));
  // Without a profile, count the whole landfall run process as the producer's: an upper bound.
  const producer = splits.length ? median(splits.map((x) => x.producer)) : runProcess;
  const latency = median(phases.map((p) => p.firstBatch));
  const parts: [string, number][] = [
    [`the database (${runDb.toFixed(1)} CPU s over ${cores} cores)`, runDb / cores],
    [`the producer (${producer.toFixed(1)} CPU s on 1 vCPU)`, producer],
  ];
  const [slowest, seconds] = parts.sort((a, b) => b[1] - a[1])[0]!;
  const total = latency + seconds;
  const ratio = copyDb / total;
  return {
    ratio,
    explain:
      `AWS estimate: COPY used ${copyDb.toFixed(1)} CPU s of PostgreSQL (one core: its time there); landfall run used ${runDb.toFixed(1)} CPU s of PostgreSQL ` +
      `(${(runDb / copyDb).toFixed(2)}× COPY's) and ${runProcess.toFixed(1)} CPU s of its own process${splits.length ? ` (producer ${producer.toFixed(1)})` : " (all counted as the producer's: no profile, an upper bound)"}. ` +
      `With the database's cores to itself and the functions on their own, the run would take about ${latency.toFixed(1)} s to its first batch + ${seconds.toFixed(1)} s for ${slowest}, ` +
      `against COPY's ${copyDb.toFixed(1)} s: ${ratio.toFixed(2)}× COPY.`,
  };
}

await main();
