import { beforeEach, describe, expect, test } from 'vitest';
import type { FileManifest } from '../../shared/core/batch-message.ts';
import { batchRowCount, type BatchData } from '../../shared/core/batch.ts';
import type { ContinuationMessage } from '../../shared/core/progress.ts';
import { rowAsObject } from '../../shared/postgres/quarantine.ts';
import { decodeBatch } from '../../shared/producer/batch-object.ts';
import { processIntakeMessage } from '../../shared/producer/intake.ts';
import type { ProduceOutcome } from '../../shared/producer/produce-file.ts';
import { catalogSnapshot } from '../helpers/catalog-factory.ts';
import { STAGING, startProducerEmulator } from '../helpers/producer-emulator.ts';
import { gzipOf, producerConfigFactory } from '../helpers/producer-files.ts';
import { s3EventBody } from '../helpers/s3-event.ts';

/**
 * NDJSON objects that differ in their keys (issue 20, item 0), on the producer's side: each batch
 * carries the union of its rows' keys and marks the keys a row did not carry as absent; an
 * unknown key follows the table's schema mode, one object at a time.
 */
const emulator = await startProducerEmulator();
const USERS = catalogSnapshot('users', { id: 'int8', name: 'text', email: 'text', v: 'int4' }, ['id']);
const strict = producerConfigFactory({ tables: [{ table: 'users', conflictKey: ['id'], version: 'v', partitions: 1 }], batch: { maxRows: 4 } });
const evolve = producerConfigFactory({ tables: [{ table: 'users', conflictKey: ['id'], version: 'v', partitions: 1, schema: 'evolve' }], batch: { maxRows: 4 } });

beforeEach(async () => {
  emulator.reset();
  await emulator.publishSnapshot(USERS);
});

let dropped = 0;
async function produce(body: string | Uint8Array, config = strict, name = 'u.ndjson', extra: Partial<ReturnType<typeof emulator.deps>> = {}) {
  const record = await emulator.drop(`users/k${++dropped}-${name}`, body);
  const deps = { ...emulator.deps(config), ...extra };
  let [outcome] = await processIntakeMessage(deps, s3EventBody(record));
  let invocations = 1;
  const continuations = (extra.continuations as unknown as { sent?: ContinuationMessage[] } | undefined)?.sent;
  while (outcome!.status === 'continued' && continuations) {
    [outcome] = await processIntakeMessage(deps, JSON.stringify(continuations.at(-1)));
    invocations++;
  }
  return { manifest: manifestOf(outcome!), invocations };
}
const manifestOf = (outcome: ProduceOutcome): FileManifest => (outcome.status === 'produced' ? outcome.manifest : expect.fail(`outcome ${outcome.status}`));
const batchesOf = (manifest: FileManifest) => Promise.all(manifest.batches.map(async (b) => decodeBatch(await emulator.getBytes(STAGING, b.stagingKey))));
/** Each row as the object it will be applied as: absent columns left out. */
const objectsOf = (batches: BatchData[]) => batches.flatMap((b) => b.rowNumbers.map((n, r) => ({ n, row: rowAsObject(b, r) })));

const lines = (...objects: object[]) => objects.map((o) => JSON.stringify(o)).join('\n') + '\n';

