import { GetObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, test } from 'vitest';
import { catalogSnapshotKeyOf, parseSnapshot } from '../../shared/core/catalog-snapshot.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { createBatchPorts } from '../../shared/lambda/consumer-runtime.ts';
import { STAGING_BUCKET, startBatchEmulator } from '../helpers/batch-emulator.ts';
import { createTestDatabase } from '../helpers/database.ts';

const { sql } = await createTestDatabase();
const emulator = await startBatchEmulator();
const config = parseConfig({ tables: [{ table: 'snap_items', conflictKey: ['id'] }] });
await sql`CREATE TABLE snap_items (id bigint PRIMARY KEY, name text)`;

async function stored() {
  const object = await emulator.s3.send(new GetObjectCommand({ Bucket: STAGING_BUCKET, Key: catalogSnapshotKeyOf('snap_items') }));
  return parseSnapshot(await object.Body!.transformToString())!;
}

describe('the consumer writes the catalog snapshot the producer reads', () => {
  test('when it prepares a table', async () => {
    await emulator.ports(config, sql).table('snap_items');

    expect(await stored()).toMatchObject({ table: 'snap_items', conflictKey: ['id'], index: 'snap_items_pkey', columns: [{ name: 'id', baseType: 'int8' }, { name: 'name', baseType: 'text' }] });
  });

  test('and again once its catalog is older than catalogMaxAgeMs, so an ALTER TABLE reaches the producer', async () => {
    const ports = createBatchPorts({ config, sql, s3: emulator.s3, sqs: emulator.sqs, stagingBucket: STAGING_BUCKET, dlqUrl: emulator.queues.dlq, tagApplied: false, catalogMaxAgeMs: 0 });
    await ports.table('snap_items');
    await sql`ALTER TABLE snap_items ADD COLUMN colour text`;

    await ports.table('snap_items');

    expect((await stored()).columns.map((c) => c.name)).toEqual(['id', 'name', 'colour']);
  });
});
