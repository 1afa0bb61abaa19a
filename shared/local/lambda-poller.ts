import { randomUUID } from 'node:crypto';
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { Consumer } from 'sqs-consumer';
import { queueArnOf, sqsEventFromMessages, succeededMessages } from './lambda-event.ts';

/** Long-poll wait of each receive: short, so that stopping waits little. */
const WAIT_TIME_SECONDS = 1;

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface PollerOptions {
  name: string;
  sqs: SQSClient;
  queueUrl: string;
  region: string;
  handler: SqsHandler;
  /** Lambda's event source batch size. */
  batchSize: number;
  /** Parallel invocations (Lambda's concurrency for the event source). */
  concurrency: number;
  onError?: (name: string, error: unknown) => void;
  /**
   * The function's timeout: each invocation's context counts down from it, as Lambda's does. Not
   * enforced (an invocation in this process cannot be killed, and a test forces a producer's
   * continuation with a 1 ms timeout): one still running when it passes is reported to
   * `onOverrun` (then), since Lambda would have ended it and its records would come again after
   * the visibility timeout.
   */
  timeoutMs?: number;
  onOverrun?: (name: string, elapsedMs: number, timeoutMs: number) => void;
  /** The function's memory, as its context tells it (the producer runs block workers by it). */
  memoryMiB?: number;
  /** Called after every invocation (progress displays). */
  onInvoke?: (name: string, messages: number, failed: number) => void;
}

/**
 * The context Lambda hands a function, as far as Landfall reads it: the deadline
 * (`getRemainingTimeInMillis`) and the names Powertools' logger adds to each line.
 */
export function lambdaContextOf(name: string, timeoutMs = Infinity, memoryMiB = 1024): Context {
  const deadline = Date.now() + timeoutMs;
  const fail = () => {
    throw new Error('not available locally');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `landfall-local-${name}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:landfall-local-${name}`,
    memoryLimitInMB: String(memoryMiB),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/landfall-local-${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: fail,
    fail,
    succeed: fail,
  };
}

export interface Poller {
  stop(): Promise<void>;
  /** Invocations in flight right now. */
  busy(): number;
}

/**
 * Lambda's SQS event source, locally: sqs-consumer polls the queue, each batch becomes the same
 * SQSEvent Lambda would build, and only the records the handler did not report in
 * batchItemFailures are deleted. The poller changes no visibility: failed records stay invisible
 * until the queue's visibility timeout, or until the visibility the handler itself gave them
 * (the consumer and replay do, fifo-handler.ts), and come again; the queue's redrive policy
 * moves them after maxReceiveCount, exactly as in AWS. FIFO queues hand out one group's
 * messages to one poller at a time.
 */
export function startLambdaPoller(options: PollerOptions): Poller {
  const arn = queueArnOf(options.queueUrl, options.region);
  let inFlight = 0;
  const consumers = Array.from({ length: options.concurrency }, () =>
    Consumer.create({
      queueUrl: options.queueUrl,
      sqs: options.sqs,
      batchSize: options.batchSize,
      waitTimeSeconds: WAIT_TIME_SECONDS,
      pollingWaitTimeMs: 50,
      // Stopping waits for the long poll in flight and handles what it brings (see stop()).
      pollingCompleteWaitTimeMs: (WAIT_TIME_SECONDS + 2) * 1000,
      messageSystemAttributeNames: ['All'],
      suppressFifoWarning: true,
      handleMessageBatch: async (messages: Message[]) => {
        inFlight++;
        const started = Date.now();
        // Told when the timeout passes, not when the invocation ends: a hung one never ends.
        const overrun =
          options.timeoutMs !== undefined && Number.isFinite(options.timeoutMs) && options.onOverrun
            ? setTimeout(() => options.onOverrun?.(options.name, Date.now() - started, options.timeoutMs!), options.timeoutMs)
            : undefined;
        overrun?.unref();
        try {
          const response = await options.handler(sqsEventFromMessages(messages, arn, options.region), lambdaContextOf(options.name, options.timeoutMs, options.memoryMiB));
          const succeeded = succeededMessages(messages, response);
          options.onInvoke?.(options.name, messages.length, messages.length - succeeded.length);
          return succeeded;
        } catch (error) {
          // A thrown handler is a failed invocation: every record comes again.
          options.onError?.(options.name, error);
          options.onInvoke?.(options.name, messages.length, messages.length);
          return [];
        } finally {
          inFlight--;
          clearTimeout(overrun);
        }
      },
    }),
  );
  for (const consumer of consumers) {
    consumer.on('error', (error) => options.onError?.(options.name, error));
    consumer.on('processing_error', (error) => options.onError?.(options.name, error));
    consumer.start();
  }
  return {
    busy: () => inFlight,
    async stop() {
      await Promise.all(
        consumers.map(
          (consumer) =>
            new Promise<void>((resolve) => {
              if (!consumer.status.isRunning) return resolve();
              consumer.once('stopped', () => resolve());
              // Not aborted: the emulator would still hand the long poll a message that arrives
              // within its wait, to nobody, and keep it invisible for the queue's visibility
              // timeout (the intake's: 90 minutes). The next stack on the same emulator (another
              // `landfall run`, a test) would wait for that message's file for good.
              consumer.stop();
            }),
        ),
      );
      while (inFlight > 0) await new Promise((r) => setTimeout(r, 20));
    },
  };
}
