import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { ChangeMessageVisibilityCommand, PurgeQueueCommand } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import { createConsumerHandler } from '../../shared/lambda/consumer-handler.ts';
import { createReplayHandler } from '../../shared/lambda/replay-handler.ts';
import { countsAddUp } from '../../shared/core/batch.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { migrateLedger } from '../../shared/postgres/ledger/migrate.ts';
import { listQuarantine, retryQuarantine } from '../../shared/postgres/quarantine-retry.ts';
import { fileIdentity, makeBatch, ordersWithSixBadRows } from '../helpers/batches.ts';
import { type Handler, eventually, startBatchEmulator } from '../helpers/batch-emulator.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { RetryPolicy } from '../../shared/core/retry-policy.ts';

const { sql } = await createTestDatabase();
const emulator = await startBatchEmulator({ maxReceiveCount: 3 });

const config = parseConfig({
  tables: [
    { table: 'codes', conflictKey: ['code'], partitions: 1 },
    { table: 'ci_codes', conflictKey: ['code'], partitions: 1 },
    { table: 'people', conflictKey: ['id'], partitions: 1 },
    { table: 'orders', conflictKey: ['id'], partitions: 1 },
    { table: 'flaky', conflictKey: ['k'], partitions: 2 },
    { table: 'ordered', conflictKey: ['k'], partitions: 2 },
  ],
});
const quiet = () => ({ logger: new Logger({ logLevel: 'SILENT' }), metrics: new Metrics({ namespace: 'Test', serviceName: 'test' }) });
const ports = emulator.ports(config, sql);
const consumer = createConsumerHandler({ ports: () => ports, ...quiet() }) as Handler;
const replay = createReplayHandler({ ports: () => ports, ...quiet() }) as Handler;

beforeAll(async () => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  await migrateLedger(sql);
  await sql`CREATE TABLE codes (code text PRIMARY KEY, val text)`;
  await sql.unsafe(`CREATE FUNCTION codes_upper() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.code := upper(NEW.code); RETURN NEW; END $$`);
  await sql`CREATE TRIGGER upper_key BEFORE INSERT ON codes FOR EACH ROW EXECUTE FUNCTION codes_upper()`;
  await sql`CREATE COLLATION IF NOT EXISTS ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`;
  await sql`CREATE TABLE ci_codes (code text PRIMARY KEY, val text)`;
  await sql`CREATE UNIQUE INDEX ci_codes_ci ON ci_codes (code COLLATE ci)`;
  await sql`CREATE TABLE people (id int PRIMARY KEY, email text)`;
  await sql`CREATE UNIQUE INDEX people_email_lower ON people (lower(email))`;
  await sql`CREATE TABLE customers (id int PRIMARY KEY)`;
  await sql`INSERT INTO customers SELECT generate_series(1, 10)`;
  await sql`CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, placed date NOT NULL, note text NOT NULL)`;
  // Kills its own connection the first time a row with k = 'kill' is inserted (a sequence is not rolled back).
  await sql`CREATE SEQUENCE kill_once`;
  await sql.unsafe(`CREATE FUNCTION kill_once() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.k = 'kill' AND nextval('kill_once') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NEW; END $$`);
  // Kills its own connection on every attempt until the consumer's in-process retries are used up.
  await sql`CREATE SEQUENCE kill_many`;
  await sql.unsafe(`CREATE FUNCTION kill_many() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.k = 'kill' AND nextval('kill_many') <= ${RetryPolicy.inProcess.maxAttempts} THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NEW; END $$`);
  for (const [table, kill] of [['flaky', 'kill_once'], ['ordered', 'kill_many']]) {
    await sql.unsafe(`CREATE TABLE ${table} (k text PRIMARY KEY, val text)`);
    await sql.unsafe(`CREATE TRIGGER kill BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${kill}()`);
  }
});

/** Delivers the queue until it is empty (failed records come back after the 1 s visibility timeout). */
async function drain(queueUrl: string, handler: Handler) {
  await eventually(async () => {
    await emulator.deliver(queueUrl, handler);
    return (await emulator.depth(queueUrl)) === 0;
  }, 20_000);
}

