/** The producer side of `bench/producer.ts`, run bundled in a process of its own (its block workers run their own bundle beside it). */
import { createReadStream, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { createS3Client, createSqsClient } from '../shared/aws/clients.ts';
import { producerDepsFromClients } from '../shared/aws/producer-deps.ts';
import { s3ObjectStore } from '../shared/aws/s3-object-store.ts';
import { parseConfig } from '../shared/core/config.ts';
import { continueFile, produceFile, type ProduceOutcome } from '../shared/producer/produce-file.ts';
import type { ContinuationMessage } from '../shared/core/progress.ts';
import { FunctionSettings } from '../shared/core/resources.ts';
import { sharedBlockWorkers } from '../shared/producer/block-workers.ts';

// BENCH_FORMAT: the table's format profile (the European export scenario).
const format = process.env.BENCH_FORMAT ? (JSON.parse(process.env.BENCH_FORMAT) as object) : undefined;
// BATCH sets batch.maxRows (default: the config's default), as in bench:engine and bench:e2e.
const config = parseConfig({ ...(process.env.BATCH ? { batch: { maxRows: Number(process.env.BATCH) } } : {}), tables: [{ table: 'orders', conflictKey: ['id'], version: 'updated_at', partitions: 8, ...(format ? { format } : {}) }] });
const options = { endpoint: process.env.BENCH_ENDPOINT!, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
const deps = producerDepsFromClients({
  config,
  s3: createS3Client(options),
  sqs: createSqsClient(options),
  stagingBucket: process.env.BENCH_STAGING!,
  batchesQueueUrl: process.env.BENCH_QUEUE_URL!,
});
// The emulator reads a whole object from disk for every GET, ranged or not (fauxqs's
// persistence), so the store's 8 MiB GETs made it read a 1 GB file 128 times, and the producer
// waited on that (54% idle in its profile). One GET per read (up to 1 GiB) keeps the emulator's
// cost out of the producer's time; against S3 a ranged GET costs what its range does. A
// continued invocation still reads only its own ranges (the header, then from its position).
deps.store = s3ObjectStore(createS3Client(options), { segmentBytes: Number(process.env.LANDFALL_BENCH_SEGMENT_BYTES ?? 1024 ** 3) });
// A file too large for the emulator is read from the local disk, with ranged reads as from S3.
if (process.env.BENCH_INBOX_PATH) {
  const path = process.env.BENCH_INBOX_PATH;
  const store = deps.store;
  deps.store = {
    ...store,
    stream: async (ref, range) =>
      ref.key.startsWith('orders/') ? createReadStream(path, { start: range?.start ?? 0, ...(range?.end !== undefined ? { end: range.end - 1 } : {}), highWaterMark: 1024 * 1024 }) : store.stream(ref, range),
  };
}
// BENCH_WORKERS: block worker threads beside the main thread (0: one thread does it all).
const workerCount = Number(process.env.BENCH_WORKERS ?? 0);
const workers = sharedBlockWorkers(workerCount);
if (workerCount > 0 && !workers) throw new Error(`no block worker bundle beside ${import.meta.url}`);
if (workers) deps.workers = workers;
// Continuations are kept here and run as the next invocation (a warm container, as Lambda reuses
// one); LANDFALL_BENCH_MAX_INVOCATION_MS shortens the invocations to see continuations on a small file.
const continuations: ContinuationMessage[] = [];
deps.continuations = { send: async (message) => void continuations.push(message) };
if (process.env.LANDFALL_BENCH_MAX_INVOCATION_MS) deps.limits = { maxInvocationMs: Number(process.env.LANDFALL_BENCH_MAX_INVOCATION_MS) };
const TIMEOUT_MS = FunctionSettings.producer.timeoutSeconds * 1000;
// LANDFALL_BENCH_NO_PUT=1 skips writing batch objects, to tell upload cost from the rest.
if (process.env.LANDFALL_BENCH_NO_PUT) {
  const store = deps.store;
  deps.store = { ...store, put: async (bucket, key, body, type) => (key.startsWith('batches/') ? undefined : store.put(bucket, key, body, type)) };
}
/**
 * This process's own peak RSS in MB: the kernel's high-water mark of its address space
 * (VmHWM), else the highest sampled RSS. Not `process.resourceUsage().maxRSS`: on Linux
 * ru_maxrss survives fork and exec, so a child starts with its parent's peak (here the
 * emulator's, which holds the uploaded file) and would report that instead of its own.
 */
function ownPeakRssMb(sampledPeakMb: number): number {
  try {
    const kb = /^VmHWM:\s+(\d+)\s*kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return Math.round(Number(kb) / 1024);
  } catch {
    // no procfs (not Linux): the sampled peak below
  }
  return sampledPeakMb;
}

const baselineRssMb = Math.round(process.memoryUsage().rss / 1024 ** 2);
const peak = { heapUsedMb: 0, externalMb: 0, rssMb: baselineRssMb };
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  peak.rssMb = Math.max(peak.rssMb, Math.round(m.rss / 1024 ** 2));
  peak.heapUsedMb = Math.max(peak.heapUsedMb, Math.round(m.heapUsed / 1024 ** 2));
  peak.externalMb = Math.max(peak.externalMb, Math.round(m.external / 1024 ** 2));
}, 100);
/** RSS by kind of mapping (Linux): the malloc heap, other anonymous memory, files. */
function rssByMapping(): Record<string, number> {
  const totals: Record<string, number> = { brk: 0, anon: 0, file: 0 };
  try {
    let kind = 'anon';
    for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
      const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (header) kind = header[1] === '[heap]' ? 'brk' : header[1] === '' || header[1]!.startsWith('[') ? 'anon' : 'file';
      else if (line.startsWith('Rss:')) totals[kind]! += Number(/(\d+)/.exec(line)![1]) / 1024;
    }
  } catch {
    // not Linux
  }
  return Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, Math.round(v)]));
}

