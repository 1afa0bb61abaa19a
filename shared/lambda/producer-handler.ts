import { availableParallelism } from 'node:os';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { countingFailures, createFunctionMetrics } from './observability.ts';
import { coldStart } from './cold-start.ts';
import { processIntakeMessage } from '../producer/intake.ts';
import type { ProducerDeps } from '../producer/produce-file.ts';
import { producerWorkerCount, sharedBlockWorkers } from '../producer/block-workers.ts';
import type { Invocation } from '../producer/ports.ts';
import { MetricContract } from '../core/resources.ts';

export interface ProducerHandlerOptions {
  /** Called once, on the first invocation: config and clients live as long as the container. */
  deps: () => ProducerDeps;
  logger?: Logger;
  metrics?: Metrics;
}

/**
 * The producer Lambda over the standard intake queue: each record is an S3 notification;
 * failed records are reported back (ReportBatchItemFailures) and come again.
 */
export function createProducerHandler(options: ProducerHandlerOptions) {
  const logger = options.logger ?? new Logger({ serviceName: MetricContract.serviceNames.producer });
  const metrics = options.metrics ?? createFunctionMetrics('producer');
  const processor = new BatchProcessor(EventType.SQS);
  // The function's memory (Lambda's context says it) sets its vCPUs, and so its block workers.
  let memoryMiB = 0;
  const depsOnce = coldStart(logger, () => {
    const deps = options.deps();
    const workers = sharedBlockWorkers(producerWorkerCount(memoryMiB, availableParallelism()));
    return { ...(workers ? { workers } : {}), ...deps, logger };
  });

  let invocation: Invocation = { remainingMs: () => Infinity };
  const processRecord = async (record: SQSRecord) => {
    const deps = await depsOnce();
    let outcomes: Awaited<ReturnType<typeof processIntakeMessage>>;
    try {
      outcomes = await processIntakeMessage(deps, record.body, invocation);
    } catch (error) {
      // One structured line per failed notification (the partial processor logs nothing); the
      // message of an S3/SQS error, never file contents.
      const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      logger.error('file failed; SQS will redeliver the notification', { messageId: record.messageId, error: e.message, errorName: e.name, httpStatus: e.$metadata?.httpStatusCode });
      throw error;
    }
    for (const outcome of outcomes) {
      if (outcome.status === 'produced') {
        const m = outcome.manifest;
        metrics.addMetric('filesProduced', MetricUnit.Count, 1);
        metrics.addMetric('rowsRead', MetricUnit.Count, m.read);
        metrics.addMetric('rowsRejected', MetricUnit.Count, m.rejected);
        metrics.addMetric('batches', MetricUnit.Count, m.batchCount);
      } else if (outcome.status === 'continued') {
        metrics.addMetric(MetricContract.filesContinued, MetricUnit.Count, 1);
      } else if (outcome.status === 'moved-aside') {
        metrics.addMetric(MetricContract.filesMovedAside, MetricUnit.Count, 1);
      } else if (outcome.status === 'gone') {
        logger.info('notified file version no longer exists', { fileId: outcome.fileId });
      }
    }
  };

  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    logger.addContext(context);
    // The deadline of this invocation: a large file stops at a segment's end before it.
    invocation = { remainingMs: () => context.getRemainingTimeInMillis() };
    memoryMiB = Number(context.memoryLimitInMB) || 0;
    try {
      return await processPartialResponse(event, countingFailures(metrics, processRecord), processor, { context });
    } finally {
      // Nothing stored (a failed record): publishing would print a plain-text warning, not JSON.
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}
