import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import { sqsVisibility } from '../../shared/aws/sqs-visibility.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { RetryPolicy } from '../../shared/core/retry-policy.ts';
import { createConsumerHandler } from '../../shared/lambda/consumer-handler.ts';
import { migrateLedger } from '../../shared/postgres/ledger/migrate.ts';
import { fileIdentity, makeBatch } from '../helpers/batches.ts';
import { eventually, type Handler, startBatchEmulator } from '../helpers/batch-emulator.ts';
import { createTestDatabase } from '../helpers/database.ts';

// Issue 19 item 4 and issue 24 item 4, at the handler: the real consumer on the real database
// and the emulator's FIFO queue, whose visibility timeout is 12 hours here, so a record that
// comes back at all came back because the handler said so.
const { sql } = await createTestDatabase();
const emulator = await startBatchEmulator({ maxReceiveCount: 10 });
const config = parseConfig({ tables: [{ table: 'items', conflictKey: ['k'], partitions: 4 }] });
const ports = emulator.ports(config, sql);
const visibility = () => sqsVisibility(emulator.sqs, emulator.queues.batches);

function consumerWith(extra: { logger?: Logger } = {}) {
  const logger = extra.logger ?? new Logger({ logLevel: 'SILENT' });
  return createConsumerHandler({ ports: () => ports, visibility, logger, metrics: new Metrics({ namespace: 'Test', serviceName: 'test' }) }) as Handler;
}

/** Lambda's context with `ms` left from now. */
function contextWithRemaining(ms: number): Context {
  const deadline = Date.now() + ms;
  return { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) } as Context;
}

const withContext = (handler: Handler, context: () => Context): Handler => (event) => handler(event, context() as never);
const receiveCountOf = (m: { Attributes?: Record<string, string> }) => Number(m.Attributes?.ApproximateReceiveCount);
const batchIdOf = (m: { Body?: string }) => (JSON.parse(m.Body!) as { batchId: string }).batchId;

beforeAll(async () => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  await migrateLedger(sql);
  await sql`CREATE TABLE items (k text PRIMARY KEY, val text)`;
  // Fails the statement (40001, transient) while fewer than `failures` statements have tried a
  // 'flaky' row since the last reset: a sequence is not rolled back with the transaction.
  await sql`CREATE SEQUENCE flaky_attempts`;
  await sql`CREATE TABLE flaky_plan (failures int NOT NULL)`;
  await sql`INSERT INTO flaky_plan VALUES (0)`;
  await sql.unsafe(`CREATE FUNCTION items_faults() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.val LIKE 'flaky%' AND nextval('flaky_attempts') <= (SELECT failures FROM flaky_plan) THEN
        RAISE EXCEPTION 'test: a transient failure' USING ERRCODE = '40001';
      END IF;
      IF NEW.val = 'slow' THEN PERFORM pg_sleep(2); END IF;
      RETURN NEW;
    END $$`);
  await sql`CREATE TRIGGER faults BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION items_faults()`;
  await emulator.sqs.send(new SetQueueAttributesCommand({ QueueUrl: emulator.queues.batches, Attributes: { VisibilityTimeout: '43200' } }));
});

async function failNextStatements(n: number) {
  await sql`ALTER SEQUENCE flaky_attempts RESTART`;
  await sql`UPDATE flaky_plan SET failures = ${n}`;
}

