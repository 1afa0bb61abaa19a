/**
 * When a queue record is tried again, and how much of an invocation's time a record may take:
 * the consumer's and replay's retry and deadline rules, pure (the handler measures time and
 * calls SQS; this decides). Issue 19 item 4 and issue 24 item 4.
 *
 * - A transient failure (the database restarting, a killed connection, a deadlock) is first
 *   retried in the same invocation, after a short pause, while its time allows: no receive is
 *   used and nothing waits for SQS.
 * - A record that still fails comes back after a bounded backoff that grows with its receive
 *   count (`ChangeMessageVisibility`), not after the queue's visibility timeout (6× the
 *   function's timeout: 6 minutes for the consumer, 30 for replay): seconds for the consumer.
 * - The invocation stops taking records when its remaining time would not cover one; those
 *   records are not failed but deferred: made visible again at once. SQS counts every receive
 *   and no API gives one back, so a deferred record has still used one; after a transient
 *   failure in the same invocation (a slow or absent database) deferred records back off too,
 *   or every fresh invocation would burn another receive of each.
 */

/** The part of an SQS record these rules read (Lambda's SQSRecord has it). */
export interface QueueRecord {
  messageId: string;
  attributes: { ApproximateReceiveCount?: string; MessageGroupId?: string };
}

export const RetryPolicy = {
  /**
   * In-process attempts of one record per receive (the first included), and the pauses between
   * them: the first, the growth, the longest. Five attempts span about 2–4 s: a restart or a
   * killed connection is usually over by then; a longer outage goes on with the visibility backoff.
   */
  inProcess: {
    maxAttempts: 5,
    firstPauseMs: 250,
    factor: 2,
    maxPauseMs: 4_000,
    /**
     * Attempts of a record whose login was refused with credentials a fresh read of the database
     * secret may replace (FAILURE_RULES' `rereadsSecret`: 28P01, 28000): the second logs in with
     * the secret read again (after a rotation); a third would only read a wrong secret again.
     */
    secretRereadAttempts: 2,
  },
  /**
   * Visibility after a failure, by the record's receive count n: `base × factor^(n−1)` seconds,
   * at most `maxSeconds`, with equal jitter (half fixed, half random) so the groups a restart
   * failed together do not come back together; one schedule per queue, sized to its receives
   * (QueueSettings' maxReceiveCount), so each rides out the better part of an hour of outage
   * before it moves on (the in-process attempts add some):
   * - the consumer's batches queue (10 receives): 1, 3, 9, 27 … s, the first retries within
   *   seconds; 39–78 minutes over its receives;
   * - replay's DLQ (5 receives, then the parking queue and a person): 1, 4, 16, 30 minutes;
   *   25–51 minutes over its receives.
   */
  visibility: {
    batches: { baseSeconds: 1, factor: 3, maxSeconds: 1_800 },
    batchesDlq: { baseSeconds: 60, factor: 4, maxSeconds: 1_800 },
  },
  /**
   * Kept back at the end of an invocation for what follows the last record: reporting the
   * failures, changing visibilities, flushing metrics. A transaction's statements are cancelled
   * (`statement_timeout`) this long before the function's deadline.
   */
  reserveMs: 3_000,
  /** A record is not started with less time than this for it (a statement timeout that short only fails). */
  minimumRecordMs: 1_000,
  /**
   * How long a transaction may sit idle between two statements before PostgreSQL ends it
   * (`idle_in_transaction_session_timeout`): a function that was killed mid-transaction behind
   * the proxy must not hold its locks until the batch's next delivery.
   */
  idleInTransactionMs: 60_000,
  /** Record durations remembered per container for the estimate of the next one. */
  estimateWindow: 10,
} as const;

/** An invocation's deadline as the engine sees it (Lambda's `context.getRemainingTimeInMillis`). */
export interface Deadline {
  remainingMs(): number;
}

/** A visibility backoff schedule (RetryPolicy.visibility). */
export interface BackoffSchedule {
  baseSeconds: number;
  factor: number;
  maxSeconds: number;
}

/** The receive count of a record (1 on its first delivery). */
export function receiveCountOf(record: QueueRecord): number {
  const n = Number(record.attributes.ApproximateReceiveCount ?? 1);
  return Number.isFinite(n) && n >= 1 ? Math.floor(n) : 1;
}

/**
 * Seconds until a record that failed on its `receiveCount`-th delivery is visible again.
 * `random` is in [0, 1) (Math.random in the handler; fixed in tests).
 *
 * @example visibilityBackoffSeconds(1, 0.5) // 1; visibilityBackoffSeconds(4, 0) // 14 (of 27)
 */
export function visibilityBackoffSeconds(receiveCount: number, random: number, schedule: BackoffSchedule = RetryPolicy.visibility.batches): number {
  const { baseSeconds, factor, maxSeconds } = schedule;
  const full = Math.min(maxSeconds, baseSeconds * factor ** Math.max(0, receiveCount - 1));
  return Math.max(1, Math.round(full / 2 + (full / 2) * random));
}

