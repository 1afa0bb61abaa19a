import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaEvents from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { EnvVar } from '../shared/environment/env.ts';
import {
  BucketSettings,
  DEFAULT_NAME_PREFIX,
  FunctionSettings,
  InboxLayout,
  MetricContract,
  type QueueKey,
  type QueueSetting,
  QueueSettings,
  StagingExpiration,
  StagingLayout,
  queueName,
} from '../shared/core/resources.ts';
import { LandfallDatabase } from './database.ts';
import { Monitoring } from './monitoring.ts';
import { AccountBoundSqsDestination } from './intake-destination.ts';
import { acknowledgeNagFindings } from './nag.ts';
import { PipelineFunction } from './pipeline-function.ts';
import { PrepareTablesOnDeploy } from './prepare-tables.ts';
import type { ConnectionBudget } from './connection-budget.ts';
import {
  DEFAULT_ENTRIES,
  DEFAULT_MAX_INVOCATIONS_PER_FILE,
  defaultConsumerMaxConcurrency,
  deploymentBudget,
  type FunctionEntries,
  type LandfallOptions,
  stackEnvironment,
  validateOptions,
} from './props.ts';

/** aws-cdk-lib's feature flag that grants S3 server access logging in the bucket policy instead of an ACL. */
const S3_LOGS_USE_BUCKET_POLICY = '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy';

/** The repository root: entries, package-lock.json and tsconfig.json are found from here. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Lambda limits all environment variables of a function to 4 KB together; the config JSON gets
 * what the other variables leave.
 */
const CONFIG_JSON_BUDGET = 3000;

export interface LandfallStackProps extends StackProps, LandfallOptions {}

/** The table config as the functions get it (LANDFALL_CONFIG_JSON), refused when it would not fit Lambda's 4 KB. */
function configJsonOf(config: LandfallOptions['config']): string {
  const configJson = JSON.stringify(config);
  if (configJson.length > CONFIG_JSON_BUDGET) {
    throw new Error(
      `the table config is ${configJson.length} bytes as JSON; Lambda allows 4 KB of environment in total and ` +
        `Landfall keeps ${CONFIG_JSON_BUDGET} bytes of it for ${EnvVar.configJson}. Shorten it (drop defaults, ` +
        'column mappings that map a name to itself) or split the tables across two stacks with different namePrefix.',
    );
  }
  return configJson;
}

