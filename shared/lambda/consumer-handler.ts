import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { coldStart } from './cold-start.ts';
import { parseQueueMessage } from '../core/batch-message.ts';
import { consumeBatch, prepareConfiguredTables, registerNotice, type TablePreparation } from '../consumer/consume-batch.ts';
import { isPrepareTablesEvent, type PrepareTablesEvent } from '../core/deploy-event.ts';
import { type BatchHandlerOptions, createFunctionMetrics, failureFields, recordOutcome, removalFields } from './observability.ts';
import { fifoQueueHandler, type RecordInvocation } from './fifo-handler.ts';
import { MetricContract } from '../core/resources.ts';
import { RetryPolicy } from '../core/retry-policy.ts';

/**
 * The consumer Lambda on the batches FIFO queue: Powertools' FIFO partial processor with
 * skipGroupOnError, so a failed batch fails only the later messages of its own group and the
 * other groups go on; poison batches are routed to the DLQ by `consumeBatch` and acknowledged.
 * Transient failures are retried in the invocation, then after a short backoff; records the
 * invocation's time would not cover are deferred; each transaction ends before the deadline
 * (fifo-handler.ts, shared/core/retry-policy.ts).
 */
export function createConsumerHandler(options: BatchHandlerOptions) {
  const logger = options.logger ?? new Logger({ serviceName: MetricContract.serviceNames.consumer });
  const metrics = options.metrics ?? createFunctionMetrics('consumer');
  const known = new Set<string>();
  const portsOnce = coldStart(logger, options.ports);

  const processRecord = async (record: SQSRecord, invocation: RecordInvocation) => {
    const ports = await portsOnce();
    const message = parseQueueMessage(record.body);
    if ('kind' in message) {
      await registerNotice(ports, message);
      logger.info('file without batches registered', { fileId: message.fileId, table: message.table });
      return;
    }
    const attempt = Number(record.attributes.ApproximateReceiveCount ?? 1);
    const ids = { batchId: message.batchId, fileId: message.fileId, table: message.table, partition: message.partition, attempt, inProcessAttempt: invocation.attempt };
    try {
      const outcome = await consumeBatch(ports, message, attempt, known, invocation);
      recordOutcome(metrics, message.table, outcome);
      if (outcome.outcome === 'poisoned') logger.warn('batch failed on its data; sent to replay', { ...ids, sqlstate: outcome.sqlstate });
      else logger.info(`batch ${outcome.outcome}`, { ...ids, counts: outcome.counts });
      if (outcome.outcome !== 'poisoned' && outcome.removal) logger.info('snapshot removal', { ...ids, ...removalFields(outcome.removal) });
    } catch (error) {
      // The message (not the row values) of the driver error. A transient one is retried in this
      // invocation while its time allows, then by SQS after a short backoff (fifo-handler.ts).
      logger.error('batch failed; it will be retried', { ...ids, ...failureFields(error) });
      throw error;
    }
  };

  const onQueue = fifoQueueHandler(logger, metrics, processRecord, {
    schedule: RetryPolicy.visibility.batches,
    ...(options.visibility ? { visibility: options.visibility } : {}),
  });
  // The stack's deploy step: every table's catalog snapshot written (or the table recorded as
  // blocked) before the first file. Answers, never throws: a deploy must not fail on a table
  // that does not exist yet or a role `landfall grant-role` has not created yet.
  const onDeploy = async (context: Context): Promise<{ tables: TablePreparation[] } | { error: string }> => {
    logger.addContext(context);
    let tables: TablePreparation[];
    try {
      tables = await prepareConfiguredTables(await portsOnce());
    } catch (error) {
      logger.warn('deploy step: the database cannot be reached yet; the first batch reads the catalogs', { error: (error as Error).message });
      return { error: (error as Error).message };
    }
    for (const t of tables) {
      if (t.ready) logger.info('deploy step: catalog snapshot written', { table: t.table });
      else if (t.blocked) logger.warn('deploy step: table refused, recorded as blocked', { table: t.table, code: t.blocked.code, reason: t.blocked.reason, fix: t.blocked.fix });
      else logger.warn('deploy step: table not prepared', { table: t.table, error: t.error });
    }
    return { tables };
  };
  return (event: SQSEvent | typeof PrepareTablesEvent, context: Context): Promise<SQSBatchResponse | Awaited<ReturnType<typeof onDeploy>>> =>
    isPrepareTablesEvent(event) ? onDeploy(context) : onQueue(event, context);
}
