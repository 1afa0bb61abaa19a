import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { LandfallConfig } from '../shared/core/config.ts';
import { MetricContract } from '../shared/core/resources.ts';

export interface MonitoringProps {
  readonly config: LandfallConfig;
  readonly metricsNamespace: string;
  readonly queues: { intake: sqs.IQueue; intakeDlq: sqs.IQueue; batches: sqs.IQueue; batchesDlq: sqs.IQueue; parking: sqs.IQueue };
  readonly functions: { producer: lambda.IFunction; consumer: lambda.IFunction; replay: lambda.IFunction };
  readonly oldestBatchAlarmSeconds: number;
  readonly alarmEmail?: string;
  readonly dashboardName: string;
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
    props.config.tables.forEach((table, i) => {
      this.alarm(
        `QuarantinedRows${i}`,
        rowMetric(MetricContract.rows.quarantined, table.table),
        0,
        `Rows of ${table.table} were quarantined. See \`landfall quarantine ls\`.`,
      );
    });

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

  private alarm(id: string, metric: cloudwatch.IMetric, threshold: number, description: string, evaluationPeriods = 1) {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
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
