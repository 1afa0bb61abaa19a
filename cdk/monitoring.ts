import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { LandfallConfig } from '../shared/core/config.ts';
import { MetricContract, QueueSettings } from '../shared/core/resources.ts';

export interface MonitoringProps {
  readonly config: LandfallConfig;
  readonly metricsNamespace: string;
  readonly queues: { intake: sqs.IQueue; intakeDlq: sqs.IQueue; batches: sqs.IQueue; batchesDlq: sqs.IQueue; parking: sqs.IQueue };
  readonly functions: { producer: lambda.IFunction; consumer: lambda.IFunction; replay: lambda.IFunction };
  readonly oldestBatchAlarmSeconds: number;
  readonly alarmEmail?: string;
  readonly dashboardName: string;
  /** The stack's own database and proxy (new-database mode), with the numbers its alarms compare to. */
  readonly database?: {
    readonly instance: rds.DatabaseInstance;
    readonly proxy: rds.DatabaseProxy;
    readonly allocatedStorageGiB: number;
    /** The database's max_connections (set, or RDS's default for the class); undefined when unknown. */
    readonly maxConnections: number | undefined;
    /** The connections the functions may hold (the connection budget's demand). */
    readonly plannedConnections: number | undefined;
  };
}

const HOUR = 3600;
const DAY = 24 * HOUR;
const GIB = 1024 ** 3;
/**
 * A message waiting this long notifies again (the "not empty" alarms stay in ALARM after their
 * first notification): in the DLQ, replay should have finished or parked it within hours; in
 * parking and the intake DLQ only a person moves it, and SQS deletes it after 14 days.
 */
export const MessageAgeAlarms = {
  batchesDlq: 6 * HOUR,
  parking: 3 * DAY,
  intakeDlq: 3 * DAY,
} as const;

interface AlarmOptions {
  evaluationPeriods?: number;
  comparison?: cloudwatch.ComparisonOperator;
}

const ONE_MINUTE = Duration.minutes(1);
const FIVE_MINUTES = Duration.minutes(5);

/**
 * What pages the operator, and what they look at when it does: alarms on everything that
 * means "a row is waiting for a human" (DLQs, parking, quarantine) or "the pipeline is stuck"
 * (old batches, errors), published to one encrypted SNS topic, and one dashboard.
 */