/** The pause before in-process attempt `attempt + 1` (after `attempt` failures), with equal jitter. */
export function inProcessPauseMs(attempt: number, random: number): number {
  const { firstPauseMs, factor, maxPauseMs } = RetryPolicy.inProcess;
  const full = Math.min(maxPauseMs, firstPauseMs * factor ** Math.max(0, attempt - 1));
  return Math.round(full / 2 + (full / 2) * random);
}

/** What an invocation knows of its deadline, and what a record took so far in this container. */
export interface RecordBudget {
  /** Milliseconds until the function's deadline (Infinity when there is none, e.g. a test). */
  remainingMs: number;
  /** Records started in this invocation before this one. */
  startedBefore: number;
  /** The longest recent record in this container, or null before the first. */
  expectedMs: number | null;
}

/**
 * Whether a record may start: the time left after the reserve must cover at least the minimum,
 * and, unless it is the invocation's first record, the longest recent record too. The first is
 * always tried when the minimum fits, so one record longer than the estimate cannot stall a queue.
 */
export function mayStartRecord(budget: RecordBudget): boolean {
  const usable = budget.remainingMs - RetryPolicy.reserveMs;
  if (usable < RetryPolicy.minimumRecordMs) return false;
  if (budget.startedBefore === 0 || budget.expectedMs === null) return true;
  return usable >= budget.expectedMs;
}

/**
 * Whether a transient failure is tried again in this invocation after `pauseMs`: the time left
 * after the pause and the reserve must still cover the minimum and the expected record.
 */
export function mayRetryInProcess(remainingMs: number, pauseMs: number, expectedMs: number | null): boolean {
  const usable = remainingMs - pauseMs - RetryPolicy.reserveMs;
  return usable >= Math.max(RetryPolicy.minimumRecordMs, expectedMs ?? 0);
}

/**
 * The `statement_timeout` of a transaction begun with `remainingMs` left: it ends the reserve
 * before the deadline. Null without a deadline (no limit set).
 */
export function statementTimeoutMs(remainingMs: number): number | null {
  if (!Number.isFinite(remainingMs)) return null;
  return Math.max(RetryPolicy.minimumRecordMs, Math.floor(remainingMs - RetryPolicy.reserveMs));
}

/** Why a record of an invocation was not done: what decides when it comes back. */
export const RecordFailure = {
  /** Not started: too little time left. */
  deferred: 'deferred',
  /** Failed on a transient error (after the in-process retries its time allowed). */
  transient: 'transient',
  /** Failed otherwise (config, bug): the queue's own visibility timeout, as before. */
  other: 'other',
} as const;
export type RecordFailure = (typeof RecordFailure)[keyof typeof RecordFailure];

/** A record to make visible again after `seconds` (0: at once). */
export interface VisibilityChange {
  messageId: string;
  seconds: number;
}

/**
 * The visibility of each failed record of an invocation. A FIFO group comes back as one: the
 * records after its first failure (which the FIFO processor skipped, to keep the group's order)
 * get the first failure's visibility. A transient failure backs off by its receive count; a
 * deferred record comes back at once, unless the invocation met a transient failure (then it
 * backs off as well); any other failure keeps the queue's visibility timeout (no change).
 *
 * @param records the event's records, in order
 * @param failedIds the records reported as failed
 * @param failures why each record that the handler itself failed was not done (skipped ones have none)
 */
export function visibilityChanges(
  records: readonly QueueRecord[],
  failedIds: ReadonlySet<string>,
  failures: ReadonlyMap<string, RecordFailure>,
  random: () => number,
  schedule: BackoffSchedule = RetryPolicy.visibility.batches,
): VisibilityChange[] {
  const slow = [...failures.values()].includes(RecordFailure.transient);
  const groupSeconds = new Map<string, number | null>();
  const changes: VisibilityChange[] = [];
  for (const record of records) {
    if (!failedIds.has(record.messageId)) continue;
    const group = record.attributes.MessageGroupId ?? `record:${record.messageId}`;
    let seconds = groupSeconds.get(group);
    if (seconds === undefined) {
      const failure = failures.get(record.messageId) ?? RecordFailure.other;
      seconds =
        failure === RecordFailure.transient || (failure === RecordFailure.deferred && slow)
          ? visibilityBackoffSeconds(receiveCountOf(record), random(), schedule)
          : failure === RecordFailure.deferred
            ? 0
            : null;
      groupSeconds.set(group, seconds);
    }
    if (seconds !== null) changes.push({ messageId: record.messageId, seconds });
  }
  return changes;
}

/**
 * The records in the order to process them: whole FIFO groups, the group whose first record has
 * been received most often first (it is the nearest to the dead-letter queue, so it gets the
 * invocation's time before the others), each group's records in their own order; records of
 * equal standing keep the event's order.
 */
export function orderByReceiveCount<R extends QueueRecord>(records: readonly R[]): R[] {
  const groups = new Map<string, R[]>();
  for (const record of records) {
    const group = record.attributes.MessageGroupId ?? `record:${record.messageId}`;
    const list = groups.get(group);
    if (list) list.push(record);
    else groups.set(group, [record]);
  }
  return [...groups.values()]
    .map((list, index) => ({ list, index, count: receiveCountOf(list[0]!) }))
    .sort((a, b) => b.count - a.count || a.index - b.index)
    .flatMap((g) => g.list);
}
