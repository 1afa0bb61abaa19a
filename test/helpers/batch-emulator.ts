import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, GetQueueAttributesCommand, type Message, ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { startFauxqs } from 'fauxqs';
import { afterAll } from 'vitest';
import { createS3Client, createSqsClient } from '../../shared/aws/clients.ts';
import type { BatchData } from '../../shared/core/batch.ts';
import { type BatchMessage, batchMessageOf, messageGroupOf } from '../../shared/core/batch-message.ts';
import type { LandfallConfig } from '../../shared/core/config.ts';
import type { BatchPorts } from '../../shared/consumer/consume-batch.ts';
import { createBatchPorts } from '../../shared/lambda/consumer-runtime.ts';
import type { Sql } from '../../shared/postgres/db.ts';
import { queueArnOf, sqsEventFromMessages, succeededMessages } from '../../shared/local/lambda-event.ts';
import { manifestOf } from './manifests.ts';

const gzipAsync = promisify(gzip);
const REGION = 'us-east-1';
export const STAGING_BUCKET = 'landfall-staging';

export type Handler = (event: SQSEvent, context: never) => Promise<SQSBatchResponse>;

export interface BatchEmulator {
  s3: S3Client;
  sqs: SQSClient;
  queues: { batches: string; dlq: string; parking: string };
  ports(config: LandfallConfig, sql: Sql): BatchPorts;
  /** Writes the batch object and its file manifest to staging and sends the batch message. */
  stage(batch: BatchData, options?: { batchCount?: number }): Promise<BatchMessage>;
  /**
   * One poll of Lambda's event source: receives up to 10 messages, calls the handler with the
   * event built from them, deletes those it did not report as failed. `crash` skips the delete
   * (the function died after its work, before Lambda could acknowledge). A handler that
   * throws fails every record of the event (`thrown` is its error), as in Lambda.
   */
  deliver(
    queueUrl: string,
    handler: Handler,
    options?: { crash?: boolean; atLeast?: number; arrange?: (received: Message[]) => Message[] },
  ): Promise<{ received: Message[]; response: SQSBatchResponse | null; thrown?: unknown }>;
  /** Visible plus in-flight messages. */
  depth(queueUrl: string): Promise<number>;
}

/** fauxqs in-process with the staging bucket and the batches FIFO queue → DLQ → parking chain. */
export async function startBatchEmulator(options: { maxReceiveCount?: number } = {}): Promise<BatchEmulator> {
  const server = await startFauxqs({ port: 0, logger: false });
  afterAll(() => server.stop());
  const endpoint = `http://127.0.0.1:${server.port}`;
  const clientOptions = { endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
  const s3 = createS3Client(clientOptions);
  const sqs = createSqsClient(clientOptions);
  server.createBucket(STAGING_BUCKET);
  const fifo = (name: string, deadLetter?: string) =>
    server.createQueue(name, {
      attributes: {
        FifoQueue: 'true',
        ContentBasedDeduplication: 'false',
        VisibilityTimeout: '1',
        ...(deadLetter
          ? { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: queueArnOf(deadLetter, REGION), maxReceiveCount: options.maxReceiveCount ?? 3 }) }
          : {}),
      },
    }).queueUrl;
  const parking = fifo('landfall-parking.fifo');
  const dlq = fifo('landfall-batches-dlq.fifo', parking);
  const batches = fifo('landfall-batches.fifo', dlq);

  const put = async (key: string, body: Uint8Array | string) => {
    await s3.send(new PutObjectCommand({ Bucket: STAGING_BUCKET, Key: key, Body: body }));
  };

  return {
    s3,
    sqs,
    queues: { batches, dlq, parking },
    ports: (config, sql) => createBatchPorts({ config, sql, s3, sqs, stagingBucket: STAGING_BUCKET, dlqUrl: dlq, tagApplied: false }),
    async stage(batch, { batchCount = 1 } = {}) {
      const stagingKey = `batches/${batch.table}/${batch.fileId}/${batch.partition}-${batch.chunk}.json.gz`;
      const manifestKey = `manifests/${batch.table}/${batch.fileId}.json`;
      await put(stagingKey, await gzipAsync(JSON.stringify(batch)));
      const manifest = manifestOf(batch, { batchCount });
      await put(manifestKey, JSON.stringify(manifest));
      const message = batchMessageOf(batch, { stagingKey, manifestKey, batchCount });
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: batches,
          MessageBody: JSON.stringify(message),
          MessageGroupId: messageGroupOf(batch.table, batch.partition),
          MessageDeduplicationId: batch.batchId,
        }),
      );
      return message;
    },
    async deliver(queueUrl, handler, { crash = false, atLeast = 1, arrange } = {}) {
      // Lambda's poller may put messages of several groups into one event; `atLeast` gathers
      // that many (from several receives) so a test can rely on it.
      const Messages: Message[] = [];
      for (let tries = 0; tries < 20 && Messages.length < atLeast; tries++) {
        const received = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 - Messages.length, MessageSystemAttributeNames: ['All'], WaitTimeSeconds: 0 }),
        );
        Messages.push(...(received.Messages ?? []));
        if (!received.Messages?.length) break;
      }
      if (Messages.length === 0) return { received: [], response: null };
      const inEvent = arrange ? arrange(Messages) : Messages;
      let thrown: unknown;
      let response: SQSBatchResponse | void;
      try {
        response = await handler(sqsEventFromMessages(inEvent, queueArnOf(queueUrl, REGION), REGION), {} as never);
      } catch (error) {
        // Lambda's semantics: a thrown invocation fails every record of its event.
        thrown = error;
        response = { batchItemFailures: inEvent.map((m) => ({ itemIdentifier: m.MessageId! })) };
      }
      if (!crash) {
        for (const m of succeededMessages(Messages, response)) {
          await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
        }
      }
      return { received: Messages, response: response ?? null, ...(thrown === undefined ? {} : { thrown }) };
    },
    async depth(queueUrl) {
      const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
    },
  };
}

/** Waits until `check` is true (the queue's visibility timeout is 1 s). */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
