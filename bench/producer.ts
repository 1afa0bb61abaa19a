/**
 * Producer benchmark: generates a large CSV, drops it into an in-process fauxqs (objects on
 * disk), and runs the real produce path on it in a child process, so that the peak RSS
 * printed is the producer's own. Not part of CI.
 *
 *   npm run bench:producer                 # 1 GB
 *   npm run bench:producer -- --size 200MB
 *   LANDFALL_BENCH_SIZE=50MB ROUNDS=5 npm run bench:producer
 *   ROUNDS=1 npm run bench:producer -- --size 4GB
 *
 * Each producer invocation gets Lambda's deadline (the function's 900 s timeout from its start);
 * a file that needs more is continued, in the same process, as the next invocation. The bench
 * prints how many invocations the file took and the longest, and fails over 600 s.
 * LANDFALL_BENCH_MAX_INVOCATION_MS caps invocations shorter, to see continuations on a small file.
 *
 * COPY of the same file into a table (the database's rows/s, the pipeline's ceiling) and the
 * producer alternate in ROUNDS rounds (default 3); the ratio is the median of the per-round
 * ratios. The last line is for scripts:
 *   producer: <MB/s> MB/s, <r>x COPY rows/s, peak RSS <MB> MB
 *
 * A third scenario reads the same rows written as a European Excel export (semicolons, Windows-1252
 * with non-ASCII names, decimal commas, CRLF) under the table profile that reads them
 * (`"format": { "delimiter": ";", "encoding": "windows-1252", "decimal": "," }`), interleaved
 * with the others, and prints its rows/s against the default CSV's in the same run:
 *   eu profile: <r>x the default CSV's rows/s
 * LANDFALL_BENCH_EU=0 leaves it out.
 *
 * The producer runs several ways, interleaved (LANDFALL_BENCH_THREADS, default one,core,w1,w2,w3):
 * one thread; one thread held to one core (taskset: a 1-vCPU function); 1, 2 and 3 block worker
 * threads (shared/producer/block-workers.ts). One line lists each against COPY:
 *   producer threads: one thread <r>x COPY, one thread on one core <r>x COPY, 1 worker <r>x COPY, …
 * and a table gives rows/s and Lambda's cost per GB of CSV at 1,769 / 3,008 / 5,308 MB, the vCPUs
 * simulated by threads on this machine's cores (see printMemoryTable). The last line's figures
 * are those of the two-worker run.
 *
 * LANDFALL_BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each producer process there;
 * LANDFALL_BENCH_NODE_FLAGS="--trace-gc …" passes more flags to it.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startFauxqs } from 'fauxqs';
import { build } from 'esbuild';
import postgres from 'postgres';
import { createS3Client } from '../shared/aws/clients.ts';
import { catalogSnapshotKeyOf, type CatalogSnapshot } from '../shared/core/catalog-snapshot.ts';
import { FunctionSettings } from '../shared/core/resources.ts';
import { BLOCK_WORKER_BUNDLE } from '../shared/producer/block-worker-bundle.ts';
import { benchDatabase } from './database.ts';
import { argOf, formatRatio, median, parseSize, printTable, ratioOf, runRounds } from './rounds.ts';

const INBOX = 'bench-inbox';
const STAGING = 'bench-staging';
const QUEUE = 'bench-batches.fifo';
const RSS_LIMIT_MB = 256;
/** No invocation may take longer (simulated Lambda time; the function's timeout is 900 s). */
const INVOCATION_LIMIT_S = 600;

/**
 * The snapshot a consumer writes for `orders`: with it the producer canonicalises every key and
 * spreads the rows over the table's partitions, as in a running pipeline (without one every row
 * goes to partition 0, raw).
 */
