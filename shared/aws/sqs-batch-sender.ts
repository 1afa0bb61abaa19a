import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { BatchSender, OutgoingBatch } from '../producer/ports.ts';

export class BatchSendError extends Error {
  override name = 'BatchSendError';
  /** Dedup ids of the messages that could not be sent, with SQS's codes. */
  readonly failures: { deduplicationId: string; code: string }[];
  constructor(message: string, failures: { deduplicationId: string; code: string }[], options?: ErrorOptions) {
    super(message, options);
    this.failures = failures;
  }
}

export interface SenderOptions {
  /** Attempts per message before giving up (the SDK already retries whole calls). */
  maxAttempts?: number;
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const MAX_ENTRIES = 10;

/**
 * Sends batch messages to a FIFO queue with SendMessageBatch, 10 at a time, retrying the
 * entries that failed. One call carries at most one message per group, and a group's next
 * message goes only after its previous one was accepted: a partial failure can never put a
 * later chunk of a partition ahead of an earlier one.
 */
export function sqsBatchSender(sqs: SQSClient, queueUrl: string, options: SenderOptions = {}): BatchSender {
  const maxAttempts = options.maxAttempts ?? 8;
  const baseDelayMs = options.baseDelayMs ?? 100;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return {
    async send(messages: readonly OutgoingBatch[]) {
      const groups = new Map<string, OutgoingBatch[]>();
      for (const message of messages) {
        const group = groups.get(message.groupId);
        if (group) group.push(message);
        else groups.set(message.groupId, [message]);
      }
      const attempts = new Map<string, number>();
      while (groups.size > 0) {
        let failed: { deduplicationId: string; code: string }[] = [];
        const ready = [...groups.keys()];
        for (let i = 0; i < ready.length; i += MAX_ENTRIES) {
          const heads = ready.slice(i, i + MAX_ENTRIES).map((g) => groups.get(g)![0]!);
          const result = await sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: heads.map((m, n) => ({
                Id: String(n),
                MessageBody: JSON.stringify(m.body),
                MessageGroupId: m.groupId,
                MessageDeduplicationId: m.deduplicationId,
              })),
            }),
          );
          const failedIds = new Map((result.Failed ?? []).map((f) => [f.Id, f]));
          heads.forEach((m, n) => {
            const failure = failedIds.get(String(n));
            if (!failure) {
              const rest = groups.get(m.groupId)!;
              rest.shift();
              if (rest.length === 0) groups.delete(m.groupId);
              return;
            }
            const count = (attempts.get(m.deduplicationId) ?? 0) + 1;
            attempts.set(m.deduplicationId, count);
            const code = `${failure.Code ?? 'unknown'}${failure.SenderFault ? ' (sender fault)' : ''}: ${failure.Message ?? ''}`;
            if (count >= maxAttempts) {
              throw new BatchSendError(`could not send batch ${m.deduplicationId} after ${count} attempts: ${code}`, [
                { deduplicationId: m.deduplicationId, code },
              ]);
            }
            failed.push({ deduplicationId: m.deduplicationId, code });
          });
        }
        if (failed.length > 0) {
          const worst = Math.max(...failed.map((f) => attempts.get(f.deduplicationId) ?? 1));
          await sleep(baseDelayMs * 2 ** (worst - 1));
          failed = [];
        }
      }
    },
  };
}
