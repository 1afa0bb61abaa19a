import { beforeEach, describe, expect, test } from 'vitest';
import { parseQueueMessage, type FileManifest } from '../../shared/core/batch-message.ts';
import { decodeBatch } from '../../shared/producer/batch-object.ts';
import { processIntakeMessage } from '../../shared/producer/intake.ts';
import type { ProduceOutcome, ProducerDeps, ProducerLimits } from '../../shared/producer/produce-file.ts';
import type { ContinuationMessage, FileProgress } from '../../shared/core/progress.ts';
import { catalogSnapshot } from '../helpers/catalog-factory.ts';
import { STAGING, startProducerEmulator } from '../helpers/producer-emulator.ts';
import { csvOf, gzipOf, ndjsonOf, orderRows, parquetOf, producerConfigFactory } from '../helpers/producer-files.ts';
import { s3EventBody } from '../helpers/s3-event.ts';

const emulator = await startProducerEmulator();
const config = producerConfigFactory({ batch: { maxRows: 40 } });
const ORDERS = catalogSnapshot('orders', { id: 'int8', name: 'text', amount: 'numeric' }, ['id']);
/** Small segments, and no time for a second one: every invocation reads one segment and stops. */
const CONTINUED: Partial<ProducerLimits> = { segmentBytes: 2048, maxInvocationMs: 0 };

beforeEach(async () => {
  emulator.reset();
  await emulator.publishSnapshot(ORDERS);
});

let dropped = 0;
const unique = (name: string) => `orders/c${++dropped}-${name}`;

/** Producer deps whose continuations are collected instead of sent to an intake queue. */
function continuingDeps(limits: Partial<ProducerLimits>, continuations: ContinuationMessage[]): ProducerDeps {
  return { ...emulator.deps(config), limits, continuations: { send: async (m) => void continuations.push(m) } };
}

/** Runs the notification, then each continuation in turn (a fresh invocation each), until the file is produced. */
async function produceThroughContinuations(body: string, deps: ProducerDeps, continuations: ContinuationMessage[]) {
  let [outcome] = await processIntakeMessage(deps, body);
  let invocations = 1;
  while (outcome!.status === 'continued') {
    [outcome] = await processIntakeMessage(deps, JSON.stringify(continuations.at(-1)));
    invocations++;
  }
  return { outcome: outcome!, invocations };
}

const manifestOf = (outcome: ProduceOutcome): FileManifest => (outcome.status === 'produced' ? outcome.manifest : expect.fail(`outcome ${outcome.status}`));
const stagedBytes = (manifest: FileManifest) => Promise.all(manifest.batches.map((b) => emulator.getBytes(STAGING, b.stagingKey)));
const sentOf = (fileId: string) =>
  emulator
    .messages()
    .sort((a, b) => a.sequence.localeCompare(b.sequence, 'en', { numeric: true }))
    .map((m) => parseQueueMessage(m.body))
    .filter((m) => m.fileId === fileId);

const rows = orderRows(600);
const files: { name: string; body: () => Promise<string | Uint8Array> }[] = [
  { name: 'a.csv', body: async () => csvOf(rows) },
  { name: 'a.csv.gz', body: async () => gzipOf(csvOf(rows)) },
  { name: 'a.ndjson', body: async () => ndjsonOf(rows) },
  { name: 'a.parquet', body: () => parquetOf(rows, { rowGroupSize: 50 }) },
];

