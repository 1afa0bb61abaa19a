import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { parseDlqRecord } from '../core/dlq-envelope.ts';

export interface ParkingCleanup {
  /** Batch ids whose parked messages were deleted (their batches are applied). */
  deleted: string[];
  /** Parked messages looked at and left in the queue (their batches are not applied, or unreadable). */
  kept: number;
}

/** How long a message looked at stays invisible to others while this runs. */
const LOOK_SECONDS = 30;

/**
 * Deletes the parking queue's messages of batches that are applied (`isApplied`, the ledger):
 * once `landfall replay` applied a parked batch, its message has nothing left to do, and kept it
 * would go on raising the parking alarms until SQS deletes it. Deleting a message whose batch is
 * applied loses nothing (rule 3: applying it again commits nothing). The others are made visible
 * again at once. A FIFO queue hands out one message per group at a time, so a parked batch behind
 * an unapplied one of its table and partition is reached when that one is replayed.
 */
export async function deleteAppliedParkedMessages(sqs: SQSClient, queueUrl: string, isApplied: (batchId: string) => Promise<boolean>): Promise<ParkingCleanup> {
  const deleted: string[] = [];
  const keep: string[] = [];
  const seen = new Set<string>();
  for (;;) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: LOOK_SECONDS, WaitTimeSeconds: 0 }));
    // Done when nothing is left to look at, or what comes is what this looked at already
    // (a queue so long that the first ones became visible again).
    const fresh = Messages.filter((m) => !seen.has(m.MessageId!));
    if (fresh.length === 0) {
      keep.push(...Messages.map((m) => m.ReceiptHandle!));
      break;
    }
    keep.push(...Messages.filter((m) => seen.has(m.MessageId!)).map((m) => m.ReceiptHandle!));
    for (const message of fresh) {
      seen.add(message.MessageId!);
      let batchId: string | undefined;
      try {
        const record = parseDlqRecord(message.Body ?? '');
        batchId = record.kind === 'notice' ? undefined : record.batch.batchId;
      } catch {
        batchId = undefined;
      }
      if (batchId && (await isApplied(batchId))) {
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }));
        deleted.push(batchId);
      } else {
        keep.push(message.ReceiptHandle!);
      }
    }
  }
  for (const handle of keep) {
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: handle, VisibilityTimeout: 0 })).catch(() => {});
  }
  return { deleted, kept: seen.size - deleted.length };
}
