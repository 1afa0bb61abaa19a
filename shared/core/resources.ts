/**
 * The queues, buckets and function settings of one Landfall deployment, named once. The CDK
 * stack builds its resources from this and the local runtime creates the same queues in the
 * emulator, so the two cannot drift apart. Plain data and pure functions: no CDK, no AWS SDK.
 *
 * Event-source rule kept here by construction: a queue that drives a function has a visibility
 * timeout of at least six times that function's timeout (AWS's guidance for SQS event sources;
 * a shorter one lets a message become visible again while its first invocation still runs).
 */

/** Prefix of every queue name (and of the local bucket names); the stack can override it. */
export const DEFAULT_NAME_PREFIX = 'landfall';

const DAY = 24 * 60 * 60;

/** Lambda settings per handler. Timeouts drive the visibility timeouts below. */
export const FunctionSettings = {
  /**
   * Streams one file per invocation; a file that needs longer stops at a segment's end (9 of the
   * 15 minutes, see DEFAULT_PRODUCER_LIMITS) and is continued in a fresh invocation, so no file
   * is too large for the timeout. Memory does not grow with the file (measured: peak RSS under
   * 256 MB for a 4 GB CSV). Its only disk use is a gzip-compressed Parquet file: Parquet needs
   * random access and gzip has none, so the file is inflated whole to /tmp (again by each
   * invocation that continues it). Nothing else touches /tmp: CSV and NDJSON, compressed or
   * not, and plain Parquet stream from S3 (ranged reads). /tmp therefore bounds one format
   * only, the largest .parquet.gz being about this size once inflated, and gets Lambda's
   * maximum: ephemeral storage is billed per GB-second while the function runs, and 9.5 GB over
   * the free 512 MB for a full 15-minute invocation costs about $0.0003.
   *
   * 1,769 MB (one vCPU): one thread reads, as before. From about 1.5 vCPUs (2,654 MB) the producer
   * reads CSV with block worker threads (shared/producer/block-workers.ts), but `bench:producer`'s
   * table (README, "A producer that uses every core") has 3,008 MB at about 1.2× the rows/s of
   * 1,769 MB for about 1.4× the cost per GB of CSV, so the default stays at one vCPU.
   */
  producer: { timeoutSeconds: 900, memoryMiB: 1769, ephemeralStorageMiB: 10240, batchSize: 1, maxConcurrency: 10 },
  /**
   * Up to 2 batches per invocation, each in its own transaction: with 50,000-row batches (the
   * default batch.maxRows) an invocation has as many rows to apply within its timeout as 10
   * batches of 10,000 had (the SQS FIFO maximum of 10 would be 500,000).
   */
  consumer: { timeoutSeconds: 60, memoryMiB: 1024, batchSize: 2 },
  /** One poison batch per invocation, bisected row by row: slower than the consumer. */
  replay: { timeoutSeconds: 300, memoryMiB: 1024, batchSize: 1, maxConcurrency: 2 },
} as const;

export type FunctionKey = keyof typeof FunctionSettings;

/** How many times six: the visibility timeout of a queue that drives a function. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/** The queues of one deployment. */
export type QueueKey = 'intake' | 'intakeDlq' | 'batches' | 'batchesDlq' | 'parking';

export interface QueueSetting {
  /** Queue name after the prefix and a dash; FIFO queues get `.fifo` appended. */
  readonly suffix: string;
  readonly fifo: boolean;
  /** FIFO only: deduplication uses the explicit MessageDeduplicationId (the batch id). */
  readonly contentBasedDeduplication?: false;
  readonly visibilityTimeoutSeconds: number;
  readonly retentionSeconds: number;
  /** Where messages go after `maxReceiveCount` receives. */
  readonly deadLetter?: { readonly queue: QueueKey; readonly maxReceiveCount: number };
  /** The function this queue drives, if any. */
  readonly drives?: FunctionKey;
}

const visibilityFor = (fn: FunctionKey) => FunctionSettings[fn].timeoutSeconds * VISIBILITY_TIMEOUT_FACTOR;

/**
 * The five queues. Retention is the SQS maximum (14 days) everywhere: a message that waits for
 * an operator must not expire while it waits.
 */
export const QueueSettings = {
  /** S3 ObjectCreated notifications for the inbox (standard: S3 cannot send to FIFO queues). */
  intake: {
    suffix: 'intake',
    fifo: false,
    visibilityTimeoutSeconds: visibilityFor('producer'),
    retentionSeconds: 14 * DAY,
    deadLetter: { queue: 'intakeDlq', maxReceiveCount: 5 },
    drives: 'producer',
  },
  /** Notifications the producer failed on five times (unreadable file, bug, outage). */
  intakeDlq: { suffix: 'intake-dlq', fifo: false, visibilityTimeoutSeconds: 30, retentionSeconds: 14 * DAY },
  /**
   * Batches, MessageGroupId `<table>#<partition>`, MessageDeduplicationId the batch id.
   * Ten receives: the consumer routes permanent failures to the DLQ itself, so only transient
   * ones (database down, timeouts) count here; each is retried in its invocation first, then
   * comes back after a backoff the consumer sets by receive count (retry-policy.ts), so the
   * first retries come within seconds and the ten still ride out about an hour.
   */
  batches: {
    suffix: 'batches',
    fifo: true,
    contentBasedDeduplication: false,
    visibilityTimeoutSeconds: visibilityFor('consumer'),
    retentionSeconds: 14 * DAY,
    deadLetter: { queue: 'batchesDlq', maxReceiveCount: 10 },
    drives: 'consumer',
  },
  /** Poison batches (the consumer's envelopes and exhausted retries), driving replay. */
  batchesDlq: {
    suffix: 'batches-dlq',
    fifo: true,
    contentBasedDeduplication: false,
    visibilityTimeoutSeconds: visibilityFor('replay'),
    retentionSeconds: 14 * DAY,
    deadLetter: { queue: 'parking', maxReceiveCount: 5 },
    drives: 'replay',
  },
  /** Batches replay could not finish: nothing reads it but an operator (`landfall replay`). */
  parking: {
    suffix: 'parking',
    fifo: true,
    contentBasedDeduplication: false,
    visibilityTimeoutSeconds: 30,
    retentionSeconds: 14 * DAY,
  },
} as const satisfies Record<QueueKey, QueueSetting>;