const ORDERS_SNAPSHOT: CatalogSnapshot = {
  format: 1,
  table: 'orders',
  readAt: '2026-01-01T00:00:00.000Z',
  timeZone: 'UTC',
  columns: [
    { name: 'id', type: 'bigint', baseType: 'int8', category: 'N', collation: null },
    { name: 'customer', type: 'text', baseType: 'text', category: 'S', collation: null },
    { name: 'amount', type: 'numeric', baseType: 'numeric', category: 'N', collation: null },
    { name: 'status', type: 'text', baseType: 'text', category: 'S', collation: null },
    { name: 'updated_at', type: 'timestamp with time zone', baseType: 'timestamptz', category: 'D', collation: null },
    { name: 'note', type: 'text', baseType: 'text', category: 'S', collation: null },
  ],
  conflictKey: ['id'],
  index: 'orders_pkey',
  arrivalColumn: null,
};

/** The table profile of the European export scenario. */
export const EU_FORMAT = { delimiter: ';', encoding: 'windows-1252', decimal: ',' } as const;

/**
 * Writes a CSV of about `bytes` bytes; returns its row count. `eu`: the same rows as a European
 * Excel export: semicolons, CRLF, decimal commas, Windows-1252 (a customer name with "ü").
 */
async function generateCsv(path: string, bytes: number, eu = false, rowCount?: number): Promise<number> {
  const out = createWriteStream(path);
  const write = (text: string) => (out.write(eu ? Buffer.from(text, 'latin1') : text) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write(eu ? 'id;customer;amount;status;updated_at;note\r\n' : 'id,customer,amount,status,updated_at,note\n');
  let written = 0;
  let rows = 0;
  const statuses = ['new', 'paid', 'shipped', 'cancelled'];
  while (rowCount !== undefined ? rows < rowCount : written < bytes) {
    let block = '';
    for (let i = 0; i < 1000; i++) {
      rows++;
      const note = rows % 97 === 0 ? '"a note, with a comma and ""quotes"""' : rows % 13 === 0 ? '' : 'plain note';
      const fields = [rows, `customer-${rows % 100_000}`, (rows % 10_000) / 100, statuses[rows % 4], `2026-01-${String((rows % 28) + 1).padStart(2, '0')}T12:00:00Z`, note];
      block += eu
        ? `${fields.map((f, i) => (i === 1 && rows % 10 === 0 ? `Müller ${f}` : i === 2 ? String(f).replace('.', ',') : f)).join(';')}\r\n`
        : `${fields.join(',')}\n`;
    }
    written += eu ? block.length : Buffer.byteLength(block);
    await write(block);
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return rows;
}

/** Multipart upload in 10 MiB parts (the emulator takes at most 11 MiB per request). */
async function uploadFile(s3: S3Client, bucket: string, key: string, path: string): Promise<void> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const parts: { ETag: string; PartNumber: number }[] = [];
  let pending = Buffer.alloc(0);
  const partSize = 10 * 1024 * 1024;
  const flush = async (body: Buffer) => {
    const PartNumber = parts.length + 1;
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber, Body: body }));
    parts.push({ ETag: ETag!, PartNumber });
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    pending = Buffer.concat([pending, chunk as Buffer]);
    if (pending.length >= partSize) {
      await flush(pending.subarray(0, partSize));
      pending = Buffer.from(pending.subarray(partSize));
    }
  }
  if (pending.length > 0 || parts.length === 0) await flush(pending);
  try {
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
  } catch (error) {
    // The emulator assembles a 4 GB object slowly; the SDK's retry of a completion that did
    // succeed finds its parts consumed (InvalidPart). The object is there if its size is right.
    const { size } = await stat(path);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
    if (head?.ContentLength !== size) throw error;
  }
}

interface ChildReport {
  rows: number;
  /** Simulated Lambda time of each invocation the file took. */
  invocationSeconds: number[];
  seconds: number;
  /** CPU seconds of the whole producer process (main thread, block workers, zstd's thread pool). */
  cpuSeconds: number;
  peakRssMb: number;
  sampledPeakRssMb: number;
  inheritedMaxRssMb: number;
  batches: number;
  baselineRssMb: number;
  heapUsedMb: number;
  externalMb: number;
}

const COPY = 'COPY the CSV into a table (reference)';
const PRODUCE = 'producer, one thread (bundled, 256 MB heap limits)';
const PRODUCE_EU = 'producer, semicolon Windows-1252 decimal-comma profile';

