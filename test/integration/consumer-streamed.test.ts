import { PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, test } from 'vitest';
import type { BatchData } from '../../shared/core/batch.ts';
import type { BatchMessage } from '../../shared/core/batch-message.ts';
import { countsAddUp } from '../../shared/core/batch.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { consumeBatch } from '../../shared/consumer/consume-batch.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { migrateLedger } from '../../shared/postgres/ledger/migrate.ts';
import { encodeBatch } from '../../shared/producer/batch-object.ts';
import { fileIdentity, makeBatch } from '../helpers/batches.ts';
import { batchMessageOf } from '../../shared/core/batch-message.ts';
import { STAGING_BUCKET, startBatchEmulator } from '../helpers/batch-emulator.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { manifestOf } from '../helpers/manifests.ts';

const { sql } = await createTestDatabase();
const emulator = await startBatchEmulator();
const config = parseConfig({ tables: [{ table: 'streamed', conflictKey: ['id'], partitions: 1 }] });
const ports = emulator.ports(config, sql);

beforeAll(async () => {
  await migrateLedger(sql);
  await sql`CREATE TABLE streamed (id int PRIMARY KEY, name text)`;
});

const put = (key: string, body: Uint8Array | string) => emulator.s3.send(new PutObjectCommand({ Bucket: STAGING_BUCKET, Key: key, Body: body }));

/** Writes the batch object and returns its message, as the producer sends it (`batchCount` null while reading). */
async function staged(batch: BatchData, batchCount: number | null): Promise<BatchMessage> {
  const stagingKey = `batches/${batch.table}/${batch.fileId}/${batch.partition}-${batch.chunk}.json.gz`;
  await put(stagingKey, await encodeBatch(batch));
  return batchMessageOf(batch, { stagingKey, manifestKey: `manifests/${batch.table}/${batch.fileId}.json`, batchCount });
}

describe('a file whose batches arrive while it is still being read', () => {
  test('GIVEN a batch sent before the manifest WHEN it is consumed THEN it is applied and the file listed in progress with it, and the final batch completes it', async () => {
    const file = fileIdentity();
    const rows = (from: number) => Array.from({ length: 5 }, (_, i) => ({ id: String(from + i), name: `n${from + i}` }));
    const first = makeBatch({ table: 'streamed', rows: rows(1), chunk: 0 }, file);
    const last = makeBatch({ table: 'streamed', rows: rows(6), chunk: 1, firstRow: 6 }, file);
    const early = await staged(first, null);
    // The opening manifest the producer writes when it picks the file up.
    await put(early.manifestKey, JSON.stringify(manifestOf(first, { status: 'producing', batchCount: 0 })));

    const applied = await consumeBatch(ports, early, 1);

    expect(applied).toMatchObject({ outcome: 'applied', counts: { inserted: 5 } });
    expect(await fileReceipts(sql, { fileIds: [first.fileId] })).toEqual([
      expect.objectContaining({ status: 'pending', state: 'in progress', batches: null, batchesApplied: 1, read: 5, inserted: 5, loaded: 5 }),
    ]);

    const final = await staged(last, 2);
    await put(final.manifestKey, JSON.stringify(manifestOf(last, { batchCount: 2 })));
    await consumeBatch(ports, final, 1);
    // A late redelivery of the early message changes nothing.
    await consumeBatch(ports, early, 2);

    const [receipt] = await fileReceipts(sql, { fileIds: [first.fileId] });
    expect(receipt).toMatchObject({ status: 'complete', batches: 2, batchesApplied: 2, read: 10, inserted: 10 });
    expect(countsAddUp(receipt!, receipt!.rejected)).toBe(true);
  });
});
