import type { SQSBatchResponse } from 'aws-lambda';
import { beforeAll, describe, expect, test } from 'vitest';
import type { FileManifest } from '../../shared/core/batch-message.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { manifestKeyOf } from '../../shared/core/keys.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startTestStack } from '../helpers/local-stack.ts';
import { csvOf, gzipOf, parquetOf, type Row } from '../helpers/producer-files.ts';
import { GetObjectCommand } from '@aws-sdk/client-s3';

/**
 * A file continued over several producer invocations through the whole local stack (the same
 * handler, the intake queue carrying the continuations, the real PostgreSQL), against the same
 * file produced in one invocation by a second stack. The continuing stack's producer has a
 * 1 ms timeout, so every invocation stops after its first segment; one of its invocations is
 * reported failed after it did its work, so its continuation comes again.
 */
const { sql, url } = await createTestDatabase();
const table = (name: string) => ({ table: name, prefix: `${name}/`, conflictKey: ['id'], version: 'v', partitions: 3 });
const continuedConfig = parseConfig({ tables: [table('continued')], batch: { maxRows: 40, maxBytes: 1024 * 1024 } });
const singleConfig = parseConfig({ tables: [table('single')], batch: { maxRows: 40, maxBytes: 1024 * 1024 } });
const SEGMENT_BYTES = 3000;

let producerInvocations = 0;
let failedOnce = false;
const continued = await startTestStack(continuedConfig, url, {
  producer: { timeoutMs: 1, limits: { segmentBytes: SEGMENT_BYTES } },
  wrapHandler: (name, handler) =>
    name !== 'producer'
      ? handler
      : async (event, context) => {
          const response = await handler(event, context);
          // The third invocation dies after its work, before Lambda hears of it: SQS redelivers its message.
          if (++producerInvocations === 3 && !failedOnce) {
            failedOnce = true;
            return { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) } satisfies SQSBatchResponse;
          }
          return response;
        },
});
const single = await startTestStack(singleConfig, url, { producer: { limits: { segmentBytes: SEGMENT_BYTES } } });

beforeAll(async () => {
  for (const name of ['continued', 'single']) await sql.unsafe(`CREATE TABLE ${name} (id int PRIMARY KEY, name text, price numeric(10,2), v int NOT NULL)`);
});

const rows: Row[] = Array.from({ length: 900 }, (_, i) => ({ id: i % 700, name: `item ${i}`, price: (i % 50) + 0.25, v: i }));

async function manifestOf(t: typeof continued, name: string, fileId: string): Promise<FileManifest> {
  const result = await t.stack.s3.send(new GetObjectCommand({ Bucket: t.stack.buckets.staging, Key: manifestKeyOf(name, fileId) }));
  return JSON.parse(await result.Body!.transformToString()) as FileManifest;
}

describe('a file produced over several invocations lands exactly once, as in one', () => {
  test.each([
    { name: 'CSV', file: 'items.csv', body: async () => csvOf(rows) },
    { name: 'gzipped CSV', file: 'items.csv.gz', body: async () => gzipOf(csvOf(rows)) },
    { name: 'Parquet', file: 'items.parquet', body: () => parquetOf(rows, { rowGroupSize: 60 }) },
  ])('$name', async ({ file, body }) => {
    const bytes = await body();
    await sql.unsafe('TRUNCATE continued, single');

    const [a, b] = await Promise.all([continued.run(continued.file(file, bytes), 'continued'), single.run(single.file(file, bytes), 'single')]);

    expect(a).toMatchObject({ status: 'complete', read: 900, addsUp: true });
    expect(b).toMatchObject({ status: 'complete', read: 900, addsUp: true });
    const counts = (r: typeof a) => ({ inserted: r.inserted, updated: r.updated, collapsed: r.collapsed, stale: r.stale, unchanged: r.unchanged, batches: r.batches });
    expect(counts(a)).toEqual(counts(b));
    const manifest = await manifestOf(continued, 'continued', a.fileId);
    expect(manifest.invocations).toBeGreaterThan(2);
    expect((await manifestOf(single, 'single', b.fileId)).invocations).toBe(1);
    const applied = await sql<{ batch_id: string }[]>`SELECT batch_id FROM landfall.batches WHERE file_id = ${a.fileId} AND status = 'applied' ORDER BY batch_id`;
    expect(applied.map((r) => r.batch_id)).toEqual(manifest.batches.map((m) => m.batchId).sort());
    const table = (name: string) => sql.unsafe(`SELECT id, name, price::text, v FROM ${name} ORDER BY id`);
    const stored = await table('continued');
    expect(stored).toHaveLength(700);
    expect(stored).toEqual(await table('single'));
  });

  test('the continuation whose invocation failed came again and changed nothing', () => {
    expect(failedOnce).toBe(true);
  });
});
