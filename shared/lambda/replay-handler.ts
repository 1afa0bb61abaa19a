import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSRecord } from 'aws-lambda';
import { coldStart } from './cold-start.ts';
import { registerNotice, replayBatchMessage } from '../consumer/consume-batch.ts';
import { parseDlqRecord } from '../core/dlq-envelope.ts';
import { fifoQueueHandler, type RecordInvocation } from './fifo-handler.ts';
import { type BatchHandlerOptions, createFunctionMetrics, failureFields, recordOutcome, removalFields } from './observability.ts';
import { MetricContract } from '../core/resources.ts';
import { RetryPolicy } from '../core/retry-policy.ts';

/**
 * The replay Lambda on the FIFO DLQ: re-applies each batch in isolation (bad rows quarantined,
 * the rest applied). A transient failure is retried in the invocation, then after a backoff
 * sized to the DLQ's five receives (1, 4, 16, 30 min; fifo-handler.ts); after them SQS moves
 * it to the parking queue, where an alarm calls a person.
 */
export function createReplayHandler(options: BatchHandlerOptions) {
  const logger = options.logger ?? new Logger({ serviceName: MetricContract.serviceNames.replay });
  const metrics = options.metrics ?? createFunctionMetrics('replay');
  const known = new Set<string>();
  const portsOnce = coldStart(logger, options.ports);

  const processRecord = async (record: SQSRecord, invocation: RecordInvocation) => {
    const ports = await portsOnce();
    const dlq = parseDlqRecord(record.body);
    if (dlq.kind === 'notice') {
      // A file notice SQS redrove after the consumer failed on it (the database was away).
      await registerNotice(ports, dlq.notice);
      return;
    }
    const message = dlq.batch;
    const ids = { batchId: message.batchId, fileId: message.fileId, table: message.table, kind: dlq.kind, sqlstate: dlq.kind === 'poison' ? dlq.envelope.sqlstate : null };
    try {
      const outcome = await replayBatchMessage(ports, message, known, invocation);
      recordOutcome(metrics, message.table, outcome);
      logger.info(`batch ${outcome.outcome}`, { ...ids, ...('counts' in outcome ? { counts: outcome.counts } : {}) });
      if ('removal' in outcome && outcome.removal) logger.info('snapshot removal', { ...ids, ...removalFields(outcome.removal) });
    } catch (error) {
      logger.error('replay failed; it will be retried', { ...ids, inProcessAttempt: invocation.attempt, ...failureFields(error) });
      throw error;
    }
  };

  return fifoQueueHandler(logger, metrics, processRecord, {
    schedule: RetryPolicy.visibility.batchesDlq,
    ...(options.visibility ? { visibility: options.visibility } : {}),
  });
}
