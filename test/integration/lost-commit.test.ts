import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, inject, test, vi } from 'vitest';
import { createConsumerHandler } from '../../shared/lambda/consumer-handler.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { connect } from '../../shared/postgres/db.ts';
import { migrateLedger } from '../../shared/postgres/ledger/migrate.ts';
import { makeBatch } from '../helpers/batches.ts';
import { eventually, type Handler, startBatchEmulator } from '../helpers/batch-emulator.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { pgbouncerOrSkip, startPgbouncer } from '../helpers/pgbouncer.ts';

// The lost-batch sequence seen through pgbouncer: a client with named prepared statements
// (what the local stack used to be) commits on a server session where its cached COMMIT does
// not exist; COMMIT fails with 26000, which aborts the transaction; postgres.js retries it and
// the server answers the retry with ROLLBACK. The consumer must not acknowledge that batch.
if (pgbouncerOrSkip('a COMMIT answered with ROLLBACK through pgbouncer')) {
  const db = await createTestDatabase();
  const emulator = await startBatchEmulator({ maxReceiveCount: 5 });
  // Two server sessions, so the test decides which one each transaction gets.
  const bouncer = await startPgbouncer(inject('adminDatabaseUrl'), { poolSize: 2 });
  afterAll(() => bouncer.stop());
  const pooled = bouncer.urlFor(db.url);
  const prepared = postgres(pooled, { max: 1, prepare: true, onnotice: () => {} });
  const holder = postgres(pooled, { max: 1, prepare: false, onnotice: () => {} });
  afterAll(async () => {
    await prepared.end({ timeout: 5 });
    await holder.end({ timeout: 5 });
  });
  const landfallClient = connect({ url: pooled, max: 1, applicationName: 'lost-commit' });
  afterAll(() => landfallClient.end({ timeout: 5 }));
  const config = parseConfig({ tables: [{ table: 'balances', conflictKey: ['id'], version: 'seq', partitions: 1 }] });
  const logger = new Logger({ logLevel: 'SILENT' });
  const consumer = createConsumerHandler({
    ports: () => emulator.ports(config, prepared),
    logger,
    metrics: new Metrics({ namespace: 'Test', serviceName: 'test' }),
  }) as Handler;
  const shipped = createConsumerHandler({
    ports: () => emulator.ports(config, landfallClient),
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'Test', serviceName: 'test' }),
  }) as Handler;

  beforeAll(async () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    await migrateLedger(db.sql);
    await db.sql`CREATE TABLE balances (id int PRIMARY KEY, amount numeric NOT NULL, seq int NOT NULL)`;
  });

  test('the attempt is not taken for a commit: the batch is retried and applied exactly once', async () => {
    // GIVEN the client's COMMIT prepared on server session A, and A busy with another transaction
    await prepared.begin(async (tx) => tx`select 1`);
    let release!: () => void;
    const held = holder.begin(async (tx) => {
      await tx`select 1`;
      await new Promise<void>((resolve) => (release = resolve));
    });
    await eventually(async () => release !== undefined, 5_000);
    const batch = makeBatch({ table: 'balances', rows: [{ id: '1', amount: '100', seq: '1' }, { id: '2', amount: '50', seq: '1' }] });
    await emulator.stage(batch);

    // WHEN the consumer applies the batch on session B, where that COMMIT does not exist
    const warn = vi.spyOn(logger, 'warn');
    const tried = vi.spyOn(logger, 'error');
    const first = await emulator.deliver(emulator.queues.batches, consumer);

    // THEN the attempt whose COMMIT came back ROLLBACK failed as a transient error (class 40): it
    // was not taken for a commit, and the record was tried again (in the invocation, then by SQS)
    expect(tried).toHaveBeenCalledWith('batch failed; it will be retried', expect.objectContaining({ code: '40000', errorClass: 'transient', inProcessAttempt: 1 }));
    expect(warn).toHaveBeenCalledWith('record failed on a transient error; retrying it in this invocation', expect.objectContaining({ code: '40000', attempt: 1 }));
    // AND whatever the retries did, the batch is acknowledged only with its rows committed
    const acknowledged = first.response?.batchItemFailures.length === 0;
    expect(await db.sql`SELECT count(*)::int AS n FROM balances`).toEqual([{ n: acknowledged ? 2 : 0 }]);

    // AND once redelivered to a consumer on Landfall's own client (prepare: false; the prepared
    // client fails attempts through a transaction pooler), it is applied exactly once
    release();
    await held;
    await eventually(async () => {
      await emulator.deliver(emulator.queues.batches, shipped);
      return (await emulator.depth(emulator.queues.batches)) === 0;
    }, 30_000);
    expect(await db.sql`SELECT id, amount::text AS amount FROM balances ORDER BY id`).toEqual([
      { id: 1, amount: '100' },
      { id: 2, amount: '50' },
    ]);
    expect(await db.sql`SELECT status, applications FROM landfall.batches WHERE batch_id = ${batch.batchId}`).toEqual([{ status: 'applied', applications: 1 }]);
  });
}