/** The inbox, the staging bucket and their access-log bucket, with the lifecycle rules the key layout needs. */
function createBuckets(stack: Stack, props: LandfallStackProps): { inbox: s3.Bucket; staging: s3.Bucket } {
  const appliedDays = props.appliedBatchExpirationDays ?? StagingExpiration.appliedBatchDays;
  const rejectDays = props.rejectExpirationDays ?? StagingExpiration.rejectDays;
  const unappliedDays = Math.max(StagingExpiration.unappliedBatchDays, appliedDays);
  const accessLogs = new s3.Bucket(stack, 'AccessLogs', {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    // No ACLs at all: S3 delivers the access logs under the bucket policy CDK writes for
    // logging.s3.amazonaws.com (@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy).
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const inbox = new s3.Bucket(stack, 'Inbox', {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    versioned: BucketSettings.inbox.versioned,
    serverAccessLogsBucket: accessLogs,
    serverAccessLogsPrefix: 'inbox/',
    lifecycleRules: [
      {
        id: 'expire-old-versions',
        noncurrentVersionExpiration: Duration.days(BucketSettings.inbox.noncurrentVersionExpirationDays),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      },
      // Rejected rows and moved-aside files: kept longer than batches, a person has to look.
      { id: 'expire-rejects', prefix: InboxLayout.rejectsPrefix, expiration: Duration.days(rejectDays) },
      // A delete marker whose versions have all expired (a moved-aside file, a table's expired
      // file) is removed, so the bucket does not fill with markers over nothing.
      { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true },
      ...inboxLifecycleRules(props.config),
    ],
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const staging = new s3.Bucket(stack, 'Staging', {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    versioned: BucketSettings.staging.versioned,
    serverAccessLogsBucket: accessLogs,
    serverAccessLogsPrefix: 'staging/',
    lifecycleRules: [
      {
        id: 'expire-applied-batches',
        prefix: StagingLayout.batchesPrefix,
        tagFilters: { [StagingLayout.appliedTag.key]: StagingLayout.appliedTag.value },
        expiration: Duration.days(appliedDays),
      },
      { id: 'expire-unapplied-batches', prefix: StagingLayout.batchesPrefix, expiration: Duration.days(unappliedDays) },
      { id: 'expire-manifests', prefix: StagingLayout.manifestsPrefix, expiration: Duration.days(unappliedDays) },
      { id: 'abort-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
    ],
    removalPolicy: RemovalPolicy.RETAIN,
  });
  return { inbox, staging };
}

/**
 * Each table's `inbox` setting (shared/core/inbox-lifecycle.ts) as a lifecycle rule on its
 * prefix: a transition to a cheaper storage class and/or an expiry, counted from the file's
 * arrival. Tables without it keep their files.
 */
function inboxLifecycleRules(config: LandfallOptions['config']): s3.LifecycleRule[] {
  return config.tables.flatMap((table, i): s3.LifecycleRule[] => {
    const inbox = table.inbox;
    if (!inbox) return [];
    return [
      {
        id: `table-${i}-files`,
        prefix: table.prefix,
        ...(inbox.expireAfterDays !== undefined ? { expiration: Duration.days(inbox.expireAfterDays) } : {}),
        ...(inbox.storageClass && inbox.transitionAfterDays !== undefined
          ? { transitions: [{ storageClass: new s3.StorageClass(inbox.storageClass), transitionAfter: Duration.days(inbox.transitionAfterDays) }] }
          : {}),
      },
    ];
  });
}

/** The five queues of QueueSettings, dead-letter targets first. */
function createQueues(stack: Stack, prefix: string, highThroughputFifo: boolean): Record<QueueKey, sqs.Queue> {
  const made: Partial<Record<QueueKey, sqs.Queue>> = {};
  const order: QueueKey[] = ['parking', 'batchesDlq', 'batches', 'intakeDlq', 'intake'];
  for (const key of order) {
    const setting: QueueSetting = QueueSettings[key];
    const highThroughput = key === 'batches' && highThroughputFifo;
    const deadLetterQueue = setting.deadLetter && made[setting.deadLetter.queue];
    made[key] = new sqs.Queue(stack, `${key.charAt(0).toUpperCase()}${key.slice(1)}Queue`, {
      queueName: queueName(key, prefix),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(setting.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(setting.retentionSeconds),
      ...(setting.fifo ? { fifo: true, contentBasedDeduplication: false } : {}),
      ...(highThroughput
        ? { deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP, fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID }
        : {}),
      ...(setting.deadLetter && deadLetterQueue
        ? { deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: setting.deadLetter.maxReceiveCount } }
        : {}),
    });
  }
  return made as Record<QueueKey, sqs.Queue>;
}

/** The three functions, each with its queue as event source; the producer never touches the database, so it stays outside the VPC. */
function createFunctions(stack: Stack, props: LandfallStackProps, shared: { prefix: string; configJson: string; metricsNamespace: string; database: LandfallDatabase }) {
  const entries: FunctionEntries = { ...DEFAULT_ENTRIES, ...props.entries };
  const logRetention = (props.logRetentionDays ?? 30) as logs.RetentionDays;
  const common = {
    [EnvVar.powertoolsLogLevel]: props.logLevel ?? 'INFO',
    [EnvVar.powertoolsMetricsNamespace]: shared.metricsNamespace,
    [EnvVar.configJson]: shared.configJson,
  };
  const fn = <K extends keyof FunctionEntries>(kind: K, inVpc: boolean, recursiveLoop?: lambda.RecursiveLoop) =>
    new PipelineFunction(stack, `${kind.charAt(0).toUpperCase()}${kind.slice(1)}`, {
      kind,
      projectRoot: PROJECT_ROOT,
      entry: entries[kind],
      functionName: `${shared.prefix}-${kind}`,
      environment: { ...common, [EnvVar.powertoolsServiceName]: MetricContract.serviceNames[kind] },
      logRetention,
      ...(recursiveLoop ? { recursiveLoop } : {}),
      ...(inVpc && shared.database.network ? { vpc: shared.database.network } : {}),
    });
  // A file too large for one invocation is continued through the intake queue that invokes the
  // producer: a loop on purpose. Lambda's loop detection would stop it after 16 invocations
  // (about 100–200 GB) and drop the continuation; the producer's own per-file cap
  // (LANDFALL_PRODUCER_LIMITS) stops a runaway chain instead, with a reason in the ledger.
  const producer = fn('producer', false, lambda.RecursiveLoop.ALLOW);
  producer.setting(EnvVar.producerLimits, JSON.stringify({ maxInvocationsPerFile: props.producerMaxInvocationsPerFile ?? DEFAULT_MAX_INVOCATIONS_PER_FILE }));
  return { producer, consumer: fn('consumer', true), replay: fn('replay', true) };
}

/**
 * Reserved concurrency (optional): the consumer keeps its event source's maximum plus one for
 * the deploy step's invocation, replay its maximum, so neither is throttled by other functions
 * of the account, and neither can take more connections than the budget counted.
 */
function reserveConcurrency(functions: ReturnType<typeof createFunctions>, consumerMaxConcurrency: number) {
  const reserve = (fn: PipelineFunction, n: number) => {
    (fn.function.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions = n;
  };
  reserve(functions.consumer, consumerMaxConcurrency + 1);
  reserve(functions.replay, FunctionSettings.replay.maxConcurrency);
}

/** Each function driven by its queue (ReportBatchItemFailures; batch sizes and concurrency from FunctionSettings). */
function addEventSources(functions: ReturnType<typeof createFunctions>, queues: Record<QueueKey, sqs.Queue>, props: LandfallStackProps) {
  functions.producer.function.addEventSource(
    new lambdaEvents.SqsEventSource(queues.intake, {
      batchSize: FunctionSettings.producer.batchSize,
      reportBatchItemFailures: true,
      maxConcurrency: props.producerMaxConcurrency ?? FunctionSettings.producer.maxConcurrency,
    }),
  );
  functions.consumer.function.addEventSource(
    new lambdaEvents.SqsEventSource(queues.batches, {
      batchSize: FunctionSettings.consumer.batchSize,
      reportBatchItemFailures: true,
      maxConcurrency: props.consumerMaxConcurrency ?? defaultConsumerMaxConcurrency(props.config),
    }),
  );
  functions.replay.function.addEventSource(
    new lambdaEvents.SqsEventSource(queues.batchesDlq, {
      batchSize: FunctionSettings.replay.batchSize,
      reportBatchItemFailures: true,
      maxConcurrency: FunctionSettings.replay.maxConcurrency,
    }),
  );
}

/**
 * SendMessage only: the functions get queue URLs from their environment, so neither GetQueueUrl
 * nor GetQueueAttributes (what grantSendMessages adds) is ever called.
 */
function grantSend(role: iam.Role, sid: string, queue: sqs.Queue) {
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid, actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
}

/**
 * ChangeMessageVisibility on the function's own queue only: the consumer and replay make a failed
 * record visible again after a short backoff instead of the queue's visibility timeout
 * (shared/core/retry-policy.ts). Bound with LANDFALL_SOURCE_QUEUE_URL, the queue it names.
 */
function grantVisibility(role: iam.Role, sid: string, queue: sqs.Queue) {
  role.addToPrincipalPolicy(new iam.PolicyStatement({ sid, actions: ['sqs:ChangeMessageVisibility'], resources: [queue.queueArn] }));
}

/** The batch objects and manifests the producer writes and the consumer and replay read. */
function stagingObjectsOf(staging: s3.Bucket): string[] {
  return [StagingLayout.batchesPrefix, StagingLayout.manifestsPrefix].map((p) => staging.arnForObjects(`${p}*`));
}

/**
 * Producer: read (any version of) what lands under the configured prefixes, move unreadable
 * files aside (copy under rejected/, then a delete marker over the notified version: never a
 * permanent delete, the version expires with the bucket's noncurrent-version rule), write
 * rejects there, and write batches and manifests to staging (deleting them again if the file
 * turns out unreadable half-way). ListBucket, only under the table prefixes, makes S3 answer
 * 404, not 403, for a vanished file.
 */
function grantProducer(producer: PipelineFunction<'producer'>, on: { config: LandfallOptions['config']; inbox: s3.Bucket; staging: s3.Bucket; batches: sqs.Queue; intake: sqs.Queue }) {
  const { inbox, staging } = on;
  const tableObjects = on.config.tables.map((t) => inbox.arnForObjects(`${t.prefix}*`));
  producer.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadAndMoveInboxFiles',
      actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:DeleteObject'],
      resources: tableObjects,
    }),
  );
  producer.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'WriteInboxRejects',
      actions: ['s3:PutObject'],
      resources: [inbox.arnForObjects(`${InboxLayout.rejectsPrefix}*`)],
    }),
  );
  producer.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'TellMissingFromForbidden',
      actions: ['s3:ListBucket'],
      resources: [inbox.bucketArn],
    }),
  );
  // Staging: batches and manifests written (and deleted again when the file turns out
  // unreadable half-way); the tables' catalog snapshots (written by the consumer and replay, the
  // producer has no database) and the manifests of files already produced (re-sent, not cut
  // again; issue 11, finding 1) read. ListBucket, only under those prefixes, makes S3 answer
  // 404, not 403, for one that does not exist yet: the producer's usual case.
  producer.bind(EnvVar.stagingBucket, staging.bucketName, (role) => {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteStaging',
        actions: ['s3:PutObject', 's3:DeleteObject'],
        resources: stagingObjectsOf(staging),
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadCatalogSnapshotsAndManifests',
        actions: ['s3:GetObject'],
        resources: [staging.arnForObjects(`${StagingLayout.catalogPrefix}*`), staging.arnForObjects(`${StagingLayout.manifestsPrefix}*`)],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TellMissingFromForbiddenInStaging',
        actions: ['s3:ListBucket'],
        resources: [staging.bucketArn],
      }),
    );
  });
  producer.bind(EnvVar.batchesQueueUrl, on.batches.queueUrl, (role) => grantSend(role, 'SendBatches', on.batches));
  // A file too large for one invocation goes on in a fresh one: its continuation goes back on the intake queue.
  producer.bind(EnvVar.intakeQueueUrl, on.intake.queueUrl, (role) => grantSend(role, 'SendContinuations', on.intake));
}