describe('CardinalityViolation goes to the DLQ once and replay resolves it without losing a row', () => {
  test('a BEFORE INSERT trigger that upper-cases the key: consumer → DLQ → replay → the later row wins', async () => {
    const batch = makeBatch({ table: 'codes', rows: [{ code: 'ab1', val: 'first' }, { code: 'AB1', val: 'second' }] });
    await emulator.stage(batch);

    const { response } = await emulator.deliver(emulator.queues.batches, consumer);

    expect(response?.batchItemFailures).toEqual([]);
    expect(await emulator.depth(emulator.queues.batches)).toBe(0);
    expect(await emulator.depth(emulator.queues.dlq)).toBe(1);
    const [poisoned] = await sql`SELECT status, last_error FROM landfall.batches WHERE batch_id = ${batch.batchId}`;
    expect(poisoned!.status).toBe('poisoned');
    expect(poisoned!.last_error).toMatch(/^21000 /);

    await drain(emulator.queues.dlq, replay);

    expect(await sql`SELECT code, val FROM codes`).toEqual([{ code: 'AB1', val: 'second' }]);
    expect(await listQuarantine(sql, { table: 'codes' })).toEqual([]);
    const [receipt] = await fileReceipts(sql, { fileIds: [batch.fileId] });
    expect(receipt).toMatchObject({ status: 'complete', read: 2, inserted: 1, updated: 1, quarantined: 0 });
  });

  test('a second unique index under a nondeterministic collation: the later row wins, nothing quarantined', async () => {
    const batch = makeBatch({ table: 'ci_codes', rows: [{ code: 'ab1', val: 'first' }, { code: 'AB1', val: 'second' }] });
    await emulator.stage(batch);

    await emulator.deliver(emulator.queues.batches, consumer);
    await drain(emulator.queues.dlq, replay);

    expect(await sql`SELECT val FROM ci_codes`).toEqual([{ val: 'second' }]);
    expect(await listQuarantine(sql, { table: 'ci_codes' })).toEqual([]);
  });

  test('poison never loops: a consumer that dies before acknowledging sends the envelope only once', async () => {
    const batch = makeBatch({ table: 'codes', rows: [{ code: 'zz9', val: 'first' }, { code: 'ZZ9', val: 'second' }] });
    await emulator.stage(batch);

    const first = await emulator.deliver(emulator.queues.batches, consumer, { crash: true });
    await emulator.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: emulator.queues.batches, ReceiptHandle: first.received[0]!.ReceiptHandle!, VisibilityTimeout: 0 }));
    const second = await emulator.deliver(emulator.queues.batches, consumer);

    expect(second.received).toHaveLength(1);
    expect(await emulator.depth(emulator.queues.dlq)).toBe(1);
    await drain(emulator.queues.dlq, replay);
    expect(await sql`SELECT val FROM codes WHERE code = 'ZZ9'`).toEqual([{ val: 'second' }]);
  });
});

describe('bad rows through consumer and replay', () => {
  test('a lower(email) conflict between two entities: the later row is quarantined with the constraint', async () => {
    const batch = makeBatch({ table: 'people', rows: [{ id: '1', email: 'A@x' }, { id: '2', email: 'a@x' }] });
    await emulator.stage(batch);

    await emulator.deliver(emulator.queues.batches, consumer);
    await drain(emulator.queues.dlq, replay);

    expect(await sql`SELECT id, email FROM people`).toEqual([{ id: 1, email: 'A@x' }]);
    const quarantined = await listQuarantine(sql, { table: 'people' });
    expect(quarantined.map((q) => [q.rowNumber, q.sqlstate, q.constraint])).toEqual([[2, '23505', 'people_email_lower']]);
  });

  test('1,000 rows with 3 bad dates, 2 NOT NULL and 1 FK violation: 6 quarantined, 994 applied, counts add up; retry after fixing the parent applies it', async () => {
    const rows = ordersWithSixBadRows();
    const batch = makeBatch({ table: 'orders', rows });
    await emulator.stage(batch);

    await emulator.deliver(emulator.queues.batches, consumer);
    await drain(emulator.queues.dlq, replay);

    const quarantined = await listQuarantine(sql, { table: 'orders' });
    expect(quarantined.map((q) => [q.rowNumber, q.sqlstate])).toEqual([
      [100, '22008'],
      [200, '23502'],
      [300, '23502'],
      [500, '22007'],
      [700, '23503'],
      [900, '22008'],
    ]);
    const [receipt] = await fileReceipts(sql, { fileIds: [batch.fileId] });
    expect(receipt).toMatchObject({ status: 'complete', read: 1000, inserted: 994, quarantined: 6 });
    expect(countsAddUp({ ...receipt! }, receipt!.rejected)).toBe(true);

    await sql`INSERT INTO customers VALUES (11)`;
    const retried = await retryQuarantine(sql, ports.table, quarantined);

    expect(retried).toEqual({ applied: 1, stillFailing: 5, resolvedElsewhere: 0 });
    expect(await sql`SELECT customer_id FROM orders WHERE id = 700`).toEqual([{ customer_id: 11 }]);
    expect((await listQuarantine(sql, { table: 'orders' })).map((q) => q.rowNumber)).toEqual([100, 200, 300, 500, 900]);
    const [after] = await fileReceipts(sql, { fileIds: [batch.fileId] });
    expect(after).toMatchObject({ read: 1000, inserted: 995, quarantined: 5 });

    // A second retry working from the same (now stale) list changes nothing for the applied row.
    const again = await retryQuarantine(sql, ports.table, quarantined);
    expect(again).toEqual({ applied: 0, stillFailing: 5, resolvedElsewhere: 1 });
    expect(await fileReceipts(sql, { fileIds: [batch.fileId] })).toEqual([after]);
  });
});