describe('NDJSON objects that differ in their keys', () => {
  test('a batch carries the union of its rows\' keys; a row without a key is absent there, a null is a value', async () => {
    const body = lines({ id: 1, v: 1, name: 'a' }, { id: 2, v: 1, email: 'b@x' }, { id: 3, v: 1, name: null }, { id: 4, v: 1, name: 'd', email: null });

    const { manifest } = await produce(body);

    const [batch] = await batchesOf(manifest);
    expect(batch!.columns).toEqual(['id', 'v', 'name', 'email']);
    // email is first carried by row 2: row 1 is back-filled as absent.
    expect(batch!.absent).toEqual({ name: [1], email: [0, 2] });
    expect(batchRowCount(batch!)).toBe(4);
    expect(objectsOf([batch!])).toEqual([
      { n: 1, row: { id: '1', v: '1', name: 'a' } },
      { n: 2, row: { id: '2', v: '1', email: 'b@x' } },
      { n: 3, row: { id: '3', v: '1', name: null } },
      { n: 4, row: { id: '4', v: '1', name: 'd', email: null } },
    ]);
  });

  test('across batches each batch has only the keys its own rows carry, and a batch whose rows carry every key has no absent', async () => {
    const body = lines(...[1, 2, 3, 4].map((id) => ({ id, v: 1, name: `n${id}` })), ...[5, 6, 7, 8].map((id) => ({ id, v: 1, email: `e${id}` })));

    const { manifest } = await produce(body);

    const batches = await batchesOf(manifest);
    expect(batches.map((b) => [b.columns, b.absent ?? null])).toEqual([
      [['id', 'v', 'name'], null],
      [['id', 'v', 'email'], null],
    ]);
    expect(manifest.columns).toEqual(['id', 'v', 'name', 'email']);
  });

  test('strict: an object with a key the table lacks is one counted reject naming line, row and key; the other objects load', async () => {
    const body = lines({ id: 1, v: 1, name: 'a' }, { id: 2, v: 1, nickname: 'x' }, { id: 3, v: 1, name: 'c' });

    const { manifest } = await produce(body);

    expect({ read: manifest.read, rejected: manifest.rejected }).toEqual({ read: 3, rejected: 1 });
    expect(manifest.rejectsListed).toMatchObject([{ row: 2, line: 2, raw: '{"id":2,"v":1,"nickname":"x"}' }]);
    expect(manifest.rejectsListed![0]!.reason).toMatch(/^line 2 \(row 2\): key "nickname": table "users" has no such column \(schema "strict"\)/);
    expect(objectsOf(await batchesOf(manifest)).map((o) => o.n)).toEqual([1, 3]);
    expect(manifest.columns).toEqual(['id', 'v', 'name']);
  });

  test('strict: even the first object with an unknown key refuses only itself, not the file', async () => {
    const { manifest } = await produce(lines({ id: 1, v: 1, extra: 1 }, { id: 2, v: 1 }));

    expect({ read: manifest.read, rejected: manifest.rejected, rows: objectsOf(await batchesOf(manifest)) }).toEqual({ read: 2, rejected: 1, rows: [{ n: 2, row: { id: '2', v: '1' } }] });
  });

  test('evolve: a key the table lacks becomes a column of the batch', async () => {
    const { manifest } = await produce(lines({ id: 1, v: 1 }, { id: 2, v: 1, nickname: 'x' }), evolve);

    const [batch] = await batchesOf(manifest);
    expect({ rejected: manifest.rejected, columns: batch!.columns, absent: batch!.absent }).toEqual({ rejected: 0, columns: ['id', 'v', 'nickname'], absent: { nickname: [0] } });
  });

  test('an object without the key or the version column is a counted reject; one with them null is loaded (the consumer decides)', async () => {
    const { manifest } = await produce(lines({ v: 1, name: 'no id' }, { id: 2, name: 'no version' }, { id: null, v: 1 }, { id: 4, v: 1 }));

    expect(manifest.rejectsListed!.map((r) => [r.row, r.reason])).toEqual([
      [1, 'line 1 (row 1): no key for conflict key column "id" of table "users": every object must carry it'],
      [2, 'line 2 (row 2): no key for the version column "v" of table "users": every object must carry it'],
    ]);
    expect(objectsOf(await batchesOf(manifest)).map((o) => o.n)).toEqual([3, 4]);
  });

  test('continued over several invocations: the same rows, absent keys and rejects as the gzipped file in one invocation', async () => {
    const objects = Array.from({ length: 120 }, (_, i) => ({ id: i, v: 1, ...(i % 3 === 0 ? { name: `n${i}` } : {}), ...(i % 5 === 0 ? { email: null } : {}), ...(i === 77 ? { nickname: 'x' } : {}) }));
    const body = lines(...objects);
    const sent: ContinuationMessage[] = [];
    const continued = await produce(body, strict, 'c.ndjson', { limits: { segmentBytes: 512, maxInvocationMs: 0 }, continuations: Object.assign({ send: async (m: ContinuationMessage) => void sent.push(m) }, { sent }) });
    const whole = await produce(gzipOf(body), strict, 'w.ndjson.gz');

    expect(continued.invocations).toBeGreaterThan(3);
    for (const m of [continued.manifest, whole.manifest]) expect({ read: m.read, rejected: m.rejected }).toEqual({ read: 120, rejected: 1 });
    expect(continued.manifest.rejectsListed!.map((r) => [r.row, r.line])).toEqual([[78, 78]]);
    const a = objectsOf(await batchesOf(continued.manifest)).sort((x, y) => x.n - y.n);
    const b = objectsOf(await batchesOf(whole.manifest)).sort((x, y) => x.n - y.n);
    expect(a).toEqual(b);
    expect(a).toHaveLength(119);
    expect(a[0]).toEqual({ n: 1, row: { id: '0', v: '1', name: 'n0', email: null } });
    expect(a[1]).toEqual({ n: 2, row: { id: '1', v: '1' } });
  });

  test('the batch object is the same bytes when the file is produced again', async () => {
    const body = lines({ id: 1, v: 1, name: 'a' }, { id: 2, v: 1, email: 'b' });
    const first = await produce(body, strict, 'same.ndjson');
    emulator.reset();
    await emulator.publishSnapshot(USERS);
    dropped--;
    const again = await produce(body, strict, 'same.ndjson');

    expect(again.manifest.batches.map((b) => b.batchId)).toEqual(first.manifest.batches.map((b) => b.batchId));
  });
});
