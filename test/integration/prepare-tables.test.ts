import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { beforeAll, expect, test } from 'vitest';
import { createConsumerHandler } from '../../shared/lambda/consumer-handler.ts';
import { catalogSnapshotKeyOf, parseSnapshot } from '../../shared/core/catalog-snapshot.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { PrepareTablesEvent } from '../../shared/core/deploy-event.ts';
import { listBlockedTables, recordBlockedTable } from '../../shared/postgres/ledger/blocked-tables.ts';
import { migrateLedger } from '../../shared/postgres/ledger/migrate.ts';
import { STAGING_BUCKET, startBatchEmulator } from '../helpers/batch-emulator.ts';
import { createTestDatabase } from '../helpers/database.ts';

// The stack's deploy step invokes the consumer with PrepareTablesEvent: every configured table's
// catalog snapshot in staging before the first file, a refused table recorded as blocked.
const { sql } = await createTestDatabase();
const emulator = await startBatchEmulator();
const config = parseConfig({
  tables: [
    { table: 'ready', conflictKey: ['id'], partitions: 4 },
    { table: 'unindexed', conflictKey: ['id'] },
    { table: 'later', conflictKey: ['id'] },
  ],
});
const quiet = () => ({ logger: new Logger({ logLevel: 'SILENT' }), metrics: new Metrics({ namespace: 'Test', serviceName: 'test' }) });
const context = { functionName: 'landfall-consumer', awsRequestId: 'deploy' } as Context;
const deployStep = (ports: Parameters<typeof createConsumerHandler>[0]['ports']) =>
  createConsumerHandler({ ports, ...quiet() })(PrepareTablesEvent, context) as Promise<Record<string, unknown>>;

async function snapshotOf(table: string) {
  const object = await emulator.s3.send(new GetObjectCommand({ Bucket: STAGING_BUCKET, Key: catalogSnapshotKeyOf(table) })).catch(() => null);
  return object?.Body ? parseSnapshot(await object.Body.transformToString()) : null;
}

beforeAll(async () => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  await migrateLedger(sql);
  await sql`CREATE TABLE ready (id bigint PRIMARY KEY, name text)`;
  await sql`CREATE TABLE unindexed (id int, name text)`;
});

test('GIVEN three tables WHEN the deploy step runs THEN the fitting one has its snapshot in staging, the unindexed and the missing one are blocked with the fix, and no snapshot is made up for them', async () => {
  const answer = await deployStep(() => emulator.ports(config, sql));

  expect(answer).toEqual({
    tables: [
      { table: 'ready', ready: true, blocked: null, error: null },
      { table: 'unindexed', ready: false, blocked: expect.objectContaining({ code: 'table-config', fix: expect.stringContaining('CREATE UNIQUE INDEX') }), error: null },
      { table: 'later', ready: false, blocked: expect.objectContaining({ code: 'table-missing' }), error: null },
    ],
  });
  expect(await snapshotOf('ready')).toMatchObject({ table: 'ready', conflictKey: ['id'], columns: [expect.objectContaining({ name: 'id', baseType: 'int8' }), expect.objectContaining({ name: 'name' })] });
  expect([await snapshotOf('unindexed'), await snapshotOf('later')]).toEqual([null, null]);
  expect((await listBlockedTables(sql)).map((b) => [b.table, b.code])).toEqual([
    ['unindexed', 'table-config'],
    ['later', 'table-missing'],
  ]);
});

test('GIVEN a table blocked for its missing index WHEN it is fixed and the deploy step runs again THEN its snapshot is written and it is no longer blocked; a blocked state a catalog read cannot decide (a privilege) stays', async () => {
  await sql`CREATE UNIQUE INDEX unindexed_id_key ON unindexed (id)`;
  await sql`CREATE TABLE later (id int PRIMARY KEY)`;
  await recordBlockedTable(sql, 'ready', { code: 'sqlstate 42501', reason: 'permission denied for table ready', fix: 'landfall grant-role' });

  const answer = await deployStep(() => emulator.ports(config, sql));

  expect((answer.tables as { ready: boolean }[]).map((t) => t.ready)).toEqual([true, true, true]);
  expect((await snapshotOf('unindexed'))?.index).toBe('unindexed_id_key');
  expect((await listBlockedTables(sql)).map((b) => [b.table, b.code])).toEqual([['ready', 'sqlstate 42501']]);
});

test('GIVEN a database the consumer cannot log in to yet (a new database before grant-role) WHEN the deploy step runs THEN it answers with the error instead of failing the deploy', async () => {
  const answer = await deployStep(() => Promise.reject(new Error('password authentication failed for user "landfall"')));

  expect(answer).toEqual({ error: 'password authentication failed for user "landfall"' });
});

test('GIVEN a connection that fails on the first table WHEN the deploy step runs THEN the other tables are not asked (the step ends within the timeout) and each says why', async () => {
  const real = emulator.ports(config, sql);
  let asked = 0;
  const ports = { ...real, table: () => (asked++, Promise.reject(Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' }))) };

  const answer = await deployStep(() => ports);

  expect(asked).toBe(1);
  expect(answer.tables).toEqual(config.tables.map((t) => ({ table: t.table, ready: false, blocked: null, error: 'connect ECONNREFUSED 10.0.0.5:5432' })));
});
