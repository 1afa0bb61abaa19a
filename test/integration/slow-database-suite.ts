import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { expect, test } from 'vitest';
import { parseConfig } from '../../shared/core/config.ts';
import type { SqsHandler } from '../../shared/local/lambda-poller.ts';
import { dropFile, tableForFile, waitForFile } from '../../shared/local/run-files.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { FAST_VISIBILITY, startTestStack } from '../helpers/local-stack.ts';
import { csvOf } from '../helpers/producer-files.ts';

/** The consumer's timeout in this test: short, so a lock can outlast several invocations. */
const CONSUMER_TIMEOUT_MS = 10_000;
const ROWS = 200;

/**
 * Issue 24 item 4: a database held slow (the target table locked against writes) for longer than
 * the consumer's timeout, through the whole local stack with that short timeout, directly or
 * through pgbouncer in transaction mode (the RDS Proxy stand-in). Every batch must end applied
 * once by the consumer itself: none reaches the DLQ (replay never runs), none is parked, and no
 * invocation runs past its timeout (in AWS, Lambda would have killed it mid-transaction).
 */
export async function defineSlowDatabaseTest(through: 'direct' | 'pgbouncer'): Promise<void> {
  const db = await createTestDatabase();
  if (through === 'pgbouncer' && !db.pooledUrl) throw new Error('no pgbouncer in front of the test server');
  const config = parseConfig({ tables: [{ table: 'slow_items', conflictKey: ['id'], version: 'v', partitions: 4 }], batch: { maxRows: 25, maxBytes: 1024 * 1024 } });
  await db.sql`CREATE TABLE slow_items (id int PRIMARY KEY, val text, v int NOT NULL)`;

  const failedInvocations: number[] = [];
  const overruns: string[] = [];
  let replayInvocations = 0;
  const observe = (name: 'producer' | 'consumer' | 'replay', handler: SqsHandler): SqsHandler => async (event, context) => {
    if (name === 'replay') replayInvocations++;
    const response = await handler(event, context);
    if (name === 'consumer' && (response?.batchItemFailures.length ?? 0) > 0) failedInvocations.push(response!.batchItemFailures.length);
    return response;
  };
  const t = await startTestStack(config, through === 'pgbouncer' ? db.pooledUrl! : db.url, {
    // The queue's own timeout is the stack's rule (6× the function's): a record comes back
    // sooner only when the handler says so.
    visibilityTimeouts: { ...FAST_VISIBILITY, batches: (CONSUMER_TIMEOUT_MS / 1000) * 6 },
    consumer: { timeoutMs: CONSUMER_TIMEOUT_MS },
    wrapHandler: observe,
    onOverrun: (name, _elapsed, timeout) => overruns.push(`${name} still running at its ${timeout} ms timeout`),
  });

  test(`a table locked for longer than the consumer's timeout (${through}): every batch applied once by the consumer, none in the DLQ or parked, no invocation past its timeout`, async () => {
    // GIVEN the table locked against writes by another session
    let release!: () => void;
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = db.sql.begin(async (tx) => {
      await tx`LOCK TABLE slow_items IN SHARE MODE`;
      locked();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await isLocked;
    const lockedAt = Date.now();

    // WHEN a file arrives, and the lock is held until the consumer has given up on it three times
    // (each at its statement timeout, before its deadline): about three times the timeout's worth
    const path = t.file('slow.csv', csvOf(Array.from({ length: ROWS }, (_, i) => ({ id: i, val: `row ${i}`, v: 1 }))));
    const dropped = await dropFile(t.target, path, tableForFile(config, path));
    // Without deadlines the consumer waits on the lock and never gives up: a bound for that case.
    while (failedInvocations.length < 3 && Date.now() - lockedAt < 6 * CONSUMER_TIMEOUT_MS) await new Promise((r) => setTimeout(r, 100));
    const heldMs = Date.now() - lockedAt;
    release();
    await holder;
    const receipt = await waitForFile(t.target, dropped, { timeoutMs: 120_000 });

    // THEN the lock outlasted the function's timeout and the consumer gave up on it in time
    expect(heldMs).toBeGreaterThan(CONSUMER_TIMEOUT_MS);
    expect(failedInvocations.length).toBeGreaterThanOrEqual(3);
    expect(overruns).toEqual([]);
    // AND every row landed once, by the consumer: nothing went to the DLQ, replay, or parking
    expect(receipt).toMatchObject({ status: 'complete', addsUp: true, read: ROWS, inserted: ROWS, quarantined: 0 });
    expect(await db.sql`SELECT count(*)::int AS n FROM slow_items`).toEqual([{ n: ROWS }]);
    const [ledger] = await db.sql`SELECT count(*)::int AS batches, max(applications)::int AS most, count(*) FILTER (WHERE status <> 'applied')::int AS other FROM landfall.batches`;
    expect(ledger).toMatchObject({ most: 1, other: 0 });
    expect(ledger!.batches).toBe(receipt.batches);
    expect(replayInvocations).toBe(0);
    for (const queue of [t.stack.queues.batchesDlq, t.stack.queues.parking]) {
      const { Attributes = {} } = await t.stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      expect(Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible)).toBe(0);
    }
  }, 240_000);
}
