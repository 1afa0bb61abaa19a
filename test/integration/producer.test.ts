import { beforeEach, describe, expect, test } from 'vitest';
import { batchIdOf, fileIdOf } from '../../shared/core/batch.ts';
import { parseBatchMessage, type FileManifest } from '../../shared/core/batch-message.ts';
import { s3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { decodeBatch } from '../../shared/producer/batch-object.ts';
import { processIntakeMessage } from '../../shared/producer/intake.ts';
import { partitionOf } from '../../shared/core/partition.ts';
import { csvOf, gzipOf, ndjsonOf, orderRows, parquetOf, producerConfigFactory } from '../helpers/producer-files.ts';
import { INBOX, STAGING, startProducerEmulator } from '../helpers/producer-emulator.ts';
import { s3EventBody, s3TestEventBody } from '../helpers/s3-event.ts';
import { catalogSnapshot } from '../helpers/catalog-factory.ts';

const emulator = await startProducerEmulator();
const config = producerConfigFactory({ batch: { maxRows: 7 } });
const deps = () => emulator.deps(config);
const rows = orderRows(40);

const ORDERS = catalogSnapshot('orders', { id: 'int8', name: 'text', amount: 'numeric' }, ['id']);

beforeEach(async () => {
  emulator.reset();
  await emulator.publishSnapshot(ORDERS);
});

/** Every batch in staging for a file, decoded, in (partition, chunk) order. */
async function batchesOf(manifest: FileManifest) {
  return Promise.all(manifest.batches.map(async (b) => decodeBatch(await emulator.getBytes(STAGING, b.stagingKey))));
}

async function manifestOf(key: string): Promise<FileManifest> {
  return JSON.parse((await emulator.getBytes(STAGING, key)).toString('utf8')) as FileManifest;
}

/** Rows of all batches as { row → values by column }, independent of how they were cut. */
async function logicalRows(manifest: FileManifest) {
  const out = new Map<number, Record<string, string | null>>();
  for (const batch of await batchesOf(manifest)) {
    batch.rowNumbers.forEach((row, r) => out.set(row, Object.fromEntries(batch.columns.map((c, i) => [c, batch.values[i]![r]!]))));
  }
  return [...out.entries()].sort((a, b) => a[0] - b[0]);
}

let dropped = 0;
/** A key of its own for each drop: the same key and bytes are the same file (and FIFO dedup remembers it). */
function unique(key: string): string {
  const slash = key.indexOf('/');
  return `${key.slice(0, slash)}/t${++dropped}${key.slice(slash)}`;
}

async function produce(key: string, body: string | Uint8Array) {
  const record = await emulator.drop(unique(key), body);
  const [outcome] = await processIntakeMessage(deps(), s3EventBody(record));
  return { outcome: outcome!, record };
}

describe('producer against the S3/SQS emulator', () => {
  test('a CSV file becomes batches in staging, one FIFO message each, grouped by table partition', async () => {
    const { outcome } = await produce('orders/a.csv', csvOf(rows));
    expect(outcome.status).toBe('produced');
    const manifest = outcome.status === 'produced' ? outcome.manifest : undefined!;
    const messages = emulator.messages();
    expect(messages.map((m) => [m.groupId, m.dedupId]).sort()).toEqual(
      manifest.batches.map((b) => [`orders#${b.partition}`, b.batchId]).sort(),
    );
  });

  test('picking a file up sends one opening notice first, in partition 0\'s group, naming the manifest: the ledger lists the file from then on', async () => {
    const { outcome } = await produce('orders/opened.csv', csvOf(rows));
    const manifest = outcome.status === 'produced' ? outcome.manifest : undefined!;

    const sent = emulator.messages({ withOpening: true }).sort((a, b) => a.sequence.localeCompare(b.sequence, 'en', { numeric: true }));
    const opening = sent.filter((m) => m.dedupId.startsWith('opened-'));

    expect(opening).toHaveLength(1);
    expect(sent[0]).toEqual(opening[0]);
    expect(opening[0]).toMatchObject({ groupId: 'orders#0' });
    expect(JSON.parse(opening[0]!.body)).toEqual({ format: 1, kind: 'file', fileId: manifest.fileId, table: 'orders', manifestKey: `manifests/orders/${manifest.fileId}.json` });
    expect(sent).toHaveLength(manifest.batches.length + 1);
  });

  test('the batch id is batchIdOf(fileIdOf(file), partition, chunk)', async () => {
    const { outcome, record } = await produce('orders/a.csv', csvOf(rows));
    const manifest = outcome.status === 'produced' ? outcome.manifest : undefined!;
    const fileId = fileIdOf({ bucket: INBOX, key: manifest.file.key, versionId: null, etag: record.s3.object.eTag });
    expect(manifest.batches.map((b) => b.batchId)).toEqual(manifest.batches.map((b) => batchIdOf(fileId, b.partition, b.chunk)));
  });

  test('every row lands in the partition of its key', async () => {
    const { outcome } = await produce('orders/a.csv', csvOf(rows));
    const manifest = outcome.status === 'produced' ? outcome.manifest : undefined!;
    for (const batch of await batchesOf(manifest)) {
      const id = batch.values[batch.columns.indexOf('id')]!;
      expect(id.map((v) => partitionOf([v], 4))).toEqual(id.map(() => batch.partition));
    }
  });

  test('a partition is cut into chunks of maxRows, sent in chunk order', async () => {
    await produce('orders/a.csv', csvOf(orderRows(200)));
    const byGroup = new Map<string, number[]>();
    for (const m of emulator.messages().sort((a, b) => a.sequence.localeCompare(b.sequence, 'en', { numeric: true }))) {
      const body = parseBatchMessage(m.body);
      expect(body.rows).toBeLessThanOrEqual(7);
      byGroup.set(m.groupId, [...(byGroup.get(m.groupId) ?? []), body.chunk]);
    }
    for (const chunks of byGroup.values()) expect(chunks).toEqual(chunks.map((_, i) => i));
  });

  test('the message carries the batch count, staging key, manifest key and row range', async () => {
    const { outcome } = await produce('orders/a.csv.gz', gzipOf(csvOf(rows)));
    const manifest = outcome.status === 'produced' ? outcome.manifest : undefined!;
    const first = manifest.batches[0]!;
    const body = emulator.messages().map((m) => parseBatchMessage(m.body)).find((m) => m.batchId === first.batchId);
    expect(body).toEqual({
      format: 1,
      batchId: first.batchId,
      fileId: manifest.fileId,
      table: 'orders',
      partition: first.partition,
      chunk: first.chunk,
      batchCount: manifest.batchCount,
      stagingKey: first.stagingKey,
      manifestKey: `manifests/orders/${manifest.fileId}.json`,
      rows: first.rows,
      firstRow: first.firstRow,
      lastRow: first.lastRow,
    });
  });

  test('the manifest in staging counts rows read and lists every batch', async () => {
    const { outcome } = await produce('orders/a.csv', csvOf(rows));
    const key = outcome.status === 'produced' ? outcome.manifestKey : '';
    const manifest = await manifestOf(key);
    expect({ read: manifest.read, rejected: manifest.rejected, rows: manifest.batches.reduce((n, b) => n + b.rows, 0) }).toEqual({
      read: 40,
      rejected: 0,
      rows: 40,
    });
  });

  test('CSV, NDJSON.gz and Parquet of the same rows give the same rows per partition', async () => {
    const csv = await produce('orders/same.csv', csvOf(rows));
    const ndjson = await produce('orders/same.ndjson.gz', gzipOf(ndjsonOf(rows)));
    const parquet = await produce('orders/same.parquet', await parquetOf(rows, { rowGroupSize: 16 }));
    const [a, b, c] = await Promise.all(
      [csv, ndjson, parquet].map(({ outcome }) => logicalRows(outcome.status === 'produced' ? outcome.manifest : undefined!)),
    );
    expect(b).toEqual(a);
    expect(c).toEqual(a);
  });

  test('a gzip-compressed Parquet file is read too', async () => {
    const { outcome } = await produce('orders/p.parquet.gz', gzipOf(await parquetOf(rows)));
    expect(outcome.status === 'produced' && outcome.manifest.read).toBe(40);
  });

  test('producing the same notification twice writes identical keys, bytes and ids', async () => {
    const record = await emulator.drop(unique('orders/a.csv'), csvOf(rows));
    const [first] = await processIntakeMessage(deps(), s3EventBody(record));
    const manifest = first!.status === 'produced' ? first!.manifest : undefined!;
    const bytesBefore = await Promise.all(manifest.batches.map((b) => emulator.getBytes(STAGING, b.stagingKey)));
    const [second] = await processIntakeMessage(deps(), s3EventBody(record));
    const again = second!.status === 'produced' ? second!.manifest : undefined!;
    const bytesAfter = await Promise.all(again.batches.map((b) => emulator.getBytes(STAGING, b.stagingKey)));
    expect(again.batches).toEqual(manifest.batches);
    expect(bytesAfter).toEqual(bytesBefore);
  });

  test('a re-notification after the batch settings changed sends the batches it made before, not new ones', async () => {
    const record = await emulator.drop(unique('orders/a.csv'), csvOf(rows));
    const [first] = await processIntakeMessage(deps(), s3EventBody(record));
    const changed = producerConfigFactory({ tables: [{ table: 'orders', conflictKey: ['id'], partitions: 2 }], batch: { maxRows: 3 } });

    const [second] = await processIntakeMessage(emulator.deps(changed), s3EventBody(record));

    const ids = (o: typeof first) => (o!.status === 'produced' ? o!.manifest.batches.map((b) => b.batchId) : []);
    expect(ids(second)).toEqual(ids(first));
    expect(ids(first).length).toBeGreaterThan(0);
  });

  test('a duplicate notification adds no message to the FIFO queue', async () => {
    const record = await emulator.drop(unique('orders/a.csv'), csvOf(rows));
    await processIntakeMessage(deps(), s3EventBody(record));
    const count = emulator.messages().length;
    await processIntakeMessage(deps(), s3EventBody(record));
    expect(emulator.messages()).toHaveLength(count);
  });

  test('bad lines go to a rejects object with their line numbers and the rest is batched', async () => {
    const text = 'id,name,amount\n1,a,1\n2,b\n3,c,3\n{oops\n5,e,5\n';
    const { outcome } = await produce('orders/bad.csv', text);
    const manifest = outcome.status === 'produced' ? outcome.manifest : undefined!;
    const rejects = (await emulator.getBytes(INBOX, manifest.rejects!.key)).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rejects.map((r) => [r.row, r.line, r.raw])).toEqual([
      [2, 3, '2,b'],
      [4, 5, '{oops'],
    ]);
    expect({ read: manifest.read, rejected: manifest.rejected, batched: manifest.batches.reduce((n, b) => n + b.rows, 0) }).toEqual({
      read: 5,
      rejected: 2,
      batched: 3,
    });
  });

  test('a file that is not the format its name says is moved aside with a reason, the original deleted', async () => {
    const { outcome } = await produce('orders/broken.csv.gz', 'id,name\n1,a\n');
    expect(outcome.status).toBe('moved-aside');
    const key = outcome.status === 'moved-aside' ? outcome.movedTo.key : '';
    expect(await emulator.list(INBOX)).toEqual([key, `${key}.reason.json`]);
  });

  test('the reason object names the problem', async () => {
    const { outcome } = await produce('orders/broken.csv.gz', 'id,name\n1,a\n');
    const key = outcome.status === 'moved-aside' ? outcome.movedTo.key : '';
    const reason = JSON.parse((await emulator.getBytes(INBOX, `${key}.reason.json`)).toString('utf8'));
    expect([reason.code, reason.message]).toEqual(['corrupt-gzip', 'named .gz but the data is not gzip']);
  });

  test('a file missing the key column is moved aside naming the column', async () => {
    const { outcome } = await produce('orders/nokey.csv', 'name,amount\na,1\n');
    expect(outcome.status === 'moved-aside' && [outcome.code, outcome.message]).toEqual([
      'missing-column',
      'missing conflict key column "id" of table "orders". Fix: the file must carry every conflict key column (or map its header to them in "columns"); then drop the file again',
    ]);
  });

  test('a corrupt gzip stream is moved aside, leaves no batch behind, and sends one file notice', async () => {
    const gz = gzipOf(csvOf(orderRows(2000)));
    const { outcome } = await produce('orders/cut.csv.gz', gz.subarray(0, gz.length - 100));
    expect(outcome.status).toBe('moved-aside');
    expect(await emulator.list(STAGING, 'batches/')).toEqual([]);
    expect(emulator.messages().map((m) => JSON.parse(m.body) as unknown)).toEqual([
      { format: 1, kind: 'file', fileId: outcome.fileId, table: 'orders', manifestKey: `manifests/orders/${outcome.fileId}.json` },
    ]);
  });

  test('a key under no configured prefix is moved aside', async () => {
    const { outcome } = await produce('unknown/x.csv', 'id\n1\n');
    expect(outcome.status === 'moved-aside' && outcome.code).toBe('no-table');
  });

  test('a key with spaces and plus signs is found from its URL-encoded notification', async () => {
    const { outcome } = await produce('orders/my file+1.csv', csvOf(rows));
    expect(outcome.status === 'produced' && outcome.manifest.file.key).toMatch(/^orders\/t\d+\/my file\+1\.csv$/);
  });

  test('an S3 test event produces nothing', async () => {
    expect(await processIntakeMessage(deps(), s3TestEventBody(INBOX))).toEqual([]);
  });

  test('a notification for an overwritten object is gone, not produced', async () => {
    const key = unique('orders/a.csv');
    const record = await emulator.drop(key, csvOf(rows));
    await emulator.drop(key, csvOf(orderRows(3)));
    const [outcome] = await processIntakeMessage(deps(), s3EventBody(record));
    expect(outcome!.status).toBe('gone');
  });
});

