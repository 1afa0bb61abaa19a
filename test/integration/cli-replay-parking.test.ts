import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { beforeAll, expect, test } from 'vitest';
import { replayCommand } from '../../cli/commands/replay.ts';
import type { BatchMessage } from '../../shared/core/batch-message.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { messageGroupOf } from '../../shared/core/batch-message.ts';
import { consumeBatch } from '../../shared/consumer/consume-batch.ts';
import { migrateLedger } from '../../shared/postgres/ledger/migrate.ts';
import { makeBatch } from '../helpers/batches.ts';
import { startBatchEmulator } from '../helpers/batch-emulator.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { captureIo } from '../helpers/cli.ts';

// Issue 24, item 5: `landfall replay` deletes the parked message of a batch once it is applied,
// so the parking queue (and its alarms) no longer hold what is done. Real PostgreSQL, fauxqs.

const { sql, url } = await createTestDatabase();
const emulator = await startBatchEmulator();
const tables = [{ table: 'orders', conflictKey: ['id'], partitions: 8 }];
const ports = emulator.ports(parseConfig({ tables }), sql);
const dir = mkdtempSync(join(tmpdir(), 'landfall-replay-parking-'));
const configPath = join(dir, 'config.json');
writeFileSync(configPath, JSON.stringify({ tables }));
const endpoint = await emulator.s3.config.endpoint!();
const env = {
  LANDFALL_STAGING_BUCKET: 'landfall-staging',
  LANDFALL_PARKING_QUEUE_URL: emulator.queues.parking,
  AWS_ENDPOINT_URL: `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`,
  LANDFALL_HOME: join(dir, 'no-dev'),
};

beforeAll(async () => {
  await migrateLedger(sql);
  await sql`CREATE TABLE orders (id int PRIMARY KEY, qty int NOT NULL CHECK (qty >= 0))`;
});

const rows = (first: number, bad: number[] = []) => Array.from({ length: 3 }, (_, i) => ({ id: String(first + i), qty: bad.includes(first + i) ? '-1' : '1' }));

/** A batch offered to the consumer once; its message as SQS's redrive would park it (the DLQ envelope, or the batch message itself). */
async function parked(first: number, options: { bad?: number[]; partition?: number } = {}) {
  const batch = makeBatch({ table: 'orders', rows: rows(first, options.bad), partition: options.partition ?? 0 });
  const message = await emulator.stage(batch);
  const outcome = await consumeBatch(ports, message, 1);
  let body = JSON.stringify(message);
  if (outcome.outcome === 'poisoned') {
    // Move the consumer's envelope from the DLQ to parking, as five failed replays would.
    const { Messages = [] } = await emulator.sqs.send(new ReceiveMessageCommand({ QueueUrl: emulator.queues.dlq, MaxNumberOfMessages: 10 }));
    const envelope = Messages.find((m) => m.Body!.includes(batch.batchId))!;
    await emulator.sqs.send(new DeleteMessageCommand({ QueueUrl: emulator.queues.dlq, ReceiptHandle: envelope.ReceiptHandle! }));
    body = envelope.Body!;
  }
  await emulator.sqs.send(
    new SendMessageCommand({ QueueUrl: emulator.queues.parking, MessageBody: body, MessageGroupId: messageGroupOf('orders', batch.partition), MessageDeduplicationId: `${batch.batchId}-parked` }),
  );
  return { batch, outcome: outcome.outcome, message: message as BatchMessage };
}

const parkedBatchIds = async () => {
  const { Messages = [] } = await emulator.sqs.send(new ReceiveMessageCommand({ QueueUrl: emulator.queues.parking, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
  return Messages.map((m) => /"batchId":"([^"]+)"/.exec(m.Body!)![1]);
};

test('replay deletes the parked message of the batch it applied, and of batches already applied, and leaves the others visible', async () => {
  // GIVEN two poisoned batches parked in one group (the second behind the first) and an applied one parked in another
  const first = await parked(100, { bad: [101] });
  const second = await parked(200, { bad: [201] });
  const applied = await parked(300, { partition: 1 });
  expect([first.outcome, second.outcome, applied.outcome]).toEqual(['poisoned', 'poisoned', 'applied']);
  const io = captureIo(env);

  // WHEN the first is replayed
  const code = await replayCommand(first.batch.batchId, { databaseUrl: url, config: configPath, json: true }, io);

  // THEN its message and the applied batch's are gone; the second is visible again at once
  expect(code).toBe(0);
  const report = JSON.parse(io.out());
  expect(report).toMatchObject({ outcome: 'replayed', parking: { queue: emulator.queues.parking, kept: 1 } });
  expect([...report.parking.deleted].sort()).toEqual([first.batch.batchId, applied.batch.batchId].sort());
  expect(await parkedBatchIds()).toEqual([second.batch.batchId]);
});

test('the text report says what happened to the parked message', async () => {
  const third = await parked(400, { bad: [400], partition: 2 });
  const io = captureIo(env);

  await replayCommand(third.batch.batchId, { databaseUrl: url, config: configPath }, io);

  expect(io.out()).toMatch(/Deleted its message from the parking queue/);
});

test('without a parking queue the replay still applies the batch and says how to have the message deleted', async () => {
  const fourth = await parked(500, { bad: [500], partition: 3 });
  const io = captureIo({ ...env, LANDFALL_PARKING_QUEUE_URL: '' });

  const code = await replayCommand(fourth.batch.batchId, { databaseUrl: url, config: configPath, json: true }, io);

  expect(code).toBe(0);
  expect(JSON.parse(io.out())).toMatchObject({ outcome: 'replayed', parking: { skipped: expect.stringContaining('LANDFALL_PARKING_QUEUE_URL') } });
  expect(await parkedBatchIds()).toContain(fourth.batch.batchId);
});
