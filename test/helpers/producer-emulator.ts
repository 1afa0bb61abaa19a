import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { afterAll } from 'vitest';
import { createS3Client, createSqsClient } from '../../shared/aws/clients.ts';
import { producerDepsFromClients } from '../../shared/aws/producer-deps.ts';
import { catalogSnapshotKeyOf, type CatalogSnapshot } from '../../shared/core/catalog-snapshot.ts';
import type { LandfallConfig } from '../../shared/core/config.ts';
import type { ProducerDeps } from '../../shared/producer/produce-file.ts';
import { s3EventRecordFactory } from './s3-event.ts';

export const INBOX = 'landfall-inbox';
export const STAGING = 'landfall-staging';
export const BATCHES_QUEUE = 'landfall-batches.fifo';

export interface ProducerEmulator {
  server: FauxqsServer;
  endpoint: string;
  s3: S3Client;
  sqs: SQSClient;
  batchesQueueUrl: string;
  deps(config: LandfallConfig): ProducerDeps;
  /** Puts an object in the inbox; returns the S3 notification record S3 would send for it. */
  drop(key: string, body: string | Uint8Array, eventTime?: string): Promise<ReturnType<typeof s3EventRecordFactory>>;
  getBytes(bucket: string, key: string): Promise<Buffer>;
  /** Keys under a prefix, sorted. */
  list(bucket: string, prefix?: string): Promise<string[]>;
  /**
   * The FIFO queue's ready messages in send order (non-destructive); without the notice the
   * producer sends when it picks a file up, unless `withOpening` (a test of it asks for it).
   */
  messages(options?: { withOpening?: boolean }): { groupId: string; dedupId: string; body: string; sequence: string }[];
  /** Empties buckets and queues between tests. */
  reset(): void;
  /** Writes a table's catalog snapshot to staging, as the consumer would. */
  publishSnapshot(snapshot: CatalogSnapshot): Promise<void>;
}

/** An in-process fauxqs with the inbox, staging bucket and batches FIFO queue; stopped after the file. */
export async function startProducerEmulator(): Promise<ProducerEmulator> {
  const server = await startFauxqs({ port: 0, logger: false });
  afterAll(() => server.stop());
  const endpoint = `http://127.0.0.1:${server.port}`;
  server.createBucket(INBOX);
  server.createBucket(STAGING);
  const { queueUrl } = server.createQueue(BATCHES_QUEUE, { attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' } });
  const clientOptions = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
  const s3 = createS3Client(clientOptions);
  const sqs = createSqsClient(clientOptions);
  const getBytes = async (bucket: string, key: string) => {
    const result = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await result.Body!.transformToByteArray());
  };
  return {
    server,
    endpoint,
    s3,
    sqs,
    batchesQueueUrl: queueUrl,
    deps: (config) =>
      producerDepsFromClients({ config, s3, sqs, stagingBucket: STAGING, batchesQueueUrl: queueUrl, sender: { baseDelayMs: 1 } }),
    async drop(key, body, eventTime) {
      const put = await s3.send(new PutObjectCommand({ Bucket: INBOX, Key: key, Body: body }));
      return s3EventRecordFactory({
        bucket: INBOX,
        encodedKey: encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/'),
        eTag: put.ETag!.replace(/"/g, ''),
        size: typeof body === 'string' ? Buffer.byteLength(body) : body.length,
        ...(eventTime ? { eventTime } : {}),
      });
    },
    getBytes,
    async list(bucket, prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of page.Contents ?? []) keys.push(o.Key!);
        token = page.NextContinuationToken;
      } while (token);
      return keys.sort();
    },
    messages(options = {}) {
      const queue = server.inspectQueue(BATCHES_QUEUE);
      const all = (queue?.messages.ready ?? []).map((m) => ({
        groupId: m.messageGroupId ?? '',
        dedupId: m.messageDeduplicationId ?? '',
        body: m.body,
        sequence: m.sequenceNumber ?? '',
      }));
      return options.withOpening ? all : all.filter((m) => !m.dedupId.startsWith('opened-'));
    },
    reset() {
      server.reset();
    },
    async publishSnapshot(snapshot) {
      await s3.send(new PutObjectCommand({ Bucket: STAGING, Key: catalogSnapshotKeyOf(snapshot.table), Body: JSON.stringify(snapshot) }));
    },
  };
}
