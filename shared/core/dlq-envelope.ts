import { z } from 'zod';
import { type BatchMessage, type FileNotice, parseBatchMessage, parseQueueMessage } from './batch-message.ts';

/**
 * What the consumer puts on the FIFO DLQ for a batch that failed on its data: the batch's
 * message and what PostgreSQL said (never row values). The DLQ also receives plain batch
 * messages that SQS moved there after maxReceiveCount transient failures.
 */
export interface PoisonEnvelope {
  format: 1;
  kind: 'poison';
  batch: BatchMessage;
  sqlstate: string | null;
  constraint: string | null;
  message: string;
  /** How many times the consumer had received the batch when it gave up on it. */
  attempt: number;
  failedAt: string;
}

const envelopeSchema = z.object({
  format: z.literal(1),
  kind: z.literal('poison'),
  batch: z.unknown(),
  sqlstate: z.string().nullable(),
  constraint: z.string().nullable(),
  message: z.string(),
  attempt: z.number().int().min(1),
  failedAt: z.string(),
});

/** A DLQ record: the consumer's envelope, or a batch message SQS redrove after transient failures. */
export type DlqRecord =
  | { kind: 'poison'; envelope: PoisonEnvelope; batch: BatchMessage }
  | { kind: 'redriven'; batch: BatchMessage }
  | { kind: 'notice'; notice: FileNotice };

export function parseDlqRecord(body: string): DlqRecord {
  const json: unknown = JSON.parse(body);
  if (json && typeof json === 'object' && (json as { kind?: unknown }).kind === 'poison') {
    const envelope = envelopeSchema.parse(json);
    const batch = parseBatchMessage(JSON.stringify(envelope.batch));
    return { kind: 'poison', envelope: { ...envelope, batch }, batch };
  }
  const message = parseQueueMessage(body);
  return 'kind' in message ? { kind: 'notice', notice: message } : { kind: 'redriven', batch: message };
}

/** The envelope's deduplication id: one envelope per batch, however often the consumer fails on it. */
export function poisonDeduplicationId(batchId: string): string {
  return `${batchId}-poison`;
}