describe('batch messages flow while the file is read', () => {
  /** Queue messages of a file, parsed, in send order. */
  const sent = (fileId: string) =>
    emulator
      .messages()
      .sort((a, b) => a.sequence.localeCompare(b.sequence, 'en', { numeric: true }))
      .map((m) => parseBatchMessage(m.body))
      .filter((m) => m.fileId === fileId);

  test('GIVEN an uncompressed CSV WHEN it is produced THEN batches cut while reading go out without the count, the rest after the manifest with it', async () => {
    const { outcome } = await produce('orders/stream.csv', csvOf(orderRows(200)));
    const manifest = outcome.status === 'produced' ? outcome.manifest : undefined!;

    const messages = sent(manifest.fileId);
    expect(messages.map((m) => m.batchId).sort()).toEqual(manifest.batches.map((b) => b.batchId).sort());
    for (const partition of new Set(manifest.batches.map((b) => b.partition))) {
      const own = messages.filter((m) => m.partition === partition);
      expect(own.map((m) => m.chunk)).toEqual(own.map((_, i) => i));
    }
    const counts = messages.map((m) => m.batchCount);
    const firstWithCount = counts.indexOf(manifest.batchCount);
    expect(firstWithCount).toBeGreaterThan(0);
    expect(counts.slice(0, firstWithCount).every((c) => c === null)).toBe(true);
    expect(counts.slice(firstWithCount).every((c) => c === manifest.batchCount)).toBe(true);
  });

  test('a file whose last rows fill its last batch exactly still sends a message after its manifest', async () => {
    const single = producerConfigFactory({ tables: [{ table: 'orders', conflictKey: ['id'], partitions: 1 }], batch: { maxRows: 7 } });
    const record = await emulator.drop(unique('orders/exact.csv'), csvOf(orderRows(21)));

    const [outcome] = await processIntakeMessage(emulator.deps(single), s3EventBody(record));

    const manifest = outcome!.status === 'produced' ? outcome!.manifest : undefined!;
    expect(manifest.batchCount).toBe(3);
    expect(sent(manifest.fileId).map((m) => m.batchCount)).toEqual([null, null, 3]);
  });

  test('a gzip file sends every message after its manifest, with the count (it could still turn out corrupt)', async () => {
    const { outcome } = await produce('orders/whole.csv.gz', gzipOf(csvOf(orderRows(200))));
    const manifest = outcome.status === 'produced' ? outcome.manifest : undefined!;

    expect(new Set(sent(manifest.fileId).map((m) => m.batchCount))).toEqual(new Set([manifest.batchCount]));
  });

  test('a send that fails while the file is read fails the invocation (no final manifest), and the retry completes the file', async () => {
    const record = await emulator.drop(unique('orders/send-fails.csv'), csvOf(orderRows(200)));
    const failing = deps();
    const send = failing.sender.send;
    failing.sender = {
      send: async (messages) => {
        if (messages.some((m) => 'batchCount' in m.body && m.body.batchCount === null)) throw new Error('SQS is down');
        await send(messages);
      },
    };

    await expect(processIntakeMessage(failing, s3EventBody(record))).rejects.toThrow('SQS is down');
    const [retried] = await processIntakeMessage(deps(), s3EventBody(record));

    const manifest = retried!.status === 'produced' ? retried!.manifest : undefined!;
    expect(sent(manifest.fileId).map((m) => m.batchId).sort()).toEqual(manifest.batches.map((b) => b.batchId).sort());
  });

  test('GIVEN a producer that crashes mid-file WHEN the notification is retried with other batch settings THEN it cuts the same batches, byte for byte, and sends each batch once', async () => {
    const record = await emulator.drop(unique('orders/crash.csv'), csvOf(orderRows(200)));
    const crashing = deps();
    const put = crashing.store.put;
    let batchPuts = 0;
    const beforeCrash = new Map<string, Buffer>();
    crashing.store = {
      ...crashing.store,
      put: async (bucket, key, body, type) => {
        if (key.startsWith('batches/') && ++batchPuts > 12) throw new Error('crash: the invocation died');
        await put(bucket, key, body, type);
        if (key.startsWith('batches/')) beforeCrash.set(key, Buffer.from(body as Uint8Array));
      },
    };
    await expect(processIntakeMessage(crashing, s3EventBody(record))).rejects.toThrow('crash');
    const opening = JSON.parse((await emulator.getBytes(STAGING, `manifests/orders/${fileIdOf({ bucket: INBOX, key: decodeURIComponent(record.s3.object.key), versionId: null, etag: record.s3.object.eTag })}.json`)).toString());
    const sentBeforeCrash = sent(opening.fileId);
    const changed = producerConfigFactory({ tables: [{ table: 'orders', conflictKey: ['id'], partitions: 2 }], batch: { maxRows: 3 } });

    const [retried] = await processIntakeMessage(emulator.deps(changed), s3EventBody(record));

    expect(opening.status).toBe('producing');
    expect(sentBeforeCrash.length).toBeGreaterThan(0);
    const manifest = retried!.status === 'produced' ? retried!.manifest : undefined!;
    expect(manifest.chunking).toEqual(opening.chunking);
    for (const [key, bytes] of beforeCrash) expect(await emulator.getBytes(STAGING, key)).toEqual(bytes);
    const messages = sent(manifest.fileId);
    expect(messages.map((m) => m.batchId).sort()).toEqual(manifest.batches.map((b) => b.batchId).sort());
    expect(manifest.batches.reduce((n, b) => n + b.rows, 0)).toBe(200);
  });
});