/** The physical queue name, e.g. `queueName('batches')` → `landfall-batches.fifo`. */
export function queueName(queue: QueueKey, prefix: string = DEFAULT_NAME_PREFIX): string {
  const setting: QueueSetting = QueueSettings[queue];
  return `${prefix}-${setting.suffix}${setting.fifo ? '.fifo' : ''}`;
}

/**
 * The buckets. In AWS CloudFormation names them (bucket names are global) and the functions
 * get the names from environment variables; locally they are `<prefix>-<suffix>`.
 */
export const BucketSettings = {
  /** Upstream drops files here under a table's prefix. Versioned: a re-upload is a new file. */
  inbox: { suffix: 'inbox', versioned: true, noncurrentVersionExpirationDays: 30 },
  /** Batch objects and rejected files, written by the producer. */
  staging: { suffix: 'staging', versioned: false },
} as const;

export type BucketKey = keyof typeof BucketSettings;

/** The local bucket name, e.g. `localBucketName('inbox')` → `landfall-inbox`. */
export function localBucketName(bucket: BucketKey, prefix: string = DEFAULT_NAME_PREFIX): string {
  return `${prefix}-${BucketSettings[bucket].suffix}`;
}

/**
 * Key layout the lifecycle rules depend on. Staging: batch objects under `batches/`, file
 * manifests under `manifests/`. Inbox: the producer moves unreadable files and writes rejected
 * rows (with their reasons) under `rejected/` (shared/core/keys.ts, REJECTED_PREFIX).
 * After its transaction commits, the consumer (or replay) may tag a batch object
 * `landfall:state=applied`; tagged batches expire after a few days, untagged ones only after
 * every queue could have given up on them.
 */
export const StagingLayout = {
  batchesPrefix: 'batches/',
  manifestsPrefix: 'manifests/',
  /** One catalog snapshot per table, written by the consumer and replay, read by the producer. */
  catalogPrefix: 'catalog/',
  appliedTag: { key: 'landfall:state', value: 'applied' },
} as const;

export const InboxLayout = {
  rejectsPrefix: 'rejected/',
} as const;

export const StagingExpiration = {
  /** Applied batch objects (tagged): kept for inspection and `landfall replay`. */
  appliedBatchDays: 7,
  /** Rejected rows and moved-aside files in the inbox: kept longer, a person has to look. */
  rejectDays: 90,
  /**
   * Untagged batch objects and manifests: longer than a batch message can live (up to 14 days
   * each in the batches queue, its DLQ and the parking queue).
   */
  unappliedBatchDays: 60,
} as const;

/**
 * Metric contract between the functions (Powertools Metrics, EMF) and the stack's alarms and
 * dashboard: namespace from POWERTOOLS_METRICS_NAMESPACE, Powertools' `service` dimension from
 * each function's service name, and per batch the row counts with the `table` dimension (the
 * configured table name), as shared/lambda/observability.ts emits them.
 */
export const MetricContract = {
  namespace: 'Landfall',
  serviceNames: { producer: 'landfall-producer', consumer: 'landfall-consumer', replay: 'landfall-replay' },
  tableDimension: 'table',
  rows: {
    inserted: 'rowsInserted',
    updated: 'rowsUpdated',
    unchanged: 'rowsUnchanged',
    stale: 'rowsStale',
    collapsed: 'rowsCollapsed',
    deleted: 'rowsDeleted',
    quarantined: 'QuarantinedRows',
  },
  /**
   * One per SQS record a function failed on (reported in batchItemFailures or, when every
   * record failed, thrown): a partial failure leaves the invocation a success for Lambda's
   * Errors metric, so the stack alarms on this one too. Records skipped behind a failed one of
   * their FIFO group are not counted (they did not fail, they wait); nor are the consumer's and
   * replay's transient failures that a retry in the same invocation got past, nor records they
   * deferred for want of time (both counted below).
   */
  failedRecords: 'recordsFailed',
  /** Consumer and replay: a transient failure retried in the same invocation (one per retry). */
  retriedRecords: 'recordsRetried',
  /** Consumer and replay: a record not started because the invocation's time would not cover it; it comes again. */
  deferredRecords: 'recordsDeferred',
  /** The producer stopped a file at a segment's end and continued it in a fresh invocation. */
  filesContinued: 'filesContinued',
  /** The producer moved a file aside (unreadable, or stopped by the per-file invocation cap). */
  filesMovedAside: 'filesMovedAside',
} as const satisfies { serviceNames: Record<FunctionKey, string> } & Record<string, unknown>;