export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    // A customer-managed key: CloudWatch cannot publish to a topic under the AWS-managed SNS key.
    const key = new kms.Key(this, 'TopicKey', {
      description: 'Landfall alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // Only for alarms of this account and region (confused deputy): CloudWatch's requests carry
    // aws:SourceAccount and aws:SourceArn (the alarm), as AWS's own MDAA constructs rely on
    // (grantCloudWatchAlarmsTopicAccess). Alarm names are generated, hence the wildcard.
    const stack = Stack.of(this);
    const alarmsOfThisAccount = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
    };
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: alarmsOfThisAccount,
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'Landfall alarms', masterKey: key, enforceSSL: true });
    // enforceSSL makes CDK write a topic policy, and a topic policy replaces SNS's default one:
    // without this statement its only statement denies publishing without TLS, so no alarm
    // could ever publish (AWS's guidance on alarms that never notify names exactly this). The
    // same confused-deputy conditions as the key's statement above.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: alarmsOfThisAccount,
      }),
    );
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    const { queues, functions } = props;
    const depth = (queue: sqs.IQueue, label: string) =>
      new cloudwatch.MathExpression({
        expression: 'visible + inflight',
        usingMetrics: {
          visible: queue.metricApproximateNumberOfMessagesVisible({ period: ONE_MINUTE, statistic: 'Maximum' }),
          inflight: queue.metricApproximateNumberOfMessagesNotVisible({ period: ONE_MINUTE, statistic: 'Maximum' }),
        },
        label,
        period: ONE_MINUTE,
      });

    this.alarm('BatchesDlqNotEmpty', depth(queues.batchesDlq, 'batches DLQ messages'), 0,
      'Poison batches are in the DLQ: replay is working on them or failing. Check the replay logs and `landfall quarantine ls`.');
    this.alarm('IntakeDlqNotEmpty', depth(queues.intakeDlq, 'intake DLQ messages'), 0,
      'The producer failed on an inbox notification five times. Check the producer logs; re-drive with an SQS message move task.');
    this.alarm('ParkingNotEmpty', depth(queues.parking, 'parking messages'), 0,
      'Replay gave up on a batch: it is parked. Fix the cause, then `landfall replay BATCH`.');
    this.alarm(
      'OldestBatchTooOld',
      queues.batches.metricApproximateAgeOfOldestMessage({ period: ONE_MINUTE, statistic: 'Maximum' }),
      props.oldestBatchAlarmSeconds,
      `A batch has waited more than ${props.oldestBatchAlarmSeconds} s: the consumer is failing, throttled or the database is slow.`,
      3,
    );
    // The same queues again, by the age of their oldest message: a reminder before SQS deletes it.
    const days = (seconds: number) => (seconds % DAY === 0 ? `${seconds / DAY} days` : `${seconds / HOUR} hours`);
    const retention = days(QueueSettings.parking.retentionSeconds);
    this.alarm(
      'BatchesDlqMessageAging',
      queues.batchesDlq.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' }),
      MessageAgeAlarms.batchesDlq,
      `A batch has been in the DLQ for more than ${days(MessageAgeAlarms.batchesDlq)}: replay keeps failing on it without parking it, or is not running. Check the replay logs; SQS deletes it after ${retention}.`,
    );
    this.alarm(
      'ParkedBatchAging',
      queues.parking.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' }),
      MessageAgeAlarms.parking,
      `A batch has been parked for more than ${days(MessageAgeAlarms.parking)}; SQS deletes it after ${retention}. Fix the cause, then \`landfall replay BATCH\` (or move the parking queue back to the DLQ with an SQS message move task, docs/deploy.md).`,
    );
    this.alarm(
      'IntakeDlqMessageAging',
      queues.intakeDlq.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' }),
      MessageAgeAlarms.intakeDlq,
      `An inbox notification the producer failed on has waited more than ${days(MessageAgeAlarms.intakeDlq)}; SQS deletes it ${retention} after the file arrived. Check the producer logs, then move it back to the intake queue with an SQS message move task.`,
    );

    for (const [name, fn] of Object.entries(functions)) {
      this.alarm(
        `${capitalise(name)}Errors`,
        fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
        0,
        `The ${name} function failed (error, timeout or crash). Check its log group.`,
      );
      // A partial failure (some records reported back to SQS) is a successful invocation for
      // Lambda: only the function's own count of failed records shows it.
      this.alarm(
        `${capitalise(name)}FailedRecords`,
        new cloudwatch.Metric({
          namespace: props.metricsNamespace,
          metricName: MetricContract.failedRecords,
          dimensionsMap: { service: MetricContract.serviceNames[name as keyof typeof functions] },
          statistic: 'Sum',
          period: FIVE_MINUTES,
        }),
        0,
        `The ${name} function failed on SQS records; they come again, and after maxReceiveCount go to the dead-letter queue. Check its log group.`,
      );
    }
    // Consumer and replay both emit the row counts (each with its own `service` dimension);
    // a table's figure is the sum of the two.
    const rowMetric = (metricName: string, table: string) => {
      const emitted = (service: string) =>
        new cloudwatch.Metric({
          namespace: props.metricsNamespace,
          metricName,
          dimensionsMap: { service, [MetricContract.tableDimension]: table },
          statistic: 'Sum',
          period: FIVE_MINUTES,
        });
      // Ids are unique per graph, which shows several of these expressions side by side.
      const [c, r] = [`consumer_${metricName}`, `replay_${metricName}`];
      return new cloudwatch.MathExpression({
        expression: `FILL(${c}, 0) + FILL(${r}, 0)`,
        usingMetrics: {
          [c]: emitted(MetricContract.serviceNames.consumer),
          [r]: emitted(MetricContract.serviceNames.replay),
        },
        label: `${table} ${metricName}`,
        period: FIVE_MINUTES,
      });
    };
    // Continuations (a file larger than one invocation goes on through the intake queue).
    const producerMetric = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: props.metricsNamespace,
        metricName,
        dimensionsMap: { service: MetricContract.serviceNames.producer },
        statistic: 'Sum',
        period: FIVE_MINUTES,
      });
    this.alarm(
      'ProducerFileContinued',
      producerMetric(MetricContract.filesContinued),
      0,
      'The producer is reading a file across several invocations (each continues it through the intake queue). Follow it with `landfall status`; RecursiveInvocationsDropped would mean Lambda stopped the chain.',
    );
    this.alarm(
      'ProducerRecursionDropped',
      new cloudwatch.Metric({
        namespace: 'AWS/Lambda',
        metricName: 'RecursiveInvocationsDropped',
        dimensionsMap: { FunctionName: functions.producer.functionName },
        statistic: 'Sum',
        period: FIVE_MINUTES,
      }),
      0,
      "Lambda's recursive loop detection dropped a producer continuation: the file stalls. The producer must allow recursive loops (recursiveLoop: Allow); check its configuration (aws lambda get-function-recursion-config).",
    );
    this.alarm(
      'ProducerFileMovedAside',
      producerMetric(MetricContract.filesMovedAside),
      0,
      'The producer moved a file aside (unreadable, a header that does not fit, or more invocations than its per-file cap). `landfall status` gives the reason and the fix.',
    );

    props.config.tables.forEach((table, i) => {
      this.alarm(
        `QuarantinedRows${i}`,
        rowMetric(MetricContract.rows.quarantined, table.table),
        0,
        `Rows of ${table.table} were quarantined. See \`landfall quarantine ls\`.`,
      );
    });

    if (props.database) this.databaseAlarms(props.database);

    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(6),
    });
    const rowNames = [
      MetricContract.rows.inserted,
      MetricContract.rows.updated,
      MetricContract.rows.unchanged,
      MetricContract.rows.stale,
      MetricContract.rows.deleted,
      MetricContract.rows.quarantined,
    ];
    dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# Landfall\nRows per table (sum per 5 minutes), queue depths and function health. Alarms go to the SNS topic in the stack outputs.`,
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      ...props.config.tables.map(
        (table) =>
          new cloudwatch.GraphWidget({
            title: `${table.table}: rows`,
            left: rowNames.map((name) => rowMetric(name, table.table)),
            width: 12,
            stacked: false,
          }),
      ),
    );
    const queueDepth = (queue: sqs.IQueue, label: string) =>
      queue.metricApproximateNumberOfMessagesVisible({ period: ONE_MINUTE, statistic: 'Maximum', label });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Queue depth (visible)',
        left: [
          queueDepth(queues.intake, 'intake'),
          queueDepth(queues.batches, 'batches'),
          queueDepth(queues.batchesDlq, 'batches DLQ'),
          queueDepth(queues.parking, 'parking'),
          queueDepth(queues.intakeDlq, 'intake DLQ'),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Age of oldest message (s)',
        left: [
          queues.intake.metricApproximateAgeOfOldestMessage({ period: ONE_MINUTE, statistic: 'Maximum', label: 'intake' }),
          queues.batches.metricApproximateAgeOfOldestMessage({ period: ONE_MINUTE, statistic: 'Maximum', label: 'batches' }),
        ],
        width: 12,
      }),
    );
    dashboard.addWidgets(
      ...Object.entries(functions).map(
        ([name, fn]) =>
          new cloudwatch.GraphWidget({
            title: `${name}: invocations, errors, throttles`,
            left: [
              fn.metricInvocations({ period: FIVE_MINUTES, statistic: 'Sum' }),
              fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
              fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }),
            ],
            right: [fn.metricDuration({ period: FIVE_MINUTES, statistic: 'p99' })],
            width: 8,
          }),
      ),
    );
    dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }),
    );
  }

  /** Storage, CPU and connections of the stack's database, and the clients of its proxy. */
  private databaseAlarms(db: NonNullable<MonitoringProps['database']>) {
    const { instance, proxy } = db;
    // Storage autoscaling adds space when less than 10% is free; free space that stays low for
    // half an hour means it cannot (at maxAllocatedStorage, or within 6 hours of the last growth).
    const freeGiB = Math.max(2, Math.round(db.allocatedStorageGiB * 0.1));
    this.alarm(
      'DatabaseFreeStorageLow',
      instance.metricFreeStorageSpace({ period: FIVE_MINUTES, statistic: 'Minimum' }),
      freeGiB * GIB,
      `PostgreSQL has had less than ${freeGiB} GiB free for 30 minutes: storage autoscaling has reached maxAllocatedStorage or cannot grow yet. Raise maxAllocatedStorageGiB (-c landfall:dbMaxAllocatedStorageGiB) or free space (VACUUM, old tombstones, expired partitions).`,
      { evaluationPeriods: 6, comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD },
    );
    this.alarm(
      'DatabaseCpuHigh',
      instance.metricCPUUtilization({ period: FIVE_MINUTES, statistic: 'Average' }),
      90,
      'PostgreSQL has used more than 90% CPU for 15 minutes: batches slow down and wait. See Performance Insights for the top statements; fewer partitions or a larger instance class (docs/deploy.md).',
      { evaluationPeriods: 3 },
    );
    if (db.maxConnections !== undefined) {
      const high = Math.floor(db.maxConnections * 0.9);
      this.alarm(
        'DatabaseConnectionsHigh',
        instance.metricDatabaseConnections({ period: FIVE_MINUTES, statistic: 'Maximum' }),
        high,
        `PostgreSQL has had more than ${high} connections (90% of max_connections ${db.maxConnections}) for 15 minutes: new logins will be refused. Check who connects besides the proxy (pg_stat_activity), and the connection budget in docs/deploy.md.`,
        { evaluationPeriods: 3 },
      );
    }
    if (db.plannedConnections !== undefined) {
      this.alarm(
        'ProxyClientConnectionsHigh',
        new cloudwatch.Metric({
          namespace: 'AWS/RDS',
          metricName: 'ClientConnections',
          dimensionsMap: { ProxyName: proxy.dbProxyName },
          statistic: 'Maximum',
          period: FIVE_MINUTES,
        }),
        db.plannedConnections,
        `RDS Proxy has had more than ${db.plannedConnections} client connections (what the functions may hold by the connection budget) for 15 minutes: something else connects through it, or a function's concurrency is above its event source's maximum.`,
        { evaluationPeriods: 3 },
      );
    }
  }

  private alarm(id: string, metric: cloudwatch.IMetric, threshold: number, description: string, options: AlarmOptions | number = {}) {
    const { evaluationPeriods = 1, comparison = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD } = typeof options === 'number' ? { evaluationPeriods: options } : options;
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      comparisonOperator: comparison,
      evaluationPeriods,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    alarm.addOkAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);
    return alarm;
  }
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
