import { ChangeMessageVisibilityBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** A received message to make visible again after `seconds` (0: at once). */
export interface ReceiptVisibility {
  receiptHandle: string;
  seconds: number;
}

/** What a visibility change did: the receipts SQS refused (an expired receipt handle, say) with its reason. */
export interface VisibilityResult {
  failed: { receiptHandle: string; reason: string }[];
}

/** Changes the visibility of received messages of one queue (the function's own event source). */
export type ChangeVisibility = (changes: readonly ReceiptVisibility[]) => Promise<VisibilityResult>;

/** The longest visibility SQS accepts (12 hours). */
const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * `ChangeMessageVisibilityBatch` on `queueUrl` (IAM action `sqs:ChangeMessageVisibility`, which
 * the stack grants each function on its own queue only), ten receipts a call. Entries SQS refuses
 * are returned, not thrown: such a message keeps the queue's visibility timeout, as before. A
 * failed call (throttling, a network error) throws.
 *
 * @example await sqsVisibility(sqs, queueUrl)([{ receiptHandle: record.receiptHandle, seconds: 3 }])
 */
export function sqsVisibility(sqs: SQSClient, queueUrl: string): ChangeVisibility {
  return async (changes) => {
    const failed: VisibilityResult['failed'] = [];
    for (let i = 0; i < changes.length; i += 10) {
      const chunk = changes.slice(i, i + 10);
      const { Failed = [] } = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((c, j) => ({
            Id: String(j),
            ReceiptHandle: c.receiptHandle,
            VisibilityTimeout: Math.min(MAX_VISIBILITY_SECONDS, Math.max(0, Math.round(c.seconds))),
          })),
        }),
      );
      for (const f of Failed) failed.push({ receiptHandle: chunk[Number(f.Id)]!.receiptHandle, reason: `${f.Code ?? 'error'}: ${f.Message ?? ''}`.trim() });
    }
    return { failed };
  };
}