describe('transient failures: retried within seconds, not at the visibility timeout', () => {
  test('a transient failure is retried in the same invocation: applied once, no second receive', async () => {
    await failNextStatements(2);
    const batch = makeBatch({ table: 'items', rows: [{ k: 't1', val: 'flaky 1' }] });
    await emulator.stage(batch);

    const first = await emulator.deliver(emulator.queues.batches, consumerWith());

    expect(first.response?.batchItemFailures).toEqual([]);
    expect(receiveCountOf(first.received[0]!)).toBe(1);
    expect(await emulator.depth(emulator.queues.batches)).toBe(0);
    expect(await sql`SELECT val FROM items WHERE k = 't1'`).toEqual([{ val: 'flaky 1' }]);
    expect(await sql`SELECT applications FROM landfall.batches WHERE batch_id = ${batch.batchId}`).toEqual([{ applications: 1 }]);
  });

  test('a record still failing after its in-process attempts comes back after a backoff of seconds, in its group\'s order', async () => {
    // GIVEN two batches of one FIFO group (same key, same version: the later application wins),
    // and the first fails one statement more than its in-process attempts
    await failNextStatements(RetryPolicy.inProcess.maxAttempts + 1);
    const file = fileIdentity();
    const a1 = makeBatch({ table: 'items', partition: 0, chunk: 0, rows: [{ k: 'o1', val: 'flaky: first' }] }, file);
    const a2 = makeBatch({ table: 'items', partition: 0, chunk: 1, rows: [{ k: 'o1', val: 'second' }] }, file);
    await emulator.stage(a1, { batchCount: 2 });
    await emulator.stage(a2, { batchCount: 2 });
    const logger = new Logger({ logLevel: 'SILENT' });
    const info = vi.spyOn(logger, 'info');
    const consumer = consumerWith({ logger });

    // WHEN the first delivery fails it
    const first = await emulator.deliver(emulator.queues.batches, consumer);
    expect(first.received.map(batchIdOf)).toEqual([a1.batchId]);
    expect(first.response?.batchItemFailures).toHaveLength(1);
    expect(info).toHaveBeenCalledWith('failed records come back', { records: [{ messageId: first.received[0]!.MessageId, inSeconds: 1, why: 'transient' }] });

    // THEN it comes back (the queue would keep it 12 hours), before the later batch of its group
    const deliveries: string[] = [];
    await eventually(async () => {
      const next = await emulator.deliver(emulator.queues.batches, consumer);
      deliveries.push(...next.received.map(batchIdOf));
      return (await emulator.depth(emulator.queues.batches)) === 0;
    }, 60_000);
    expect(deliveries).toEqual([a1.batchId, a2.batchId]);
    expect(await sql`SELECT val FROM items WHERE k = 'o1'`).toEqual([{ val: 'second' }]);
    const applied = await sql`SELECT chunk, applications FROM landfall.batches WHERE batch_id IN ${sql([a1.batchId, a2.batchId])} ORDER BY applied_at`;
    expect(applied.map((b) => ({ ...b }))).toEqual([
      { chunk: 0, applications: 1 },
      { chunk: 1, applications: 1 },
    ]);
  });

  test('without the visibility adapter (or when SQS refuses it) the record still fails and comes back after the queue\'s timeout', async () => {
    await failNextStatements(RetryPolicy.inProcess.maxAttempts);
    const logger = new Logger({ logLevel: 'SILENT' });
    const warn = vi.spyOn(logger, 'warn');
    const refusing = createConsumerHandler({
      ports: () => ports,
      visibility: () => async () => {
        throw new Error('AccessDenied: not authorized to perform sqs:ChangeMessageVisibility');
      },
      logger,
      metrics: new Metrics({ namespace: 'Test', serviceName: 'test' }),
    }) as Handler;
    const batch = makeBatch({ table: 'items', rows: [{ k: 'r1', val: 'flaky refused' }] });
    await emulator.stage(batch);

    // A one-record event whose record failed: the invocation throws (Lambda's Errors sees it).
    const first = await emulator.deliver(emulator.queues.batches, refusing);

    expect(first.thrown).toBeDefined();
    expect(warn).toHaveBeenCalledWith("could not change the visibility of failed records; they come back after the queue's visibility timeout", expect.objectContaining({ error: expect.stringContaining('AccessDenied') }));
    // It stays in flight for the queue's 12 hours; made visible here for the next tests.
    await visibility()([{ receiptHandle: first.received[0]!.ReceiptHandle!, seconds: 0 }]);
    await eventually(async () => {
      await emulator.deliver(emulator.queues.batches, consumerWith());
      return (await emulator.depth(emulator.queues.batches)) === 0;
    });
    expect(await sql`SELECT val FROM items WHERE k = 'r1'`).toEqual([{ val: 'flaky refused' }]);
  });
});