// LANDFALL_BENCH_TRACE=1 prints the memory figures every second, to see what grows (=<ms>: that often,
// from 10 ms), and at the end the sample where RSS peaked. With block workers each worker's V8 heap
// is sampled too (used / committed + external, MB), and the blocks sent to the workers and not given back yet (blocksOut).
const traceMs = Number(process.env.LANDFALL_BENCH_TRACE ?? 0);
let tracePeak: { rss: number } | undefined;
let workerHeaps: string[] = [];
const tracer =
  traceMs > 0
    ? setInterval(
        () => {
          const m = process.memoryUsage();
          const h = getHeapStatistics();
          const mb = (n: number) => Math.round(n / 1024 ** 2);
          const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name.replace(/_space$/, ''), mb(s.space_size)]));
          if (workers) void workers.heapStatistics().then((stats) => (workerHeaps = stats.map((s) => `${mb(s.used_heap_size)}/${mb(s.total_heap_size)}+${mb(s.external_memory)}`)));
          const sample = {
            t: Number(((performance.now() - started) / 1000).toFixed(1)),
            rss: mb(m.rss),
            heapTotal: mb(m.heapTotal),
            heapUsed: mb(m.heapUsed),
            external: mb(m.external),
            arrayBuffers: mb(m.arrayBuffers),
            malloced: mb(h.malloced_memory),
            mappings: rssByMapping(),
            spaces,
            ...(workers ? { workerHeaps, blocksOut: workers.stats.tasks - workers.stats.recycled } : {}),
          };
          if (!tracePeak || sample.rss >= tracePeak.rss) tracePeak = sample;
          console.error(JSON.stringify(sample));
        },
        traceMs < 10 ? 1000 : traceMs,
      )
    : undefined;
const started = performance.now();
const cpuAtStart = process.cpuUsage();
const invocationSeconds: number[] = [];
/** One invocation with Lambda's deadline: the function's timeout from its start. */
const invoke = async (work: (remainingMs: () => number) => Promise<ProduceOutcome>) => {
  const start = performance.now();
  const outcome = await work(() => TIMEOUT_MS - (performance.now() - start));
  invocationSeconds.push((performance.now() - start) / 1000);
  const read = outcome.status === 'continued' ? outcome.read : outcome.status === 'produced' ? outcome.manifest.read : 0;
  console.error(`  invocation ${invocationSeconds.length}: ${invocationSeconds.at(-1)!.toFixed(1)} s, ${outcome.status}, ${read} rows read so far, RSS ${Math.round(process.memoryUsage().rss / 1024 ** 2)} MB`);
  return outcome;
};
let outcome = await invoke((remainingMs) => produceFile(deps, JSON.parse(process.env.BENCH_FILE!), { remainingMs }));
while (outcome.status === 'continued') {
  const message = continuations.at(-1)!;
  outcome = await invoke((remainingMs) => continueFile(deps, message, { remainingMs }));
}
const seconds = (performance.now() - started) / 1000;
// CPU time of every thread of the process (the workers' too), user and system.
const cpu = process.cpuUsage(cpuAtStart);
clearInterval(sampler);
clearInterval(tracer);
if (tracePeak) console.error(`  peak RSS sample: ${JSON.stringify(tracePeak)}`);
if (outcome.status !== 'produced') throw new Error(`unexpected outcome ${outcome.status}`);
process.send!({
  rows: outcome.manifest.read,
  seconds,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  batches: outcome.manifest.batchCount,
  invocationSeconds,
  baselineRssMb,
  peakRssMb: ownPeakRssMb(peak.rssMb),
  sampledPeakRssMb: peak.rssMb,
  inheritedMaxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  heapUsedMb: peak.heapUsedMb,
  externalMb: peak.externalMb,
});
process.disconnect();
// The block workers' threads are unref'd, yet a child with workers was seen to stay alive after its report (keeping the bench waiting): stop them.
await workers?.close();
