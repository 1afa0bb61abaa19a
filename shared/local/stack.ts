import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, PutObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { FauxqsServer } from 'fauxqs';
import { createConsumerHandler } from '../lambda/consumer-handler.ts';
import { createProducerHandler } from '../lambda/producer-handler.ts';
import { createReplayHandler } from '../lambda/replay-handler.ts';
import { createS3Client, createSqsClient } from '../aws/clients.ts';
import { sqsVisibility } from '../aws/sqs-visibility.ts';
import { producerDepsFromClients } from '../aws/producer-deps.ts';
import type { LandfallConfig } from '../core/config.ts';
import type { ProducerLimits } from '../producer/produce-file.ts';
import { type BatchPorts, prepareConfiguredTables } from '../consumer/consume-batch.ts';
import { createBatchPorts } from '../lambda/consumer-runtime.ts';
import { connect, type Sql } from '../postgres/db.ts';
import { fileReceipts } from '../postgres/ledger/files.ts';
import { migrateLedger } from '../postgres/ledger/migrate.ts';
import { DEFAULT_NAME_PREFIX, FunctionSettings, localBucketName, type QueueKey, QueueSettings, queueName } from '../core/resources.ts';
import { type Poller, type SqsHandler, startLambdaPoller, wakePollersOn } from './lambda-poller.ts';
import type { StackParts } from './config-in-use.ts';
import { type BucketWatcher, watchBucket } from './s3-notifier.ts';

export { type DevState, devStatePath, removeDevState, writeDevState } from './dev-state.ts';

export const REGION = 'us-east-1';

export interface LocalStackOptions {
  config: LandfallConfig;
  /** The local state folder (embedded database data, dev state file), e.g. `.landfall`. */
  home: string;
  /** Any PostgreSQL; else the embedded one with its data kept in `<home>/pg`. */
  databaseUrl?: string;
  /** An S3/SQS endpoint (LocalStack); else fauxqs in-process. */
  awsEndpointUrl?: string;
  /** fauxqs port (0: any free port). */
  port?: number;
  /** Embedded PostgreSQL port (default: any free port). */
  dbPort?: number;
  /**
   * Keep the emulator's buckets and queues in `<home>/emulator` (fauxqs dataDir, SQLite), and
   * reconcile at start-up: `landfall dev` resumes after a restart, even a kill -9.
   */
  persistEmulator?: boolean;
  namePrefix?: string;
  /** Queue visibility timeouts (seconds) other than the stack's, for tests that must see retries fast. */
  visibilityTimeouts?: Partial<Record<QueueKey, number>>;
  /** Run the event-source pollers and the inbox watcher (default true). */
  pollers?: boolean;
  /** Parallel consumer invocations (default 4). */
  consumerConcurrency?: number;
  /** Powertools log level of the handlers (default ERROR; errors go to stderr). */
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  log?: (line: string) => void;
  /**
   * The producer as Lambda would run it: its timeout (each invocation's context counts down
   * from it; default the stack's 900 s) and its limits (a test forces continuations with small
   * segments and a short timeout).
   */
  producer?: { timeoutMs?: number; limits?: Partial<ProducerLimits> };
  /** The consumer's and replay's timeouts as Lambda would run them (default the stack's; a test of deadlines shortens them). */
  consumer?: { timeoutMs?: number };
  replay?: { timeoutMs?: number };
  /**
   * Told of an invocation still running when its function's timeout passes (Lambda would have
   * ended it); by default a line to `log`.
   */
  onOverrun?: (name: 'producer' | 'consumer' | 'replay', elapsedMs: number, timeoutMs: number) => void;
  /** Wraps each handler (the chaos test injects crashes here). */
  wrapHandler?: (name: 'producer' | 'consumer' | 'replay', handler: SqsHandler) => SqsHandler;
  /**
   * Runs once the database, the buckets and the queues are up, before anything is consumed or
   * notified (`landfall dev` checks its config against the one its files in flight were produced
   * under); a throw stops the stack and is rethrown.
   */
  beforeConsuming?: (parts: StackParts) => Promise<void>;
}

export interface LocalStack {
  config: LandfallConfig;
  databaseUrl: string;
  endpoint: string;
  region: string;
  sql: Sql;
  s3: S3Client;
  sqs: SQSClient;
  buckets: { inbox: string; staging: string };
  queues: Record<QueueKey, string>;
  ports: BatchPorts;
  /** Looks at the inbox now instead of at the next tick. */
  pollInbox(): Promise<number>;
  /** Invocations in flight. */
  busy(): number;
  /** Resolves when the next invocation (of any of the pollers) ends. */
  invocationEnded(): Promise<void>;
  /** What start-up found left over from a previous run and took up again (persistent emulator). */
  recovered: Recovery;
  /** How many messages each queue holds now, as SQS approximates it (the status page shows the DLQ and parking). */
  queueDepths(): Promise<QueueDepth[]>;
  /**
   * Our own shutdown begins (Ctrl-C): the database and the emulator go down under invocations in
   * flight, whose messages SQS delivers again at the next start. Their failures are not the
   * data's, so the handlers stop logging from here on.
   */
  quiesce(): void;
  stop(): Promise<void>;
}

