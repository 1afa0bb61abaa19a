import { FullBatchFailureError, processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { ChangeVisibility } from '../aws/sqs-visibility.ts';
import { classifyFailure, classifyPgError, ErrorClass } from '../core/classify-pg-error.ts';
import { MetricContract } from '../core/resources.ts';
import {
  type BackoffSchedule,
  type Deadline,
  inProcessPauseMs,
  mayRetryInProcess,
  mayStartRecord,
  orderByReceiveCount,
  RecordFailure,
  RetryPolicy,
  visibilityChanges,
} from '../core/retry-policy.ts';
import { failureFields } from './observability.ts';

/** What a record handler gets besides the record: the invocation's deadline and which attempt this is. */
export interface RecordInvocation extends Deadline {
  /** 1 for the first attempt in this invocation, then 2, 3 … for in-process retries. */
  attempt: number;
}

export interface FifoHandlerOptions {
  /**
   * Changes the visibility of this function's own queue's messages, so a failed record comes back
   * after a short backoff instead of the queue's visibility timeout. Created on first use; absent
   * (or failing), records come back after the queue's visibility timeout.
   */
  visibility?: () => ChangeVisibility | Promise<ChangeVisibility>;
  /** The backoff of this function's queue (RetryPolicy.visibility); the batches queue's by default. */
  schedule?: BackoffSchedule;
  /** Jitter source, [0, 1) (tests fix it). */
  random?: () => number;
}

/** A record not started because the invocation's time would not cover it; it comes again (not a failure). */
export class RecordDeferredError extends Error {
  override name = 'RecordDeferredError';
  readonly remainingMs: number;
  constructor(remainingMs: number) {
    super(`not started: ${Math.round(remainingMs)} ms left would not cover the record; it comes again`);
    this.remainingMs = remainingMs;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A Lambda handler over a FIFO queue: Powertools' FIFO partial processor with skipGroupOnError
 * (a failed record fails only the later records of its own message group; other groups go on),
 * partial failures reported as batchItemFailures, metrics flushed after every invocation. Around
 * each record, the retry and deadline rules of shared/core/retry-policy.ts:
 *
 * - a record is started only when the invocation's remaining time covers it (the longest recent
 *   record of this container, after a reserve); otherwise it is deferred (`recordsDeferred`);
 * - a transient failure (classifyPgError) is retried in the invocation after a short pause while
 *   the time allows (`recordsRetried`); a record that still fails counts one `recordsFailed`;
 * - after the records, each failed one is made visible again (ChangeMessageVisibility on the
 *   function's own queue): a transient failure after a backoff by its receive count (the
 *   queue's schedule: 1, 3, 9 … s for the consumer), a deferred record at once, the records skipped behind a failure with their group's
 *   first; other failures (config, bug) keep the queue's visibility timeout.
 *
 * Groups are taken most-received first, so the record nearest the dead-letter queue gets the
 * invocation's time. When every record failed (none deferred) the invocation throws, as
 * Powertools does by default, so Lambda's Errors metric sees it too; the visibilities are set
 * first, since for SQS a thrown invocation and one that reports every record back end the same.
 */
export function fifoQueueHandler(
  logger: Logger,
  metrics: Metrics,
  processRecord: (record: SQSRecord, invocation: RecordInvocation) => Promise<void>,
  options: FifoHandlerOptions = {},
) {
  const random = options.random ?? Math.random;
  // The durations of the last records this container did: the estimate of the next one.
  const recent: number[] = [];
  const expectedMs = () => (recent.length > 0 ? Math.max(...recent) : null);
  const remember = (ms: number) => {
    recent.push(ms);
    if (recent.length > RetryPolicy.estimateWindow) recent.shift();
  };
  let visibility: Promise<ChangeVisibility> | undefined;
  const visibilityOnce = () => {
    if (!options.visibility) return null;
    const attempt = (visibility ??= (async () => options.visibility!())());
    // A failed set-up is not kept: the next invocation tries again.
    attempt.catch(() => {
      if (visibility === attempt) visibility = undefined;
    });
    return attempt;
  };

  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    logger.addContext(context);
    // Lambda's context counts down; a caller without one (a test) has no deadline.
    const remainingMs = () => (typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : Number.POSITIVE_INFINITY);
    const failures = new Map<string, RecordFailure>();
    let started = 0;

    const handleRecord = async (record: SQSRecord) => {
      const left = remainingMs();
      if (!mayStartRecord({ remainingMs: left, startedBefore: started, expectedMs: expectedMs() })) {
        failures.set(record.messageId, RecordFailure.deferred);
        metrics.addMetric(MetricContract.deferredRecords, MetricUnit.Count, 1);
        throw new RecordDeferredError(left);
      }
      started++;
      for (let attempt = 1; ; attempt++) {
        const began = Date.now();
        try {
          await processRecord(record, { attempt, remainingMs });
          remember(Date.now() - began);
          return;
        } catch (error) {
          const transient = classifyPgError(error) === ErrorClass.transient;
          const pauseMs = inProcessPauseMs(attempt, random());
          // A login refused after a secret rotation (28P01, 28000): the next login reads the
          // secret again, so one more attempt tells; more would only read a wrong secret again.
          const attempts = classifyFailure(error).rule.rereadsSecret ? RetryPolicy.inProcess.secretRereadAttempts : RetryPolicy.inProcess.maxAttempts;
          if (transient && attempt < attempts && mayRetryInProcess(remainingMs(), pauseMs, expectedMs())) {
            metrics.addMetric(MetricContract.retriedRecords, MetricUnit.Count, 1);
            logger.warn('record failed on a transient error; retrying it in this invocation', { messageId: record.messageId, attempt, pauseMs, ...failureFields(error) });
            await sleep(pauseMs);
            continue;
          }
          failures.set(record.messageId, transient ? RecordFailure.transient : RecordFailure.other);
          metrics.addMetric(MetricContract.failedRecords, MetricUnit.Count, 1);
          throw error;
        }
      }
    };

    try {
      const records = orderByReceiveCount(event.Records);
      const processor = new SqsFifoPartialProcessorAsync();
      const response = (await processPartialResponse({ ...event, Records: records }, handleRecord, processor, {
        context,
        skipGroupOnError: true,
        throwOnFullBatchFailure: false,
      })) as SQSBatchResponse;
      await comeBack(records, response, failures);
      const deferred = [...failures.values()].includes(RecordFailure.deferred);
      if (records.length > 0 && response.batchItemFailures.length === records.length && !deferred) throw new FullBatchFailureError(processor.errors);
      return response;
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };

  /** Makes the failed records visible again as the retry policy says (best effort: else the queue's timeout). */
  async function comeBack(records: readonly SQSRecord[], response: SQSBatchResponse, failures: ReadonlyMap<string, RecordFailure>) {
    const failedIds = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    if (failedIds.size === 0) return;
    const changes = visibilityChanges(records, failedIds, failures, random, options.schedule);
    const change = visibilityOnce();
    if (changes.length === 0 || !change) return;
    const receipts = new Map(records.map((r) => [r.messageId, r.receiptHandle]));
    try {
      const result = await (await change)(changes.map((c) => ({ receiptHandle: receipts.get(c.messageId)!, seconds: c.seconds })));
      logger.info('failed records come back', { records: changes.map((c) => ({ messageId: c.messageId, inSeconds: c.seconds, why: failures.get(c.messageId) ?? 'skipped behind its group' })) });
      if (result.failed.length > 0) logger.warn('SQS refused some visibility changes; those records come back after the queue\'s visibility timeout', { failed: result.failed.map((f) => f.reason) });
    } catch (error) {
      logger.warn('could not change the visibility of failed records; they come back after the queue\'s visibility timeout', { error: (error as Error).message, errorName: (error as Error).name });
    }
  }
}