describe('deadlines (issue 24 item 4)', () => {
  test('records the remaining time would not cover are not started and are visible again at once', async () => {
    await failNextStatements(0);
    const consumer = consumerWith();
    // A warm table cache first, so the timed records below spend their time in the database.
    await emulator.stage(makeBatch({ table: 'items', partition: 2, rows: [{ k: 'w1', val: 'warm' }] }));
    await emulator.deliver(emulator.queues.batches, consumer);
    const file = fileIdentity();
    const slow = makeBatch({ table: 'items', partition: 0, rows: [{ k: 'd1', val: 'slow' }] }, file);
    const next = makeBatch({ table: 'items', partition: 1, rows: [{ k: 'd2', val: 'after the slow one' }] }, file);
    await emulator.stage(slow, { batchCount: 2 });
    await emulator.stage(next, { batchCount: 2 });

    // WHEN an invocation with 3.5 s to use (after the reserve) applies the slow batch (2 s in a
    // trigger): what is left would not cover another record of that length
    const delivery = await emulator.deliver(emulator.queues.batches, withContext(consumer, () => contextWithRemaining(RetryPolicy.reserveMs + 3_500)), {
      atLeast: 2,
      arrange: (received) => [...received].sort((a, b) => (batchIdOf(a) === slow.batchId ? -1 : batchIdOf(b) === slow.batchId ? 1 : 0)),
    });

    // THEN the second record was reported back without being started (its batch never claimed)
    const deferred = delivery.received.find((m) => batchIdOf(m) === next.batchId)!;
    expect(delivery.response?.batchItemFailures).toEqual([{ itemIdentifier: deferred.MessageId }]);
    expect(await sql`SELECT val FROM items WHERE k IN ('d1', 'd2') ORDER BY k`).toEqual([{ val: 'slow' }]);
    expect(await sql`SELECT batch_id FROM landfall.batches WHERE batch_id = ${next.batchId}`).toEqual([]);
    // AND it is visible again at once (the queue would keep it 12 hours); SQS counted the receive
    // all the same: no API gives one back
    const again = await emulator.deliver(emulator.queues.batches, consumer);
    expect(again.received.map(batchIdOf)).toEqual([next.batchId]);
    expect(receiveCountOf(again.received[0]!)).toBe(2);
    expect(again.response?.batchItemFailures).toEqual([]);
    expect(await sql`SELECT val FROM items WHERE k = 'd2'`).toEqual([{ val: 'after the slow one' }]);
  });

  test('a statement still waiting on a lock at the deadline is cancelled before it (57014, transient); the record comes back and applies once', async () => {
    await failNextStatements(0);
    const logger = new Logger({ logLevel: 'SILENT' });
    const error = vi.spyOn(logger, 'error');
    const consumer = consumerWith({ logger });
    const batch = makeBatch({ table: 'items', partition: 3, rows: [{ k: 'l1', val: 'locked out' }] });
    await emulator.stage(batch);
    // GIVEN the table locked against writes by another session
    let release!: () => void;
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = sql.begin(async (tx) => {
      await tx`LOCK TABLE items IN SHARE MODE`;
      locked();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await isLocked;

    // WHEN an invocation with 2 s to use meets it: it returns while the lock is still held
    const first = await emulator.deliver(emulator.queues.batches, withContext(consumer, () => contextWithRemaining(RetryPolicy.reserveMs + 2_000)));
    release();
    await holder;

    // THEN the statement was cancelled by the transaction's statement_timeout, a transient failure
    expect(first.thrown).toBeDefined();
    expect(error).toHaveBeenCalledWith('batch failed; it will be retried', expect.objectContaining({ code: '57014', errorClass: 'transient' }));
    expect(await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction (aborted)'`).toEqual([{ n: 0 }]);
    // AND it comes back after its backoff and applies once
    await eventually(async () => {
      await emulator.deliver(emulator.queues.batches, consumer);
      return (await emulator.depth(emulator.queues.batches)) === 0;
    }, 60_000);
    expect(await sql`SELECT val FROM items WHERE k = 'l1'`).toEqual([{ val: 'locked out' }]);
    expect(await sql`SELECT applications FROM landfall.batches WHERE batch_id = ${batch.batchId}`).toEqual([{ applications: 1 }]);
  });
});