/**
 * Consumer and replay: read staging, tag applied batches, write catalog snapshots, reach the
 * database, change the visibility of their own queue's records. The consumer routes poison
 * batches to the DLQ itself; replay sends nothing: SQS's redrive moves what it cannot finish to
 * the parking queue.
 */
function grantConsumerAndReplay(fns: { consumer: PipelineFunction<'consumer'>; replay: PipelineFunction<'replay'> }, on: { staging: s3.Bucket; batches: sqs.Queue; dlq: sqs.Queue; database: LandfallDatabase }) {
  const { staging } = on;
  for (const pf of [fns.consumer, fns.replay]) {
    pf.bind(EnvVar.stagingBucket, staging.bucketName, (role) => {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadStaging', actions: ['s3:GetObject'], resources: stagingObjectsOf(staging) }));
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'TagAppliedBatches',
          actions: ['s3:PutObjectTagging'],
          resources: [staging.arnForObjects(`${StagingLayout.batchesPrefix}*`)],
        }),
      );
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'WriteCatalogSnapshots',
          actions: ['s3:PutObject'],
          resources: [staging.arnForObjects(`${StagingLayout.catalogPrefix}*`)],
        }),
      );
    });
    pf.bindDatabase(on.database);
  }
  fns.consumer.bind(EnvVar.dlqUrl, on.dlq.queueUrl, (role) => grantSend(role, 'SendPoisonBatches', on.dlq));
  fns.consumer.bind(EnvVar.sourceQueueUrl, on.batches.queueUrl, (role) => grantVisibility(role, 'RetryOwnBatchesSoon', on.batches));
  fns.replay.bind(EnvVar.sourceQueueUrl, on.dlq.queueUrl, (role) => grantVisibility(role, 'RetryOwnReplaysSoon', on.dlq));
}

