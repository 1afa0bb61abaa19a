import type { Message } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/** The ARN of a queue from its URL (`http://host/<account>/<name>`), as Lambda puts it on records. */
export function queueArnOf(queueUrl: string, region: string): string {
  const parts = new URL(queueUrl).pathname.split('/').filter(Boolean);
  const name = parts.at(-1) ?? 'queue';
  const account = parts.length > 1 ? parts.at(-2)! : '000000000000';
  return `arn:aws:sqs:${region}:${account}:${name}`;
}

/**
 * The event Lambda's SQS event source would hand a function for these received messages
 * (received with `MessageSystemAttributeNames: ['All']`), so local runs and tests call the
 * handlers with the exact shape they get in AWS.
 */
export function sqsEventFromMessages(messages: readonly Message[], queueArn: string, region: string): SQSEvent {
  return {
    Records: messages.map(
      (m): SQSRecord => ({
        messageId: m.MessageId!,
        receiptHandle: m.ReceiptHandle!,
        body: m.Body ?? '',
        attributes: {
          ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
          SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
          SenderId: m.Attributes?.SenderId ?? 'local',
          ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
          ...(m.Attributes?.MessageGroupId ? { MessageGroupId: m.Attributes.MessageGroupId } : {}),
          ...(m.Attributes?.MessageDeduplicationId ? { MessageDeduplicationId: m.Attributes.MessageDeduplicationId } : {}),
          ...(m.Attributes?.SequenceNumber ? { SequenceNumber: m.Attributes.SequenceNumber } : {}),
        },
        messageAttributes: {},
        md5OfBody: m.MD5OfBody ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: queueArn,
        awsRegion: region,
      }),
    ),
  };
}

/** The messages Lambda would delete after the function returned `response` (ReportBatchItemFailures). */
export function succeededMessages<T extends Message>(messages: readonly T[], response: SQSBatchResponse | void): T[] {
  const failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
  return messages.filter((m) => !failed.has(m.MessageId!));
}