/** How the producer runs: its block worker threads, and whether it is held to one core (a 1-vCPU function). */
interface Threads {
  name: string;
  workers: number;
  oneCore: boolean;
}
const THREADS: Record<string, Threads> = {
  one: { name: PRODUCE, workers: 0, oneCore: false },
  core: { name: 'producer, one thread held to one core (a 1-vCPU function)', workers: 0, oneCore: true },
  w1: { name: 'producer, 1 block worker', workers: 1, oneCore: false },
  w2: { name: 'producer, 2 block workers', workers: 2, oneCore: false },
  w3: { name: 'producer, 3 block workers', workers: 3, oneCore: false },
};
/**
 * Lambda's public price per GB-second (us-east-1, the first 6 billion GB-seconds a month;
 * aws.amazon.com/lambda/pricing): x86_64, and arm64, the architecture the stack deploys.
 */
const PRICE_PER_GB_SECOND = { x86: 0.0000166667, arm64: 0.0000133334 };

function expectThreads(key: string): never {
  throw new Error(`LANDFALL_BENCH_THREADS: unknown "${key}" (one of ${Object.keys(THREADS).join(', ')})`);
}

/**
 * The producer's memory settings with the rows/s measured here and what a GB of CSV costs at
 * each. Lambda gives a function one vCPU per 1,769 MB; this machine has two cores, so the vCPUs
 * are simulated by threads: 1,769 MB is the one-thread run held to one core (taskset), 3,008 MB
 * (1.7 vCPUs) the two-worker run on both cores, 5,308 MB (3 vCPUs) the three-worker run, also on
 * two cores (a lower bound: its third worker has no core of its own). Measured, none extrapolated.
 */
function printMemoryTable(chosen: Threads[], rowsPerSecond: (name: string) => number, mbPerSecond: (name: string) => number): void {
  const settings = [
    { memory: 1769, vcpus: '1', threads: THREADS.core!, how: 'one thread held to one core' },
    { memory: 3008, vcpus: '1.7', threads: THREADS.w2!, how: '2 block workers on 2 cores' },
    { memory: 5308, vcpus: '3', threads: THREADS.w3!, how: '3 block workers on 2 cores (lower bound)' },
  ].filter((s) => chosen.includes(s.threads));
  if (settings.length === 0) return;
  // Lambda bills memory × duration: a GB of CSV takes 1024 / (MB/s) seconds.
  const costPerGb = (memoryMiB: number, mb: number, price: number) => price * (memoryMiB / 1024) * (1024 / mb);
  console.log(`\nLambda price per GB-second: $${PRICE_PER_GB_SECOND.x86} x86_64, $${PRICE_PER_GB_SECOND.arm64} arm64 (the stack's architecture)`);
  console.log('| producer memory | vCPUs | simulated by | rows/s | MB/s | $ per GB of CSV (x86_64) | $ per GB of CSV (arm64) |\n| --- | ---: | --- | ---: | ---: | ---: | ---: |');
  for (const s of settings) {
    const mb = mbPerSecond(s.threads.name);
    console.log(
      `| ${s.memory.toLocaleString('en')} MB | ${s.vcpus} | ${s.how} | ${Math.round(rowsPerSecond(s.threads.name)).toLocaleString('en')} | ${mb.toFixed(1)} | $${costPerGb(s.memory, mb, PRICE_PER_GB_SECOND.x86).toFixed(5)} | $${costPerGb(s.memory, mb, PRICE_PER_GB_SECOND.arm64).toFixed(5)} |`,
    );
  }
}