/** The names an operator needs after `cdk deploy`. */
function addOutputs(stack: LandfallStack) {
  const { queues } = stack;
  new CfnOutput(stack, 'AlarmTopicArn', { value: stack.monitoring.topic.topicArn, description: 'SNS topic of the Landfall alarms' });
  new CfnOutput(stack, 'InboxBucketName', { value: stack.inbox.bucketName, description: 'Drop files here under a table prefix' });
  new CfnOutput(stack, 'StagingBucketName', { value: stack.staging.bucketName });
  new CfnOutput(stack, 'BatchesQueueUrl', { value: queues.batches.queueUrl });
  new CfnOutput(stack, 'DlqUrl', { value: queues.batchesDlq.queueUrl });
  new CfnOutput(stack, 'ParkingQueueUrl', { value: queues.parking.queueUrl });
  if (stack.database.proxy) {
    new CfnOutput(stack, 'ProxyEndpoint', { value: stack.database.proxy.endpoint, description: 'RDS Proxy (IAM auth, TLS)' });
  }
  if (stack.database.instance) {
    new CfnOutput(stack, 'DatabaseEndpoint', {
      value: stack.database.instance.dbInstanceEndpointAddress,
      description: 'PostgreSQL itself (port 5432), for `landfall grant-role` and your own tables from an admin host',
    });
  }
  if (stack.database.instance?.secret) {
    new CfnOutput(stack, 'DatabaseSecretArn', {
      value: stack.database.instance.secret.secretArn,
      description: 'Master credentials of the database: only for `landfall grant-role` (the functions and the proxy use IAM)',
    });
  }
}

