import { GetObjectCommand, PutObjectCommand, PutObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { BatchData } from '../core/batch.ts';
import { catalogSnapshotKeyOf, type CatalogSnapshot } from '../core/catalog-snapshot.ts';
import { type FileManifest, messageGroupOf } from '../core/batch-message.ts';
import { StagingLayout } from '../core/resources.ts';
import { type PoisonEnvelope, poisonDeduplicationId } from '../core/dlq-envelope.ts';
import { decodeBatch } from '../producer/batch-object.ts';

async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const result = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!result.Body) throw new Error(`s3://${bucket}/${key} has no body`);
  return Buffer.from(await result.Body.transformToByteArray());
}

/** Reads batch objects (zstd or, from earlier versions, gzip JSON) and manifests from the staging bucket. */
export function stagingReader(s3: S3Client, bucket: string) {
  return {
    async readBatch(key: string): Promise<BatchData> {
      return decodeBatch(await getBytes(s3, bucket, key), `s3://${bucket}/${key}`);
    },
    async readManifest(key: string): Promise<FileManifest> {
      const text = (await getBytes(s3, bucket, key)).toString('utf8');
      try {
        return JSON.parse(text) as FileManifest;
      } catch (error) {
        throw new Error(`s3://${bucket}/${key}: not a manifest (${text.slice(0, 200)})`, { cause: error });
      }
    },
    /** Tags an applied batch object so the staging lifecycle expires it early (best effort). */
    async tagApplied(key: string): Promise<void> {
      try {
        await s3.send(
          new PutObjectTaggingCommand({ Bucket: bucket, Key: key, Tagging: { TagSet: [{ Key: StagingLayout.appliedTag.key, Value: StagingLayout.appliedTag.value }] } }),
        );
      } catch {
        // Untagged objects still expire, later (StagingExpiration.unappliedBatchDays).
      }
    },
  };
}

/** Writes a table's catalog snapshot to staging, for the producer (which never reaches the database). */
export function catalogPublisher(s3: S3Client, bucket: string) {
  return async (snapshot: CatalogSnapshot): Promise<void> => {
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: catalogSnapshotKeyOf(snapshot.table), Body: JSON.stringify(snapshot), ContentType: 'application/json' }),
    );
  };
}

/** Sends poison envelopes to the FIFO DLQ, in the batch's own message group, once per batch. */
export function dlqSender(sqs: SQSClient, queueUrl: string) {
  return async (envelope: PoisonEnvelope): Promise<void> => {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(envelope),
        MessageGroupId: messageGroupOf(envelope.batch.table, envelope.batch.partition),
        MessageDeduplicationId: poisonDeduplicationId(envelope.batch.batchId),
      }),
    );
  };
}