describe('a file continued over several invocations', () => {
  test.each(files)('$name: cuts the same batches, byte for byte, as one invocation, and every row once', async ({ name, body }) => {
    const bytes = await body();
    const key = unique(name);
    const record = await emulator.drop(key, bytes);
    const continuations: ContinuationMessage[] = [];

    const { outcome, invocations } = await produceThroughContinuations(s3EventBody(record), continuingDeps(CONTINUED, continuations), continuations);

    const manifest = manifestOf(outcome);
    const continuedBytes = await stagedBytes(manifest);
    const sent = sentOf(manifest.fileId).flatMap((m) => ('batchId' in m ? [m.batchId] : []));
    expect(invocations).toBeGreaterThan(2);
    expect(manifest.invocations).toBe(invocations);
    expect({ read: manifest.read, rejected: manifest.rejected, batched: manifest.batches.reduce((n, b) => n + b.rows, 0) }).toEqual({ read: 600, rejected: 0, batched: 600 });
    const numbers = (await Promise.all(manifest.batches.map(async (b) => decodeBatch(await emulator.getBytes(STAGING, b.stagingKey))))).flatMap((b) => b.rowNumbers);
    expect(numbers.sort((a, b) => a - b)).toEqual(rows.map((_, i) => i + 1));
    expect(sent.sort()).toEqual(manifest.batches.map((b) => b.batchId).sort());
    // The same file (key and bytes) in one invocation, on an emptied emulator.
    emulator.reset();
    await emulator.publishSnapshot(ORDERS);
    const [whole] = await processIntakeMessage({ ...emulator.deps(config), limits: { segmentBytes: CONTINUED.segmentBytes! } }, s3EventBody(await emulator.drop(key, bytes)));
    const wholeManifest = manifestOf(whole!);
    expect(wholeManifest.invocations).toBe(1);
    expect(manifest.batches).toEqual(wholeManifest.batches);
    expect(continuedBytes).toEqual(await stagedBytes(wholeManifest));
  });

  test.each([
    { name: 'a.csv', body: () => csvOf(orderRows(5)) },
    { name: 'a.csv.gz', body: () => gzipOf(csvOf(orderRows(5))) },
  ])('$name: one record per segment, the last invocation starting at the end of the file, registers the file with its notice', async ({ name, body }) => {
    const record = await emulator.drop(unique(name), body());
    const continuations: ContinuationMessage[] = [];

    const { outcome, invocations } = await produceThroughContinuations(s3EventBody(record), continuingDeps({ segmentBytes: 1, maxInvocationMs: 0 }, continuations), continuations);

    const manifest = manifestOf(outcome);
    expect(invocations).toBe(6);
    expect(manifest.read).toBe(5);
    expect(manifest.batches.map((b) => b.rows).reduce((a, b) => a + b, 0)).toBe(5);
    const sent = sentOf(manifest.fileId);
    // The last invocation cut no batch: every batch went out before (a gzip file streams as CSV does), and the notice registers the file.
    expect(sent.at(-1)).toMatchObject({ kind: 'file' });
    expect(manifest.sentAfterManifest).toBe(0);
  });

  test('a gzip file cut short, found in a later invocation: the rows of every invocation before the cut are its batches, all sent while it was read', async () => {
    const many = orderRows(6000);
    const gz = gzipOf(csvOf(many));
    const record = await emulator.drop(unique('cut.csv.gz'), gz.subarray(0, Math.floor(gz.length * 0.8)));
    const continuations: ContinuationMessage[] = [];

    const { outcome, invocations } = await produceThroughContinuations(s3EventBody(record), continuingDeps({ segmentBytes: 16 * 1024, maxInvocationMs: 0 }, continuations), continuations);

    const manifest = manifestOf(outcome);
    expect(invocations).toBeGreaterThanOrEqual(2);
    expect(manifest.unreadableEnd).toMatchObject({ code: 'corrupt-gzip', afterRow: manifest.read, message: expect.stringContaining('cut short') });
    expect(manifest.read).toBeGreaterThan(1000);
    expect(manifest.read).toBeLessThan(6000);
    const rows = new Map<number, string>();
    for (const b of manifest.batches) {
      const batch = await decodeBatch(await emulator.getBytes(STAGING, b.stagingKey));
      batch.rowNumbers.forEach((row, r) => rows.set(row, String(batch.values[0]![r])));
    }
    expect([...rows.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: manifest.read }, (_, i) => i + 1));
    const sent = sentOf(manifest.fileId).flatMap((m) => ('batchId' in m ? [m] : []));
    expect(sent.map((m) => m.batchId).sort()).toEqual(manifest.batches.map((b) => b.batchId).sort());
    expect(sent.filter((m) => m.batchCount === null).length).toBeGreaterThan(0);
  });

  test('rejects and line numbers after a continuation are those of the whole file', async () => {
    const text = csvOf(rows).replace('\n300,', '\n300,"unfinished,').replace('\n450,name 450,675\n', '\n450,name 450\n');
    const record = await emulator.drop(unique('bad.csv'), text);
    const continuations: ContinuationMessage[] = [];

    const { outcome } = await produceThroughContinuations(s3EventBody(record), continuingDeps(CONTINUED, continuations), continuations);

    const manifest = manifestOf(outcome);
    const rejects = (await emulator.getBytes(manifest.rejects!.bucket, manifest.rejects!.key)).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rejects[0]).toMatchObject({ row: 300, line: 301 });
    expect(manifest.read).toBe(600);
    expect(manifest.read).toBe(manifest.rejected + manifest.batches.reduce((n, b) => n + b.rows, 0));
  });

  test('NDJSON: a reject after a continuation names the file\'s line and row, as one invocation does', async () => {
    // Two blank lines and a junk line before the first object: the lines are the file's, not the resumed read's.
    const lines = ndjsonOf(rows).split('\n');
    lines[450] = lines[450]!.replace('}', ',"colour":"red"}');
    const text = `\n\nnot json\n${lines.join('\n')}`;
    const key = unique('bad.ndjson');
    const rejectsOf = async (outcome: ProduceOutcome) => {
      const m = manifestOf(outcome);
      return (await emulator.getBytes(m.rejects!.bucket, m.rejects!.key)).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    };
    const continuations: ContinuationMessage[] = [];
    const { outcome, invocations } = await produceThroughContinuations(s3EventBody(await emulator.drop(key, text)), continuingDeps(CONTINUED, continuations), continuations);
    const continued = await rejectsOf(outcome);
    expect(invocations).toBeGreaterThan(2);
    expect(continued.at(-1)).toMatchObject({ line: 454, row: 452, reason: expect.stringMatching(/^line 454 \(row 452\): key "colour": table "orders" has no such column/) });

    emulator.reset();
    await emulator.publishSnapshot(ORDERS);
    const [whole] = await processIntakeMessage({ ...emulator.deps(config), limits: { segmentBytes: CONTINUED.segmentBytes! } }, s3EventBody(await emulator.drop(key, text)));
    expect(continued).toEqual(await rejectsOf(whole!));
  });

  test('GIVEN an invocation that crashes after some batches WHEN its continuation comes again THEN the same batches and ids, each row once', async () => {
    const record = await emulator.drop(unique('crash.csv.gz'), gzipOf(csvOf(rows)));
    const continuations: ContinuationMessage[] = [];
    const deps = continuingDeps(CONTINUED, continuations);
    await processIntakeMessage(deps, s3EventBody(record));
    const crashing = continuingDeps(CONTINUED, continuations);
    const put = crashing.store.put;
    const beforeCrash = new Map<string, Buffer>();
    let puts = 0;
    crashing.store = {
      ...crashing.store,
      put: async (bucket, key, body, type) => {
        if (key.startsWith('batches/') && ++puts > 2) throw new Error('crash: the invocation died');
        await put(bucket, key, body, type);
        if (key.startsWith('batches/')) beforeCrash.set(key, Buffer.from(body as Uint8Array));
      },
    };
    const redelivered = JSON.stringify(continuations.at(-1));
    await expect(processIntakeMessage(crashing, redelivered)).rejects.toThrow('crash');

    let [outcome] = await processIntakeMessage(deps, redelivered);
    while (outcome!.status === 'continued') [outcome] = await processIntakeMessage(deps, JSON.stringify(continuations.at(-1)));

    const manifest = manifestOf(outcome!);
    expect(beforeCrash.size).toBe(2);
    for (const [key, bytes] of beforeCrash) expect(await emulator.getBytes(STAGING, key)).toEqual(bytes);
    expect(new Set(manifest.batches.map((b) => b.batchId)).size).toBe(manifest.batches.length);
    expect(manifest.batches.reduce((n, b) => n + b.rows, 0)).toBe(600);
  });

  test('a continuation delivered twice more after the file is produced sends nothing new and changes nothing', async () => {
    const record = await emulator.drop(unique('twice.csv'), csvOf(rows));
    const continuations: ContinuationMessage[] = [];
    const deps = continuingDeps(CONTINUED, continuations);
    const { outcome } = await produceThroughContinuations(s3EventBody(record), deps, continuations);
    const manifest = manifestOf(outcome);
    const queued = emulator.messages().length;

    const again = await processIntakeMessage(deps, JSON.stringify(continuations[0]));
    const twice = await processIntakeMessage(deps, JSON.stringify(continuations[0]));

    expect(again.map((o) => o.status)).toEqual(['produced']);
    expect(twice.map((o) => o.status)).toEqual(['produced']);
    expect(emulator.messages()).toHaveLength(queued);
    expect(JSON.parse((await emulator.getBytes(STAGING, `manifests/orders/${manifest.fileId}.json`)).toString())).toEqual(manifest);
  });

  test('a continuation delivered twice while the file is still being produced cuts the same batches both times', async () => {
    const record = await emulator.drop(unique('dup.csv'), csvOf(rows));
    const continuations: ContinuationMessage[] = [];
    const deps = continuingDeps(CONTINUED, continuations);
    await processIntakeMessage(deps, s3EventBody(record));
    const first = JSON.stringify(continuations[0]);
    const progress = JSON.parse((await emulator.getBytes(STAGING, continuations[0]!.progressKey)).toString()) as FileProgress;

    const [a] = await processIntakeMessage(deps, first);
    const [b] = await processIntakeMessage(deps, first);

    expect(a).toEqual(b);
    expect(a!.status).toBe('continued');
    expect(progress.segment).toBe(1);
    expect(continuations.at(-1)).toEqual(continuations.at(-2));
  });
});
