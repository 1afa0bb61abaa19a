/** The producer side of `bench/producer.ts`, run bundled in a process of its own. */
import { createS3Client, createSqsClient } from '../shared/aws/clients.ts';
import { producerDepsFromClients } from '../shared/aws/producer-deps.ts';
import { parseConfig } from '../shared/config.ts';
import { produceFile } from '../shared/producer/produce-file.ts';

const config = parseConfig({ tables: [{ table: 'orders', conflictKey: ['id'], version: 'updated_at', partitions: 8 }] });
const options = { endpoint: process.env.BENCH_ENDPOINT!, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
const deps = producerDepsFromClients({
  config,
  s3: createS3Client(options),
  sqs: createSqsClient(options),
  stagingBucket: process.env.BENCH_STAGING!,
  batchesQueueUrl: process.env.BENCH_QUEUE_URL!,
});
// LANDFALL_BENCH_NO_PUT=1 skips writing batch objects, to tell upload cost from the rest.
if (process.env.LANDFALL_BENCH_NO_PUT) {
  const store = deps.store;
  deps.store = { ...store, put: async (bucket, key, body, type) => (key.startsWith('batches/') ? undefined : store.put(bucket, key, body, type)) };
}
const baselineRssMb = Math.round(process.memoryUsage().rss / 1024 ** 2);
const peak = { heapUsedMb: 0, externalMb: 0 };
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  peak.heapUsedMb = Math.max(peak.heapUsedMb, Math.round(m.heapUsed / 1024 ** 2));
  peak.externalMb = Math.max(peak.externalMb, Math.round(m.external / 1024 ** 2));
}, 100);
const started = performance.now();
const outcome = await produceFile(deps, JSON.parse(process.env.BENCH_FILE!));
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
if (outcome.status !== 'produced') throw new Error(`unexpected outcome ${outcome.status}`);
process.send!({
  rows: outcome.manifest.read,
  seconds,
  batches: outcome.manifest.batchCount,
  baselineRssMb,
  peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  ...peak,
});
process.disconnect();
