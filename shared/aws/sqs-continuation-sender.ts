import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ContinuationSender } from '../producer/ports.ts';

/**
 * Sends continuations to the intake queue (standard), where the producer's event source picks
 * them up like any notification. A duplicate delivery is harmless: a continuation names a
 * progress object, and reading from it again cuts the same batches.
 */
export function sqsContinuationSender(sqs: SQSClient, intakeQueueUrl: string): ContinuationSender {
  return {
    async send(message) {
      await sqs.send(new SendMessageCommand({ QueueUrl: intakeQueueUrl, MessageBody: JSON.stringify(message) }));
    },
  };
}