async function parent(): Promise<void> {
  const size = parseSize(argOf('size') ?? process.env.LANDFALL_BENCH_SIZE ?? '1GB');
  const rounds = Number(process.env.ROUNDS ?? 3);
  const dir = await mkdtemp(join(tmpdir(), 'landfall-bench-'));
  const server = await startFauxqs({ port: 0, logger: false, s3StorageDir: join(dir, 's3') });
  const { url, stop: stopDb } = await benchDatabase();
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    server.createBucket(INBOX);
    server.createBucket(STAGING);
    const { queueUrl } = server.createQueue(QUEUE, { attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' } });
    const endpoint = `http://127.0.0.1:${server.port}`;
    const csvPath = join(dir, 'orders.csv');
    console.log(`generating a ${(size / 1024 ** 2).toFixed(0)} MB CSV…`);
    const rows = await generateCsv(csvPath, size);
    const { size: fileBytes } = await stat(csvPath);
    const withEu = process.env.LANDFALL_BENCH_EU !== '0';
    const euPath = join(dir, 'orders-eu.csv');
    if (withEu) {
      const euRows = await generateCsv(euPath, size, true, rows);
      if (euRows !== rows) throw new Error(`the European export has ${euRows} rows, the CSV ${rows}`);
    }
    const s3 = createS3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    // LANDFALL_BENCH_THREADS: which ways of running the producer, of one (one thread), core (one thread on one core), w1, w2, w3 (block workers).
    const chosen = (process.env.LANDFALL_BENCH_THREADS ?? 'one,core,w1,w2,w3').split(',').map((k) => THREADS[k.trim()] ?? expectThreads(k));
    if (!chosen.includes(THREADS.one!)) chosen.unshift(THREADS.one!);
    await sql.unsafe('DROP TABLE IF EXISTS orders');
    await sql.unsafe('CREATE TABLE orders (id bigint PRIMARY KEY, customer text, amount numeric, status text, updated_at timestamptz NOT NULL, note text)');
    // Bundled as a Lambda function is (no TypeScript loader in the process), and with old space
    // at 90% and semi-space at 5% of a 256 MB function's memory, as the Lambda Node.js
    // runtime's bootstrap sets them.
    const bundle = join(dir, 'producer-child.mjs');
    await build({
      entryPoints: [fileURLToPath(new URL('./producer-child.ts', import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      outfile: bundle,
      logLevel: 'error',
      banner: { js: "import { createRequire as __landfallRequire } from 'node:module'; const require = __landfallRequire(import.meta.url);" },
    });
    // The block workers' own bundle, beside it (as the CDK writes it beside the function's).
    await build({
      entryPoints: [fileURLToPath(new URL(`../${BLOCK_WORKER_BUNDLE.entry}`, import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      outfile: join(dir, BLOCK_WORKER_BUNDLE.file),
      logLevel: 'error',
    });
    const heapFlag = `--max-old-space-size=${process.env.LANDFALL_BENCH_HEAP_MB ?? Math.floor(RSS_LIMIT_MB * 0.9)}`;
    // Without it V8 sizes the young generation from the machine, not the function: here it grew
    // to 128 MB of new space by itself, half the function's memory.
    const semiSpaceFlag = `--max-semi-space-size=${process.env.LANDFALL_BENCH_SEMI_SPACE_MB ?? Math.floor(RSS_LIMIT_MB * 0.05)}`;
    console.log(`${rows} rows (${(fileBytes / 1024 ** 2).toFixed(1)} MB); ${rounds} interleaved rounds of COPY and the producer`);
    // The emulator holds an object in one buffer and fails to assemble one this large from its
    // parts (CompleteMultipartUpload errors, its retry finds the parts gone): past 2 GiB the
    // producer reads the inbox file from the local disk through the same ranged-read interface
    // (batches, manifests and messages still go to the emulator).
    const fromDisk = process.env.LANDFALL_BENCH_FROM_DISK === '1' || fileBytes > 2 * 1024 ** 3;
    if (fromDisk) console.log('inbox file read from the local disk (over 2 GiB: the emulator cannot hold it)');

    const reports = new Map<string, (ChildReport & { queued: number })[]>();
    const euReports: ChildReport[] = [];
    let round = 0;
    let file: { bucket: string; key: string; versionId: null; etag: string; eventTime: string } | undefined;
    let formatProfile: 'default' | 'eu' = 'default';
    const produce = async (threads: Threads) => {
      const profile = process.env.LANDFALL_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.LANDFALL_BENCH_CPU_PROF}`] : [];
      const extra = (process.env.LANDFALL_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
      const node = [process.execPath, heapFlag, semiSpaceFlag, ...profile, ...extra, bundle];
      // taskset (util-linux) keeps every thread of the process on core 0.
      const [command, ...args] = threads.oneCore ? ['taskset', '-c', '0', ...node] : node;
      const child = spawn(command!, args, {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: {
          ...process.env,
          BENCH_ENDPOINT: endpoint,
          BENCH_STAGING: STAGING,
          BENCH_QUEUE_URL: queueUrl,
          BENCH_FILE: JSON.stringify(file),
          BENCH_WORKERS: String(threads.workers),
          ...(formatProfile === 'eu' ? { BENCH_FORMAT: JSON.stringify(EU_FORMAT) } : {}),
          ...(fromDisk ? { BENCH_INBOX_PATH: formatProfile === 'eu' ? euPath : csvPath } : {}),
        },
      });
      const report = await new Promise<ChildReport>((resolve, reject) => {
        child.on('message', (m) => resolve(m as never));
        // Once the report has arrived, this reject is a no-op.
        child.on('exit', (code) => reject(new Error(`the producer process exited (${code}) without a report`)));
      });
      if (formatProfile === 'eu') euReports.push(report);
      else reports.set(threads.name, [...(reports.get(threads.name) ?? []), { ...report, queued: server.inspectQueue(QUEUE)?.messages.ready.length ?? 0 }]);
      return { seconds: report.seconds, note: `${report.batches} batches, ${report.invocationSeconds.length} invocations, peak RSS ${report.peakRssMb} MB, ${((report.cpuSeconds / report.rows) * 1e6).toFixed(1)} CPU s per million rows` };
    };
    // A new inbox key each round (the same key would be a file already produced), and an
    // empty staging bucket and queue.
    const prepareProduce = async (which: 'default' | 'eu') => {
      formatProfile = which;
      server.reset();
      await s3.send(new PutObjectCommand({ Bucket: STAGING, Key: catalogSnapshotKeyOf('orders'), Body: JSON.stringify(ORDERS_SNAPSHOT) }));
      const key = `orders/bench-r${++round}${which === 'eu' ? '-eu' : ''}.csv`;
      const path = which === 'eu' ? euPath : csvPath;
      if (fromDisk) {
        file = { bucket: INBOX, key, versionId: null, etag: `local-${fileBytes}-${round}`, eventTime: new Date().toISOString() };
        return;
      }
      await uploadFile(s3, INBOX, key, path);
      const head = await s3.send(new HeadObjectCommand({ Bucket: INBOX, Key: key }));
      file = { bucket: INBOX, key, versionId: null, etag: head.ETag!.replace(/"/g, ''), eventTime: new Date().toISOString() };
    };
    const results = await runRounds(
      [
        {
          name: COPY,
          prepare: async () => {
            await sql.unsafe('TRUNCATE orders');
            await sql.unsafe('CHECKPOINT');
          },
          run: async () => {
            const writable = await sql.unsafe('COPY orders FROM STDIN WITH (FORMAT csv, HEADER true)').writable();
            await pipeline(createReadStream(csvPath), writable);
          },
        },
        // A new inbox key each round (the same key would be a file already produced), and an
        // empty staging bucket and queue.
        ...chosen.map((threads) => ({ name: threads.name, prepare: () => prepareProduce('default'), run: () => produce(threads) })),
        ...(withEu ? [{ name: PRODUCE_EU, prepare: () => prepareProduce('eu'), run: () => produce(THREADS.one!) }] : []),
      ],
      rounds,
      rows,
    );
    printTable(results, rows, COPY, 'COPY');
    const all = [...reports.values()].flat();
    const main = reports.get((chosen.find((t) => t.workers === 2) ?? chosen.at(-1)!).name)!;
    const report = main.at(-1)!;
    console.log(
      JSON.stringify(
        {
          fileMB: Number((fileBytes / 1024 ** 2).toFixed(1)),
          rows: report.rows,
          batches: report.batches,
          messagesQueued: report.queued,
          secondsPerRound: Object.fromEntries([...reports].map(([name, r]) => [name, r.map((x) => Number(x.seconds.toFixed(2)))])),
          invocationSecondsPerRound: main.map((r) => r.invocationSeconds.map((x) => Number(x.toFixed(1)))),
          baselineRssMb: report.baselineRssMb,
          peakRssMbPerRound: Object.fromEntries([...reports].map(([name, r]) => [name, r.map((x) => x.peakRssMb)])),
          sampledPeakRssMb: report.sampledPeakRssMb,
          // ru_maxrss of the child: its parent's peak survives fork and exec, so not the figure.
          childMaxRssIncludingParentMb: report.inheritedMaxRssMb,
          parentRssMb: Math.round(process.memoryUsage().rss / 1024 ** 2),
          peakHeapUsedMb: report.heapUsedMb,
          peakExternalMb: report.externalMb,
          rssLimitMb: RSS_LIMIT_MB,
        },
        null,
        2,
      ),
    );
    const peakRss = Math.max(...all.map((r) => r.peakRssMb));
    const invocations = Math.max(...all.map((r) => r.invocationSeconds.length));
    const longest = Math.max(...all.flatMap((r) => r.invocationSeconds));
    console.log(`producer invocations: ${invocations}, longest ${longest.toFixed(1)} s of a ${FunctionSettings.producer.timeoutSeconds} s timeout (limit ${INVOCATION_LIMIT_S} s)`);
    if (longest > INVOCATION_LIMIT_S) {
      console.error(`an invocation took ${longest.toFixed(1)} s, over ${INVOCATION_LIMIT_S} s`);
      process.exitCode = 1;
    }
    const rowsPerSecond = (name: string) => rows / median(reports.get(name)!.map((r) => r.seconds));
    const mbPerSecond = (name: string) => fileBytes / 1024 ** 2 / median(reports.get(name)!.map((r) => r.seconds));
    printMemoryTable(chosen, rowsPerSecond, mbPerSecond);
    if (withEu) {
      const euPeak = Math.max(...euReports.map((r) => r.peakRssMb));
      console.log(`eu profile: ${ratioOf(results, PRODUCE_EU, PRODUCE).median.toFixed(2)}x the default CSV's rows/s (semicolons, Windows-1252, decimal commas; peak RSS ${euPeak} MB)`);
    }
    console.log(`producer threads: ${chosen.map((t) => `${t.workers === 0 ? (t.oneCore ? 'one thread on one core' : 'one thread') : `${t.workers} ${t.workers === 1 ? 'worker' : 'workers'}`} ${formatRatio(ratioOf(results, t.name, COPY))}x COPY`).join(', ')}`);
    const line = chosen.find((t) => t.workers === 2) ?? chosen.at(-1)!;
    console.log(`producer: ${mbPerSecond(line.name).toFixed(1)} MB/s, ${ratioOf(results, line.name, COPY).median.toFixed(2)}x COPY rows/s, peak RSS ${peakRss} MB`);
    // The limit holds for the default function (1,769 MB: one vCPU, one thread); block workers
    // only run from about 1.5 vCPUs (2,654 MB and up), where their peak is reported, not failed.
    const peakOf = (name: string) => Math.max(...reports.get(name)!.map((r) => r.peakRssMb));
    const single = chosen.filter((t) => t.workers === 0).map((t) => peakOf(t.name));
    const singlePeak = single.length ? Math.max(...single) : peakRss;
    if (singlePeak >= RSS_LIMIT_MB) {
      console.error(`peak RSS of one thread ${singlePeak} MB is over the ${RSS_LIMIT_MB} MB limit`);
      process.exitCode = 1;
    } else if (peakRss >= RSS_LIMIT_MB) {
      console.log(`peak RSS ${peakRss} MB with block workers is over the ${RSS_LIMIT_MB} MB target (one thread: ${singlePeak} MB); workers run only on functions of 2,654 MB and more`);
    }
  } finally {
    await sql.end();
    await server.stop();
    await stopDb();
    await rm(dir, { recursive: true, force: true });
  }
}

await parent();