/** One queue's depth: messages waiting, and messages received and not yet deleted (in flight). */
export interface QueueDepth {
  queue: QueueKey;
  name: string;
  visible: number;
  inFlight: number;
}

/** The depth of every queue of the stack, in QUEUE_ORDER's reverse (the way a message flows). */
export async function queueDepthsOf(sqs: SQSClient, queues: Record<QueueKey, string>): Promise<QueueDepth[]> {
  const keys = [...QUEUE_ORDER].reverse();
  return Promise.all(
    keys.map(async (queue) => {
      const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queues[queue], AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      return { queue, name: queues[queue].split('/').pop()!, visible: Number(Attributes.ApproximateNumberOfMessages ?? 0), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) };
    }),
  );
}

export interface Recovery {
  /** Messages a killed run had received and not finished, made visible again at once. */
  released: number;
  /** Files in the inbox the ledger has not seen complete, notified to the producer again. */
  renotified: number;
  /** Files in the ledger not complete yet, which those messages and notifications finish. */
  pending: number;
}

const QUEUE_ORDER: QueueKey[] = ['parking', 'batchesDlq', 'batches', 'intakeDlq', 'intake'];

/** Creates the buckets and queues of the CDK stack (names, FIFO, redrive, visibility) through the S3/SQS API. */
export async function createResources(
  s3: S3Client,
  sqs: SQSClient,
  prefix: string,
  visibility: Partial<Record<QueueKey, number>> = {},
): Promise<{ buckets: { inbox: string; staging: string }; queues: Record<QueueKey, string> }> {
  const buckets = { inbox: localBucketName('inbox', prefix), staging: localBucketName('staging', prefix) };
  for (const bucket of Object.values(buckets)) {
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
    }
  }
  const queues = {} as Record<QueueKey, string>;
  const arns = {} as Record<QueueKey, string>;
  for (const key of QUEUE_ORDER) {
    const setting = QueueSettings[key];
    const attributes: Record<string, string> = {
      VisibilityTimeout: String(visibility[key] ?? setting.visibilityTimeoutSeconds),
      MessageRetentionPeriod: String(setting.retentionSeconds),
    };
    if (setting.fifo) {
      attributes.FifoQueue = 'true';
      attributes.ContentBasedDeduplication = 'false';
    }
    if ('deadLetter' in setting) {
      attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: arns[setting.deadLetter.queue], maxReceiveCount: setting.deadLetter.maxReceiveCount });
    }
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: queueName(key, prefix), Attributes: attributes }));
    queues[key] = QueueUrl!;
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    arns[key] = Attributes!.QueueArn!;
  }
  return { buckets, queues };
}

/**
 * Whether the S3 endpoint tags objects. fauxqs 2.4.1 does not: it takes `PUT ?tagging` for a
 * PutObject and overwrites the object with the tagging XML, so the consumer must not tag there.
 */
export async function supportsTagging(s3: S3Client, bucket: string): Promise<boolean> {
  const Key = `landfall-probe/tagging-${process.pid}-${Date.now()}`;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'probe' }));
  try {
    await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key, Tagging: { TagSet: [{ Key: 'probe', Value: 'yes' }] } }));
    const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key }))).Body!.transformToString();
    return body === 'probe';
  } catch {
    return false;
  } finally {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key })).catch(() => {});
  }
}

