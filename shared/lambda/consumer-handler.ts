import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSRecord } from 'aws-lambda';
import { coldStart } from './cold-start.ts';
import { parseQueueMessage } from '../core/batch-message.ts';
import { consumeBatch, registerNotice } from '../consumer/consume-batch.ts';
import { type BatchHandlerOptions, createFunctionMetrics, failureFields, recordOutcome } from './observability.ts';
import { fifoQueueHandler } from './fifo-handler.ts';
import { MetricContract } from '../core/resources.ts';

/**
 * The consumer Lambda on the batches FIFO queue: Powertools' FIFO partial processor with
 * skipGroupOnError, so a failed batch fails only the later messages of its own group and the
 * other groups go on; poison batches are routed to the DLQ by `consumeBatch` and acknowledged.
 */
export function createConsumerHandler(options: BatchHandlerOptions) {
  const logger = options.logger ?? new Logger({ serviceName: MetricContract.serviceNames.consumer });
  const metrics = options.metrics ?? createFunctionMetrics('consumer');
  const known = new Set<string>();
  const portsOnce = coldStart(logger, options.ports);

  const processRecord = async (record: SQSRecord) => {
    const ports = await portsOnce();
    const message = parseQueueMessage(record.body);
    if ('kind' in message) {
      await registerNotice(ports, message);
      logger.info('file without batches registered', { fileId: message.fileId, table: message.table });
      return;
    }
    const attempt = Number(record.attributes.ApproximateReceiveCount ?? 1);
    const ids = { batchId: message.batchId, fileId: message.fileId, table: message.table, partition: message.partition, attempt };
    try {
      const outcome = await consumeBatch(ports, message, attempt, known);
      recordOutcome(metrics, message.table, outcome);
      if (outcome.outcome === 'poisoned') logger.warn('batch failed on its data; sent to replay', { ...ids, sqlstate: outcome.sqlstate });
      else logger.info(`batch ${outcome.outcome}`, { ...ids, counts: outcome.counts });
    } catch (error) {
      // The message (not the row values) of the driver error; SQS redelivers the record.
      logger.error('batch failed; SQS will redeliver it', { ...ids, ...failureFields(error) });
      throw error;
    }
  };

  return fifoQueueHandler(logger, metrics, processRecord);
}