/**
 * The whole pipeline: inbox → intake queue → producer → staging + batches.fifo → consumer →
 * PostgreSQL (through RDS Proxy), DLQ → replay → parking, with alarms and a dashboard. Every
 * part is made by one function above, with the stack as its scope (the logical ids of a
 * deployed stack stay what they were); each variable a function reads is bound together with
 * the grant that makes it usable (`PipelineFunction.bind`).
 */
export class LandfallStack extends Stack {
  readonly inbox: s3.Bucket;
  readonly staging: s3.Bucket;
  readonly queues: Record<QueueKey, sqs.Queue>;
  readonly producer: PipelineFunction<'producer'>;
  readonly consumer: PipelineFunction<'consumer'>;
  readonly replay: PipelineFunction<'replay'>;
  readonly database: LandfallDatabase;
  readonly monitoring: Monitoring;
  readonly prepareTables: PrepareTablesOnDeploy;
  /** The database connections the functions may hold against what the database accepts (undefined in LocalStack mode). */
  readonly connectionBudget: ConnectionBudget | undefined;

  constructor(scope: Construct, id: string, props: LandfallStackProps) {
    validateOptions(props);
    super(scope, id, { ...props, env: stackEnvironment(props, props.env) });
    // The access-log bucket takes no ACLs (BucketOwnerEnforced): S3's log delivery is granted in
    // its bucket policy, whatever the app's cdk.json says.
    this.node.setContext(S3_LOGS_USE_BUCKET_POLICY, true);
    const prefix = props.namePrefix ?? DEFAULT_NAME_PREFIX;
    const config = props.config;
    const configJson = configJsonOf(config);
    const metricsNamespace = props.metricsNamespace ?? MetricContract.namespace;

    ({ inbox: this.inbox, staging: this.staging } = createBuckets(this, props));
    this.queues = createQueues(this, prefix, props.highThroughputFifo === true);
    this.connectionBudget = deploymentBudget(props);
    if (this.connectionBudget && this.connectionBudget.verdict !== 'fits') {
      // validateOptions refused an exceeding budget unless connectionBudget is "warn".
      Annotations.of(this).addWarningV2('@landfall/connection-budget', this.connectionBudget.message);
    }
    this.database = new LandfallDatabase(this, 'Database', props.database ?? { mode: 'new' }, { logRetention: (props.logRetentionDays ?? 30) as logs.RetentionDays });
    ({ producer: this.producer, consumer: this.consumer, replay: this.replay } = createFunctions(this, props, {
      prefix,
      configJson,
      metricsNamespace,
      database: this.database,
    }));

    const intakeDestination = new AccountBoundSqsDestination(this.queues.intake);
    for (const table of config.tables) {
      this.inbox.addEventNotification(s3.EventType.OBJECT_CREATED, intakeDestination, { prefix: table.prefix });
    }
    addEventSources(this, this.queues, props);
    if (props.reservedConcurrency) reserveConcurrency(this, props.consumerMaxConcurrency ?? defaultConsumerMaxConcurrency(config));
    grantProducer(this.producer, { config, inbox: this.inbox, staging: this.staging, batches: this.queues.batches, intake: this.queues.intake });
    grantConsumerAndReplay(this, { staging: this.staging, batches: this.queues.batches, dlq: this.queues.batchesDlq, database: this.database });
    // The deploy step: every table's catalog snapshot in staging before the first file.
    this.prepareTables = new PrepareTablesOnDeploy(this, 'PrepareTables', {
      consumer: this.consumer.function,
      config,
      after: [this.consumer, this.database, this.staging],
    });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      config,
      metricsNamespace,
      queues: this.queues,
      functions: { producer: this.producer.function, consumer: this.consumer.function, replay: this.replay.function },
      oldestBatchAlarmSeconds: props.oldestBatchAlarmSeconds ?? 900,
      dashboardName: `${prefix}-pipeline`,
      ...(props.alarmEmail ? { alarmEmail: props.alarmEmail } : {}),
      ...(this.database.instance && this.database.proxy && props.database?.mode !== 'existing' && props.database?.mode !== 'localstack'
        ? {
            database: {
              instance: this.database.instance,
              proxy: this.database.proxy,
              allocatedStorageGiB: props.database?.allocatedStorageGiB ?? 20,
              maxConnections: this.connectionBudget?.maxConnections,
              plannedConnections: this.connectionBudget?.demand.total,
            },
          }
        : {}),
    });
    addOutputs(this);

    acknowledgeNagFindings({
      stack: this,
      config,
      inbox: this.inbox,
      staging: this.staging,
      producer: this.producer,
      consumer: this.consumer,
      replay: this.replay,
      database: this.database,
      multiAz: props.database?.mode === 'new' && props.database.multiAz === true,
    });
  }
}