/**
 * The whole pipeline on one machine: a real PostgreSQL (embedded unless a URL is given), the
 * S3/SQS emulator (fauxqs in-process unless an endpoint is given), the CDK stack's buckets and
 * queues, and the three handlers driven by Lambda-like pollers, plus an inbox watcher standing
 * in for S3 notifications.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => {});
  const prefix = options.namePrefix ?? DEFAULT_NAME_PREFIX;
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => log(`stop: ${(error as Error).message}`));
  };
  try {
    // The database and the emulator start side by side (each only when no URL names one); their
    // modules load only then: `landfall run` against your own endpoints does not load them.
    const database: Promise<{ url: string; stop?: () => Promise<void> }> = options.databaseUrl
      ? Promise.resolve({ url: options.databaseUrl })
      : import('./embedded-postgres.ts').then(({ startEmbeddedPostgres }) =>
          startEmbeddedPostgres({ dataDir: join(options.home, 'pg'), persistent: true, ...(options.dbPort !== undefined ? { port: options.dbPort } : {}) }),
        );
    const dataDir = options.persistEmulator ? join(options.home, 'emulator') : undefined;
    const local: Promise<{ emulator?: FauxqsServer; released: number }> = options.awsEndpointUrl
      ? Promise.resolve({ released: 0 })
      : (async () => {
          let released = 0;
          if (dataDir) {
            await mkdir(dataDir, { recursive: true });
            released = await releaseInflight(dataDir);
          }
          return { emulator: await startEmulator(options.port ?? 0, dataDir), released };
        })();
    const [db, aws] = await settled(database, local, (server) => {
      if (server.stop) stops.push(() => server.stop!());
    }, ({ emulator }) => {
      if (emulator) stops.push(() => emulator.stop());
    });
    const databaseUrl = db.url;
    const emulator: FauxqsServer | undefined = aws.emulator;
    const released = aws.released;
    const endpoint = options.awsEndpointUrl ?? `http://127.0.0.1:${emulator!.port}`;
    const clientOptions = { endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
    const s3 = createS3Client(clientOptions);
    const sqs = createSqsClient(clientOptions);
    // What the stack sends (notifications, batches, continuations) wakes the pollers of its queue.
    const pollers: Poller[] = [];
    wakePollersOn(sqs, pollers);

    const sql = connect({ url: databaseUrl, max: 10, applicationName: 'landfall-local' });
    stops.push(() => sql.end({ timeout: 5 }));
    // The emulator's resources (and whether it tags objects) and the ledger's migrations, side by side.
    const [{ buckets, queues, tagApplied }] = await settled(
      createResources(s3, sqs, prefix, options.visibilityTimeouts).then(async (made) => ({ ...made, tagApplied: await supportsTagging(s3, made.buckets.staging) })),
      migrateLedger(sql),
    );
    const recovered: Recovery = { released, renotified: 0, pending: 0 };
    if (emulator && options.persistEmulator) {
      recovered.pending = (await fileReceipts(sql)).filter((r) => r.status === 'pending' || r.status === 'replaying').length;
    }

    await options.beforeConsuming?.({ sql, s3, sqs, buckets, queues });

    const ports = createBatchPorts({ config: options.config, sql, s3, sqs, stagingBucket: buckets.staging, dlqUrl: queues.batchesDlq, tagApplied });
    const logLevel = options.logLevel ?? 'ERROR';
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
    const loggers: Logger[] = [];
    const quiet = (serviceName: string) => {
      const logger = new Logger({ serviceName, logLevel });
      loggers.push(logger);
      return { logger, metrics: new Metrics({ namespace: 'Landfall', serviceName }) };
    };
    const wrap = options.wrapHandler ?? ((_name, handler) => handler);
    // The local stack reaches the database: every configured table's snapshot is written before
    // the first file is produced, and a file that does not fit it has the catalog read again.
    const rereadCatalog = async (table: string) => {
      ports.forgetTable(table);
      await ports.table(table).catch(() => {});
    };
    // As the stack's deploy step does in AWS: a refused table is recorded as blocked.
    await prepareConfiguredTables(ports);
    const producer = createProducerHandler({
      deps: () =>
        producerDepsFromClients({
          config: options.config,
          s3,
          sqs,
          stagingBucket: buckets.staging,
          batchesQueueUrl: queues.batches,
          intakeQueueUrl: queues.intake,
          rereadCatalog,
          ...(options.producer?.limits ? { limits: options.producer.limits } : {}),
        }),
      ...quiet('landfall-producer'),
    });
    // As in AWS, each function makes its own failed records visible again after a short backoff.
    const consumer = createConsumerHandler({ ports: () => ports, visibility: () => sqsVisibility(sqs, queues.batches), ...quiet('landfall-consumer') });
    const replay = createReplayHandler({ ports: () => ports, visibility: () => sqsVisibility(sqs, queues.batchesDlq), ...quiet('landfall-replay') });

    let watcher: BucketWatcher | undefined;
    // Settled by the end of an invocation and replaced by the next (`landfall run` looks at the ledger then).
    let endInvocation = () => {};
    let invocationEnded = new Promise<void>((resolve) => (endInvocation = resolve));
    const onInvoke = () => {
      const end = endInvocation;
      invocationEnded = new Promise<void>((resolve) => (endInvocation = resolve));
      end();
    };
    if (options.pollers !== false) {
      const onError = (name: string, error: unknown) => log(`${name}: ${(error as Error).message ?? String(error)}`);
      const poller = (name: 'producer' | 'consumer' | 'replay', queue: QueueKey, handler: SqsHandler, concurrency: number) =>
        startLambdaPoller({
          name,
          sqs,
          queueUrl: queues[queue],
          region: REGION,
          handler: wrap(name, handler),
          batchSize: FunctionSettings[name].batchSize,
          concurrency,
          onError,
          onInvoke,
          timeoutMs: options[name]?.timeoutMs ?? FunctionSettings[name].timeoutSeconds * 1000,
          memoryMiB: FunctionSettings[name].memoryMiB,
          onOverrun: (_name, elapsed, timeout) =>
            options.onOverrun
              ? options.onOverrun(name, elapsed, timeout)
              : log(`${name}: an invocation is still running after its ${(timeout / 1000).toFixed(1)} s timeout (Lambda would have ended it)`),
        });
      pollers.push(poller('producer', 'intake', producer as SqsHandler, 2));
      pollers.push(poller('consumer', 'batches', consumer as SqsHandler, options.consumerConcurrency ?? 4));
      pollers.push(poller('replay', 'batchesDlq', replay as SqsHandler, FunctionSettings.replay.maxConcurrency));
      stops.push(async () => {
        watcher?.stop();
        await Promise.all(pollers.map((p) => p.stop()));
      });
      watcher = watchBucket({
        s3,
        bucket: buckets.inbox,
        prefixes: options.config.tables.map((t) => t.prefix),
        region: REGION,
        intervalMs: 250,
        notify: async (body) => {
          await sqs.send(new SendMessageCommand({ QueueUrl: queues.intake, MessageBody: body }));
        },
        onError: (error) => log(`inbox watcher: ${(error as Error).message}`),
        // S3 notifies an object version once: a file the ledger holds complete (dropped before this
        // process started, into an emulator that outlives it) is not notified again. A notification
        // of a produced file has the producer send all its batch messages again, and past FIFO's
        // 5-minute deduplication they would queue, each to be downloaded and found applied, ahead
        // of the new file's (issue 26 item 4: the third 1 GB drop waited minutes behind two). A file
        // held (a snapshot waiting for its confirm) is not notified again either.
        skip: async (key: string, etag: string) => (await fileReceipts(sql, { key, etag })).some((r) => r.status === 'complete' || r.status === 'held'),
      });
      if (options.persistEmulator) recovered.renotified = await watcher.poll();
    }
    return {
      config: options.config,
      databaseUrl,
      endpoint,
      region: REGION,
      sql,
      s3,
      sqs,
      buckets,
      queues,
      ports,
      pollInbox: () => watcher?.poll() ?? Promise.resolve(0),
      busy: () => pollers.reduce((n, p) => n + p.busy(), 0),
      invocationEnded: () => invocationEnded,
      recovered,
      queueDepths: () => queueDepthsOf(sqs, queues),
      quiesce: () => {
        for (const logger of loggers) logger.setLogLevel('SILENT');
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * Messages the emulator kept as received by a run that is gone (its state persisted, the
 * process killed): nobody will delete them, so they are made visible again before the emulator
 * loads them, instead of after the visibility timeout (minutes). fauxqs 2.4.1 keeps them in
 * `<dataDir>/fauxqs.db`, table `sqs_messages` (its own schema: checked with that version only);
 * ChangeMessageVisibility does not find receipt handles loaded from disk. Returns how many.
 */