describe('transient failures are retried, and FIFO order holds', () => {
  test('the backend terminated mid-apply: the record is retried in the same invocation and applied once', async () => {
    const logger = new Logger({ logLevel: 'SILENT' });
    const warn = vi.spyOn(logger, 'warn');
    const retrying = createConsumerHandler({ ports: () => ports, logger, metrics: quiet().metrics }) as Handler;
    const batch = makeBatch({ table: 'flaky', rows: [{ k: 'a', val: '1' }, { k: 'kill', val: '2' }] });
    await emulator.stage(batch);

    const first = await emulator.deliver(emulator.queues.batches, retrying);

    // The killed connection failed the first attempt; the second, in the same invocation, applied it.
    expect(warn).toHaveBeenCalledWith('record failed on a transient error; retrying it in this invocation', expect.objectContaining({ attempt: 1, errorClass: 'transient' }));
    expect(first.response?.batchItemFailures).toEqual([]);
    expect(await emulator.depth(emulator.queues.batches)).toBe(0);
    expect(await sql`SELECT k, val FROM flaky ORDER BY k`).toEqual([
      { k: 'a', val: '1' },
      { k: 'kill', val: '2' },
    ]);
    const [ledger] = await sql`SELECT status, applications FROM landfall.batches WHERE batch_id = ${batch.batchId}`;
    expect(ledger).toEqual({ status: 'applied', applications: 1 });
    expect(await emulator.depth(emulator.queues.dlq)).toBe(0);
  });

  test('when a message fails transiently past its in-process retries, later messages of its group in the same event are not applied; other groups go on', async () => {
    const file = fileIdentity();
    const first = makeBatch({ table: 'ordered', partition: 0, chunk: 0, rows: [{ k: 'kill', val: 'from chunk 0' }, { k: 'x', val: 'from chunk 0' }] }, file);
    const second = makeBatch({ table: 'ordered', partition: 0, chunk: 1, rows: [{ k: 'x', val: 'from chunk 1' }] }, file);
    const other = makeBatch({ table: 'ordered', partition: 1, chunk: 0, rows: [{ k: 'y', val: 'other group' }] }, file);
    await emulator.stage(first, { batchCount: 3 });
    const secondMessage = await emulator.stage(second, { batchCount: 3 });
    await emulator.stage(other, { batchCount: 3 });

    // fauxqs hands out one message per FIFO group at a time; Lambda may put several of one group
    // into an event, so the event gets chunk 1 right after chunk 0, as SQS would order it.
    const delivery = await emulator.deliver(emulator.queues.batches, consumer, {
      atLeast: 2,
      arrange: (received) => {
        const chunk1 = { MessageId: 'chunk-1-in-same-event', ReceiptHandle: 'not-deleted', Body: JSON.stringify(secondMessage), Attributes: { MessageGroupId: 'ordered#0', ApproximateReceiveCount: '1' } };
        const at = received.findIndex((m) => JSON.parse(m.Body!).batchId === first.batchId);
        return [...received.slice(0, at + 1), chunk1, ...received.slice(at + 1)];
      },
    });

    expect(delivery.received.map((m) => JSON.parse(m.Body!).batchId).sort()).toEqual([first.batchId, other.batchId].sort());
    const failedIds = delivery.response?.batchItemFailures.map((f) => f.itemIdentifier);
    expect(failedIds).toEqual([delivery.received.find((m) => JSON.parse(m.Body!).batchId === first.batchId)!.MessageId, 'chunk-1-in-same-event']);
    expect(await sql`SELECT k, val FROM ordered`).toEqual([{ k: 'y', val: 'other group' }]);

    await drain(emulator.queues.batches, consumer);

    expect(await sql`SELECT val FROM ordered WHERE k = 'x'`).toEqual([{ val: 'from chunk 1' }]);
    const applied = await sql`SELECT chunk FROM landfall.batches WHERE batch_id IN ${sql([first.batchId, second.batchId])} ORDER BY applied_at`;
    expect(applied.map((b) => b.chunk)).toEqual([0, 1]);
    const [receipt] = await fileReceipts(sql, { fileIds: [first.fileId] });
    expect(receipt).toMatchObject({ status: 'complete', batches: 3, batchesApplied: 3 });
  });
});

