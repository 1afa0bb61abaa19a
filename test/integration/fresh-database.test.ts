import { expect, test } from 'vitest';
import { consumeBatch } from '../../shared/consumer/consume-batch.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { makeBatch } from '../helpers/batches.ts';
import { startBatchEmulator } from '../helpers/batch-emulator.ts';
import { createTestDatabase } from '../helpers/database.ts';

// GIVEN a database nobody migrated: a first deployment, where only the functions create the ledger
const { sql } = await createTestDatabase();
const emulator = await startBatchEmulator();
const config = parseConfig({ tables: [{ table: 'things', conflictKey: ['id'], partitions: 1 }] });

test('the consumer migrates the ledger before it registers the first file', async () => {
  await sql`CREATE TABLE things (id int PRIMARY KEY, val text)`;
  const message = await emulator.stage(makeBatch({ table: 'things', rows: [{ id: '1', val: 'a' }, { id: '2', val: 'b' }] }));
  // WHEN the first batch arrives
  const outcome = await consumeBatch(emulator.ports(config, sql), message, 1);
  // THEN it is applied and the file is in the ledger
  expect(outcome).toMatchObject({ outcome: 'applied', counts: { inserted: 2 } });
  expect((await fileReceipts(sql)).map((r) => r.fileId)).toEqual([message.fileId]);
});