async function releaseInflight(dataDir: string): Promise<number> {
  const path = join(dataDir, 'fauxqs.db');
  if (!existsSync(path)) return 0;
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(path);
  try {
    const result = db.prepare('UPDATE sqs_messages SET receipt_handle = NULL, visibility_deadline = NULL WHERE receipt_handle IS NOT NULL').run();
    return Number(result.changes);
  } finally {
    db.close();
  }
}

/**
 * Both results once both settled (each passed to its `then` as it comes, so what started can be
 * stopped), or the first failure once both settled: nothing is left running unseen.
 */
async function settled<A, B>(a: Promise<A>, b: Promise<B>, thenA?: (value: A) => void, thenB?: (value: B) => void): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a.then((v) => (thenA?.(v), v)), b.then((v) => (thenB?.(v), v))]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

/** The emulator, on 127.0.0.1 only (as the database); a port in use says so and names --port. */
async function startEmulator(port: number, dataDir?: string) {
  try {
    const { startFauxqs } = await import('fauxqs');
    return await startFauxqs({ port, listenHost: '127.0.0.1', logger: false, ...(dataDir ? { dataDir } : {}) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`the S3/SQS emulator (fauxqs) cannot listen on 127.0.0.1:${port}: the port is in use; pick another with --port N, or leave it out for any free port`, { cause: error });
    }
    throw error;
  }
}
