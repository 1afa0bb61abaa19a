import { beforeEach, describe, expect, test } from 'vitest';
import { parseQueueMessage, type FileManifest } from '../../shared/core/batch-message.ts';
import { movedAsideKeysOf } from '../../shared/core/keys.ts';
import type { ContinuationMessage, FileProgress } from '../../shared/core/progress.ts';
import { processIntakeMessage } from '../../shared/producer/intake.ts';
import type { ProduceOutcome, ProducerDeps, ProducerLimits } from '../../shared/producer/produce-file.ts';
import { parseProducerLimits } from '../../shared/producer/producer-contract.ts';
import { catalogSnapshot } from '../helpers/catalog-factory.ts';
import { INBOX, STAGING, startProducerEmulator } from '../helpers/producer-emulator.ts';
import { csvOf, gzipOf, orderRows, producerConfigFactory } from '../helpers/producer-files.ts';
import { s3EventBody } from '../helpers/s3-event.ts';

// Issue 24, item 2: a chain of continuations stops at the per-file cap of invocations, with a
// moved-aside reason, instead of running on (or stalling, as Lambda's loop detection would leave it).

const emulator = await startProducerEmulator();
const config = producerConfigFactory({ batch: { maxRows: 40 } });
const ORDERS = catalogSnapshot('orders', { id: 'int8', name: 'text', amount: 'numeric' }, ['id']);
const rows = orderRows(600);

beforeEach(async () => {
  emulator.reset();
  await emulator.publishSnapshot(ORDERS);
});

let dropped = 0;
const unique = (name: string) => `orders/cap${++dropped}-${name}`;

/** Every invocation reads one 2 KiB segment and stops: the 600-row file needs about 9 of them. */
const limitsWithCap = (maxInvocationsPerFile: number): Partial<ProducerLimits> => ({ segmentBytes: 2048, maxInvocationMs: 0, maxInvocationsPerFile });

function deps(limits: Partial<ProducerLimits>, continuations: ContinuationMessage[]): ProducerDeps {
  return { ...emulator.deps(config), limits, continuations: { send: async (m) => void continuations.push(m) } };
}

/** The notification, then each continuation as a fresh invocation, until the file is no longer continued. */
async function runChain(body: string, first: ProducerDeps, later: ProducerDeps, continuations: ContinuationMessage[]) {
  let [outcome] = await processIntakeMessage(first, body);
  let invocations = 1;
  while (outcome!.status === 'continued') {
    [outcome] = await processIntakeMessage(later, JSON.stringify(continuations.at(-1)));
    invocations++;
  }
  return { outcome: outcome!, invocations };
}

const manifestAt = async (key: string) => JSON.parse((await emulator.getBytes(STAGING, key)).toString('utf8')) as FileManifest;
const sentOf = (fileId: string) =>
  emulator
    .messages()
    .sort((a, b) => a.sequence.localeCompare(b.sequence, 'en', { numeric: true }))
    .map((m) => parseQueueMessage(m.body))
    .filter((m) => m.fileId === fileId);
const movedAside = (o: ProduceOutcome) => (o.status === 'moved-aside' ? o : expect.fail(`outcome ${o.status}`));

