import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { countingFailures } from './observability.ts';

/**
 * A Lambda handler over a FIFO queue: Powertools' FIFO partial processor with skipGroupOnError
 * (a failed record fails only the later records of its own message group; other groups go on),
 * partial failures reported as batchItemFailures, metrics flushed after every invocation.
 * Every failed record counts one `recordsFailed`; when every record failed (a cold start that
 * cannot reach the database, say) the invocation throws, as Powertools does by default, so
 * Lambda's Errors metric sees it too. For SQS a thrown invocation and one that reports every
 * record back end the same way: all of them come again after the visibility timeout.
 */
export function fifoQueueHandler(logger: Logger, metrics: Metrics, processRecord: (record: SQSRecord) => Promise<void>) {
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    logger.addContext(context);
    try {
      return await processPartialResponse(event, countingFailures(metrics, processRecord), new SqsFifoPartialProcessorAsync(), {
        context,
        skipGroupOnError: true,
      });
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}
