import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/**
 * A Lambda handler over a FIFO queue: Powertools' FIFO partial processor with skipGroupOnError
 * (a failed record fails only the later records of its own message group; other groups go on),
 * partial failures reported as batchItemFailures, metrics flushed after every invocation.
 */
export function fifoQueueHandler(logger: Logger, metrics: Metrics, processRecord: (record: SQSRecord) => Promise<void>) {
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    logger.addContext(context);
    try {
      return await processPartialResponse(event, processRecord, new SqsFifoPartialProcessorAsync(), {
        context,
        skipGroupOnError: true,
        throwOnFullBatchFailure: false,
      });
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}