describe('the per-file cap of producer invocations', () => {
  test('a CSV file (its batches stream) stops at the cap: moved aside with the reason, the part read stays accounted for', async () => {
    const key = unique('big.csv');
    const record = await emulator.drop(key, csvOf(rows));
    const continuations: ContinuationMessage[] = [];

    const { outcome, invocations } = await runChain(s3EventBody(record), deps(limitsWithCap(4), continuations), deps(limitsWithCap(4), continuations), continuations);

    const stopped = movedAside(outcome);
    expect(invocations).toBe(4);
    expect(stopped.code).toBe('too-many-invocations');
    expect(stopped.message).toMatch(/more than 4 producer invocations .* stopped after row \d+/);
    const manifest = await manifestAt(stopped.manifestKey!);
    expect(manifest).toMatchObject({ status: 'moved-aside', invocations: 4, reason: { code: 'too-many-invocations' } });
    // The rows read were sent as batches (they apply); the manifest counts exactly them.
    const batchRows = manifest.batches.reduce((n, b) => n + b.rows, 0);
    expect(manifest.read).toBeGreaterThan(0);
    expect(manifest.read).toBeLessThan(600);
    expect(manifest.read).toBe(manifest.rejected + batchRows);
    const sent = sentOf(manifest.fileId);
    expect(sent.flatMap((m) => ('batchId' in m ? [m.batchId] : [])).sort()).toEqual(manifest.batches.map((b) => b.batchId).sort());
    // The file notice registers the file; the file stays in place; its reason is under rejected/.
    expect(sent.at(-1)).toMatchObject({ kind: 'file', manifestKey: stopped.manifestKey });
    expect(await emulator.list(INBOX, key)).toContain(key);
    const reason = JSON.parse((await emulator.getBytes(INBOX, movedAsideKeysOf(key).reason)).toString('utf8')) as { code: string; invocations: number };
    expect(reason).toMatchObject({ code: 'too-many-invocations', invocations: 4 });
    // No progress object is left behind.
    expect((await emulator.list(STAGING, `manifests/`)).filter((k) => k.includes('.segment-'))).toEqual([]);
  });

  test('a gzip file (nothing sent while it is read) stops with nothing loaded and no batch objects left', async () => {
    const record = await emulator.drop(unique('big.csv.gz'), gzipOf(csvOf(rows)));
    const continuations: ContinuationMessage[] = [];

    const { outcome } = await runChain(s3EventBody(record), deps(limitsWithCap(3), continuations), deps(limitsWithCap(3), continuations), continuations);

    const manifest = await manifestAt(movedAside(outcome).manifestKey!);
    expect({ read: manifest.read, batchCount: manifest.batchCount }).toEqual({ read: 0, batchCount: 0 });
    expect(sentOf(manifest.fileId).map((m) => ('kind' in m ? m.kind : 'batch'))).toEqual(['file']);
    expect(await emulator.list(STAGING, 'batches/')).toEqual([]);
  });

  test('the cap is the one recorded by the first invocation, whatever the later invocations were given', async () => {
    const record = await emulator.drop(unique('recorded.csv'), csvOf(rows));
    const continuations: ContinuationMessage[] = [];

    const { outcome, invocations } = await runChain(s3EventBody(record), deps(limitsWithCap(3), continuations), deps(limitsWithCap(1000), continuations), continuations);

    expect(movedAside(outcome).code).toBe('too-many-invocations');
    expect(invocations).toBe(3);
    const progress = JSON.parse((await emulator.getBytes(STAGING, continuations[0]!.progressKey).catch(() => Buffer.from('null'))).toString('utf8')) as FileProgress | null;
    // Removed once the file stopped; the continuation that carried it named the cap.
    expect(progress).toBeNull();
  });

  test('a file that needs exactly the cap completes', async () => {
    const record = await emulator.drop(unique('exact.csv'), csvOf(rows));
    const continuations: ContinuationMessage[] = [];
    const counted = await runChain(s3EventBody(record), deps(limitsWithCap(1000), continuations), deps(limitsWithCap(1000), continuations), continuations);
    emulator.reset();
    await emulator.publishSnapshot(ORDERS);

    const again = await emulator.drop(unique('exact.csv'), csvOf(rows));
    const next: ContinuationMessage[] = [];
    const { outcome, invocations } = await runChain(s3EventBody(again), deps(limitsWithCap(counted.invocations), next), deps(limitsWithCap(counted.invocations), next), next);

    expect(invocations).toBe(counted.invocations);
    expect(outcome.status).toBe('produced');
  });

  test('a repeated notification or continuation of a stopped file does not read it again', async () => {
    const record = await emulator.drop(unique('repeat.csv'), csvOf(rows));
    const continuations: ContinuationMessage[] = [];
    const { outcome } = await runChain(s3EventBody(record), deps(limitsWithCap(3), continuations), deps(limitsWithCap(3), continuations), continuations);
    const fileId = movedAside(outcome).fileId;
    const batchMessages = () => sentOf(fileId).filter((m) => 'batchId' in m).length;
    const before = batchMessages();

    const [again] = await processIntakeMessage(deps(limitsWithCap(3), continuations), s3EventBody(record));
    const [continued] = await processIntakeMessage(deps(limitsWithCap(3), continuations), JSON.stringify(continuations.at(-1)));

    expect(movedAside(again!).code).toBe('too-many-invocations');
    expect(movedAside(continued!).code).toBe('too-many-invocations');
    expect(batchMessages()).toBe(before);
  });
});

describe('the producer limits the stack sets (LANDFALL_PRODUCER_LIMITS)', () => {
  test('reads the fields given and keeps the others out', () => {
    expect(parseProducerLimits('{"maxInvocationsPerFile":1000,"segmentBytes":4096}')).toEqual({ maxInvocationsPerFile: 1000, segmentBytes: 4096 });
  });

  test.each([
    ['{"maxInvocationsPerFile":1}', /maxInvocationsPerFile/],
    ['{"maxInvocationsPerFile":2.5}', /maxInvocationsPerFile/],
    ['{"segmentBytez":1}', /unknown field\(s\) segmentBytez/],
    ['not json', /not valid JSON/],
  ])('refuses %s', (text, message) => {
    expect(() => parseProducerLimits(text)).toThrow(message);
  });
});