describe('replay that cannot finish is parked', () => {
  test('a batch replay keeps failing on (a table that is not in the config) goes to the parking queue after the DLQ maxReceiveCount', async () => {
    const failing = createReplayHandler({ ports: () => ({ ...ports, table: (name) => Promise.reject(new Error(`table "${name}" is not in the config`)) }), ...quiet() }) as Handler;
    const batch = makeBatch({ table: 'codes', rows: [{ code: 'pp1', val: 'x' }, { code: 'PP1', val: 'y' }] });
    await emulator.stage(batch);
    await emulator.deliver(emulator.queues.batches, consumer);
    expect(await emulator.depth(emulator.queues.dlq)).toBe(1);

    await eventually(async () => {
      await emulator.deliver(emulator.queues.dlq, failing);
      return (await emulator.depth(emulator.queues.parking)) === 1;
    }, 20_000);

    expect(await emulator.depth(emulator.queues.dlq)).toBe(0);
    expect(await sql`SELECT status FROM landfall.batches WHERE batch_id = ${batch.batchId}`).toEqual([{ status: 'poisoned' }]);
  });
});

describe('a table fixed while the container is warm', () => {
  test('a column added after the catalog was cached is seen on the next batch, not quarantined', async () => {
    await sql`CREATE TABLE growing (id int PRIMARY KEY, a text)`;
    const growingConfig = parseConfig({ tables: [{ table: 'growing', conflictKey: ['id'], partitions: 1 }] });
    const growingPorts = emulator.ports(growingConfig, sql);
    const handler = createConsumerHandler({ ports: () => growingPorts, ...quiet() }) as Handler;
    await emulator.stage(makeBatch({ table: 'growing', rows: [{ id: '1', a: 'x' }] }));
    await drain(emulator.queues.batches, handler);

    await sql`ALTER TABLE growing ADD COLUMN b text`;
    await emulator.stage(makeBatch({ table: 'growing', rows: [{ id: '2', a: 'y', b: 'new column' }] }));
    await drain(emulator.queues.batches, handler);

    expect(await sql`SELECT id, b FROM growing ORDER BY id`).toEqual([
      { id: 1, b: null },
      { id: 2, b: 'new column' },
    ]);
    expect(await listQuarantine(sql, { table: 'growing' })).toEqual([]);
  });
});

describe('a bug is neither poison nor retried forever', () => {
  test('a TypeError applying a batch fails the record, is logged as a bug, and after maxReceiveCount SQS moves it to the DLQ unpoisoned', async () => {
    // GIVEN a consumer whose table lookup has a programming error
    const logger = new Logger({ logLevel: 'SILENT' });
    const error = vi.spyOn(logger, 'error');
    const buggy = createConsumerHandler({
      ports: () => ({ ...ports, table: () => Promise.reject(new TypeError("Cannot read properties of undefined (reading 'columns')")) }),
      logger,
      metrics: quiet().metrics,
    }) as Handler;
    const batch = makeBatch({ table: 'codes', rows: [{ code: 'bug1', val: 'x' }] });
    await emulator.stage(batch);

    // WHEN it is delivered until it leaves the batches queue
    await eventually(async () => {
      await emulator.deliver(emulator.queues.batches, buggy);
      return (await emulator.depth(emulator.queues.batches)) === 0;
    }, 20_000);

    // THEN it failed once per receive (maxReceiveCount 3), each time as a bug, and went on to the DLQ
    // as SQS's redrive moved it: not marked poisoned, not sent by the consumer, nothing applied
    expect(error.mock.calls.map(([, fields]) => (fields as { errorClass?: string }).errorClass)).toEqual(['bug', 'bug', 'bug']);
    expect(await emulator.depth(emulator.queues.dlq)).toBe(1);
    expect(await sql`SELECT status FROM landfall.batches WHERE batch_id = ${batch.batchId}`).toEqual([]);
    await emulator.sqs.send(new PurgeQueueCommand({ QueueUrl: emulator.queues.dlq }));
  });
});
