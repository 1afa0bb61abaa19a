import { randomUUID } from 'node:crypto';
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { queueArnOf, sqsEventFromMessages, succeededMessages } from './lambda-event.ts';

/**
 * How long an idle worker sleeps between receives when nothing wakes it: from the first value,
 * doubling after each empty receive, up to the second. Messages this process sends (the inbox
 * watcher's notifications, the producer's batches) wake the workers at once (wakePollersOn);
 * the interval is for what nobody here sends: a record whose visibility ran out, a redrive to a
 * DLQ, another process's message.
 */
const IDLE_MS = { first: 25, max: 500 } as const;
/** After a failed receive (the emulator away): wait this long before the next. */
const RECEIVE_ERROR_MS = 1000;

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
  /** The queue it polls. */
  queueUrl: string;
  stop(): Promise<void>;
  /** Invocations in flight right now. */
  busy(): number;
  /** The queue may hold a message for it now: its idle workers receive at once instead of after their sleep. */
  wake(): void;
}

/**
 * Lambda's SQS event source, locally: `concurrency` workers receive from the queue, each batch
 * becomes the same SQSEvent Lambda would build, and only the records the handler did not report
 * in batchItemFailures are deleted. The poller changes no visibility: failed records stay
 * invisible until the queue's visibility timeout, or until the visibility the handler itself
 * gave them (the consumer and replay do, fifo-handler.ts), and come again; the queue's redrive
 * policy moves them after maxReceiveCount, exactly as in AWS. FIFO queues hand out one group's
 * messages to one worker at a time.
 *
 * Receives do not wait on the queue (WaitTimeSeconds 0): a long poll in flight cannot be taken
 * back, and one abandoned when its poller stops would still be handed a message that arrives
 * within its wait, to nobody, which the emulator then keeps invisible for the queue's visibility
 * timeout (the intake's: 90 minutes), while the next stack on the same emulator (another
 * `landfall run`, a test) waits for that message's file for good. So an idle worker sleeps
 * instead, and is woken by {@link wakePollersOn} when this process sends to its queue; stopping
 * then waits only for a receive of a few milliseconds and the invocation it brings.
 */
export function startLambdaPoller(options: PollerOptions): Poller {
  const arn = queueArnOf(options.queueUrl, options.region);
  let inFlight = 0;
  let stopped = false;
  // Counts wakes: a worker whose empty receive began before one receives again at once.
  let wakes = 0;
  const sleepers = new Set<() => void>();
  const wake = () => {
    wakes++;
    for (const sleeper of [...sleepers]) sleeper();
  };
  /** Resolves after `ms`, or sooner on a wake or stop. */
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      sleepers.add(done);
    });

  const invoke = async (messages: Message[]): Promise<Message[]> => {
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
  };

  const remove = async (messages: Message[]) => {
    if (messages.length === 0) return;
    const { Failed = [] } = await options.sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: options.queueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
    );
    // Not deleted: the record comes again after its visibility timeout, and the ledger drops it then.
    if (Failed.length > 0) options.onError?.(options.name, new Error(`${Failed.length} of ${messages.length} records not deleted: ${Failed[0]!.Code}: ${Failed[0]!.Message ?? ''}`));
  };

  const work = async () => {
    let idleMs: number = IDLE_MS.first;
    while (!stopped) {
      const seen = wakes;
      let messages: Message[];
      try {
        const output = await options.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: options.queueUrl, MaxNumberOfMessages: options.batchSize, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] }),
        );
        messages = output.Messages ?? [];
      } catch (error) {
        options.onError?.(options.name, error);
        if (!stopped) await sleep(RECEIVE_ERROR_MS);
        continue;
      }
      if (messages.length === 0) {
        if (wakes !== seen || stopped) continue;
        await sleep(idleMs);
        idleMs = wakes !== seen ? IDLE_MS.first : Math.min(idleMs * 2, IDLE_MS.max);
        continue;
      }
      idleMs = IDLE_MS.first;
      // What a receive brought is handled and deleted even when stop() came meanwhile.
      const succeeded = await invoke(messages);
      await remove(succeeded).catch((error: unknown) => options.onError?.(options.name, error));
    }
  };
  const workers = Array.from({ length: options.concurrency }, () => work());

  return {
    queueUrl: options.queueUrl,
    busy: () => inFlight,
    wake,
    async stop() {
      stopped = true;
      wake();
      await Promise.all(workers);
    },
  };
}

/** The calls after which a queue may hold a message a worker can take: a send, a FIFO group unlocked by a delete, a visibility change. */
const WAKING_COMMANDS = new Set([
  'SendMessageCommand',
  'SendMessageBatchCommand',
  'DeleteMessageCommand',
  'DeleteMessageBatchCommand',
  'ChangeMessageVisibilityCommand',
  'ChangeMessageVisibilityBatchCommand',
]);

/**
 * Wakes the pollers of a queue whenever `sqs` sends to it, deletes from it (the next message of
 * a FIFO group becomes available) or changes a message's visibility on it: what this process
 * sends is received at once, without long polls (see {@link startLambdaPoller}). `pollers` is
 * read at each call, so it may be filled after.
 */
export function wakePollersOn(sqs: SQSClient, pollers: readonly Poller[]): void {
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const queueUrl = (args.input as { QueueUrl?: unknown }).QueueUrl;
      if (typeof queueUrl === 'string' && WAKING_COMMANDS.has(context.commandName ?? '')) {
        for (const poller of pollers) if (poller.queueUrl === queueUrl) poller.wake();
      }
      return result;
    },
    { step: 'initialize', name: 'landfallWakeLocalPollers' },
  );
}