describe('S3 object store', () => {
  const streamAll = async (key: string, body: string, segmentBytes: number) => {
    const record = await emulator.drop(unique(key), body);
    const ref = { bucket: INBOX, key: decodeURIComponent(record.s3.object.key), versionId: null, etag: record.s3.object.eTag };
    const stream = await s3ObjectStore(emulator.s3, { segmentBytes }).stream(ref);
    if (stream === 'gone') return 'gone';
    const parts: Uint8Array[] = [];
    for await (const part of stream) parts.push(part);
    return Buffer.concat(parts).toString('utf8');
  };

  test('streams an object in ranged segments, whole and in order', async () => {
    const body = csvOf(orderRows(30));
    expect(await streamAll('orders/seg.csv', body, 64)).toBe(body);
  });

  test('streams an empty object as no bytes', async () => {
    expect(await streamAll('orders/empty.csv', '', 64)).toBe('');
  });
});

describe('the producer knows the table from its catalog snapshot', () => {
  const partitionsOf = async (manifest: FileManifest) => {
    const byId = new Map<string, number>();
    for (const batch of await batchesOf(manifest)) for (const id of batch.values[batch.columns.indexOf('id')]!) byId.set(id!, batch.partition);
    return byId;
  };

  test('one key spelled several ways lands in one partition', async () => {
    const spellings = ['5', '05', '+5', ' 5', '0x5'];
    const { outcome } = await produce('orders/spelled.csv', csvOf([...spellings.map((id) => ({ id, name: 'x', amount: 1 })), ...orderRows(30, 100)]));

    const manifest = outcome.status === 'produced' ? outcome.manifest : undefined!;
    const byId = await partitionsOf(manifest);
    expect(new Set(spellings.map((s) => byId.get(s))).size).toBe(1);
    expect(new Set(byId.values()).size).toBeGreaterThan(1);
  });

  test('without a snapshot (no consumer has read the catalog yet) the whole file goes to partition 0', async () => {
    emulator.reset();
    const { outcome } = await produce('orders/first.csv', csvOf(orderRows(30)));

    const manifest = outcome.status === 'produced' ? outcome.manifest : undefined!;
    expect(new Set(manifest.batches.map((b) => b.partition))).toEqual(new Set([0]));
  });

  test('a header with columns the table lacks is moved aside whole, naming every one and the fix', async () => {
    const { outcome } = await produce('orders/typo.csv', 'id,nmae,colour,amount\n1,a,red,2\n2,b,blue,3\n');

    expect(outcome.status).toBe('moved-aside');
    expect(outcome.status === 'moved-aside' && outcome.code).toBe('unknown-column');
    const message = outcome.status === 'moved-aside' ? outcome.message : '';
    expect(message).toContain('unknown columns "nmae", "colour": table "orders" has no such column');
    expect(message).toContain('ALTER TABLE "public"."orders" ADD COLUMN "nmae" text, ADD COLUMN "colour" text;');
    expect(message).toContain('"columns"');
    // No batch: only the file notice that registers the moved-aside file in the ledger.
    expect(await emulator.list(STAGING, 'batches/')).toEqual([]);
    expect(emulator.messages().map((m) => JSON.parse(m.body) as { kind?: string })).toEqual([expect.objectContaining({ kind: 'file' })]);
  });

  test('a header that does not fit the kept snapshot is checked against a fresh one', async () => {
    const d = deps();
    await processIntakeMessage(d, s3EventBody(await emulator.drop(unique('orders/a.csv'), csvOf(orderRows(3)))));
    await emulator.publishSnapshot(catalogSnapshot('orders', { id: 'int8', name: 'text', amount: 'numeric', colour: 'text' }, ['id']));

    const [outcome] = await processIntakeMessage(d, s3EventBody(await emulator.drop(unique('orders/b.csv'), 'id,colour\n1,red\n')));

    expect(outcome!.status).toBe('produced');
  });

  test('"schema": "evolve" lets unknown columns through for the consumer to add', async () => {
    const evolving = producerConfigFactory({ tables: [{ table: 'orders', conflictKey: ['id'], partitions: 4, schema: 'evolve' }] });
    const record = await emulator.drop(unique('orders/new-col.csv'), 'id,colour\n1,red\n');

    const [outcome] = await processIntakeMessage(emulator.deps(evolving), s3EventBody(record));

    expect(outcome?.status === 'produced' && outcome.manifest.columns).toEqual(['id', 'colour']);
  });
});
