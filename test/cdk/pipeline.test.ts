import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { EnvVar } from '../../shared/environment/env.ts';
import { FunctionSettings, InboxLayout, MetricContract, StagingLayout, VISIBILITY_TIMEOUT_FACTOR } from '../../shared/core/resources.ts';
import { REJECTED_PREFIX } from '../../shared/core/keys.ts';
import { RetryPolicy } from '../../shared/core/retry-policy.ts';
import { VPC_ENI_ACTIONS } from '../../cdk/pipeline-function.ts';
import { PROJECT_ROOT } from '../../cdk/landfall-stack.ts';
import { logicalIdOf, realEntries, propertiesOf, type Synth, synth, testConfig } from './helpers.ts';

// GIVEN the default deployment (new VPC, RDS, proxy), bundled from the real handler entries,
// synthesised once for the whole file.
const entries = realEntries();
let s: Synth;
let t: Template;
beforeAll(() => {
  s = synth({ entries }, { bundle: true });
  t = s.template;
}, 120_000);

const fnId = (name: string) => logicalIdOf(t, 'AWS::Lambda::Function', { FunctionName: `landfall-${name}` });
const queueId = (name: string) => logicalIdOf(t, 'AWS::SQS::Queue', { QueueName: name });
const getAtt = (id: string, attr = 'Arn') => ({ 'Fn::GetAtt': [id, attr] });

describe('handler bundles', () => {
  it('bundles every function with local esbuild into ESM with a source map', () => {
    const assets = readdirSync(s.app.outdir).filter((d) => d.startsWith('asset.'));
    const bundled = assets.filter((d) => existsSync(join(s.app.outdir, d, 'index.mjs')) && existsSync(join(s.app.outdir, d, 'index.mjs.map')));
    expect(bundled.length).toBe(new Set(Object.values(entries)).size);
  });

  it('bundles the real handler entries into modules that load and export handler', async () => {
    const real = Object.keys(entries);
    const loaded: Record<string, string> = {};
    for (const kind of real) {
      const code = propertiesOf(t, fnId(kind)).Code as { S3Key: string };
      const bundle = join(s.app.outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`, 'index.mjs');
      loaded[kind] = typeof ((await import(bundle)) as { handler?: unknown }).handler;
    }
    expect(loaded).toEqual(Object.fromEntries(real.map((kind) => [kind, 'function'])));
    expect(real).toEqual(['producer', 'consumer', 'replay']);
  });
});

describe('queues', () => {
  it('batches.fifo is FIFO with explicit deduplication ids', () => {
    t.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'landfall-batches.fifo',
      FifoQueue: true,
      ContentBasedDeduplication: false,
    });
  });

  it('batches.fifo redrives to the FIFO DLQ after at least 5 receives', () => {
    t.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'landfall-batches.fifo',
      RedrivePolicy: {
        deadLetterTargetArn: getAtt(queueId('landfall-batches-dlq.fifo')),
        maxReceiveCount: Match.anyValue(),
      },
    });
    const policy = propertiesOf(t, queueId('landfall-batches.fifo')).RedrivePolicy as { maxReceiveCount: number };
    expect(policy.maxReceiveCount).toBeGreaterThanOrEqual(5);
  });

  it('the DLQ is FIFO and redrives to the parking queue', () => {
    t.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'landfall-batches-dlq.fifo',
      FifoQueue: true,
      RedrivePolicy: { deadLetterTargetArn: getAtt(queueId('landfall-parking.fifo')), maxReceiveCount: 5 },
    });
  });

  it('the intake queue (standard) redrives to its own DLQ', () => {
    t.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'landfall-intake',
      FifoQueue: Match.absent(),
      RedrivePolicy: { deadLetterTargetArn: getAtt(queueId('landfall-intake-dlq')), maxReceiveCount: 5 },
    });
  });

  it.each([
    ['landfall-batches.fifo', 'consumer'],
    ['landfall-batches-dlq.fifo', 'replay'],
    ['landfall-intake', 'producer'],
  ])('%s has a visibility timeout of at least 6× the %s timeout', (queue, fn) => {
    const timeout = propertiesOf(t, fnId(fn)).Timeout as number;
    const visibility = propertiesOf(t, queueId(queue)).VisibilityTimeout as number;
    expect(visibility).toBeGreaterThanOrEqual(VISIBILITY_TIMEOUT_FACTOR * timeout);
  });

  it('every queue is encrypted and refuses plain HTTP', () => {
    expect(Object.keys(t.findResources('AWS::SQS::Queue', { Properties: { SqsManagedSseEnabled: true } }))).toHaveLength(5);
    t.resourcePropertiesCountIs(
      'AWS::SQS::QueuePolicy',
      { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) } },
      5,
    );
  });
});

describe('event sources', () => {
  it('the consumer reads batches.fifo with ReportBatchItemFailures', () => {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId('consumer') },
      EventSourceArn: getAtt(queueId('landfall-batches.fifo')),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('the consumer batch size is at most 10', () => {
    const [mapping] = Object.values(t.findResources('AWS::Lambda::EventSourceMapping', { Properties: { FunctionName: { Ref: fnId('consumer') } } }));
    expect((mapping as { Properties: { BatchSize: number } }).Properties.BatchSize).toBeLessThanOrEqual(10);
  });

  it('the consumer concurrency defaults to the total of the partitions', () => {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId('consumer') },
      ScalingConfig: { MaximumConcurrency: 12 },
    });
  });

  it('replay is driven by the DLQ, one batch at a time, with ReportBatchItemFailures', () => {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId('replay') },
      EventSourceArn: getAtt(queueId('landfall-batches-dlq.fifo')),
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('the producer reads the intake queue with ReportBatchItemFailures', () => {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId('producer') },
      EventSourceArn: getAtt(queueId('landfall-intake')),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });
});

describe('buckets', () => {
  it('the inbox notifies the intake queue of ObjectCreated once per configured prefix', () => {
    t.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        QueueConfigurations: testConfig.tables.map((table) => ({
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: table.prefix }] } },
          QueueArn: getAtt(queueId('landfall-intake')),
        })),
      },
    });
  });

  it('the inbox is versioned, encrypted and blocks public access', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
  });

  it('every bucket denies requests without TLS', () => {
    t.resourcePropertiesCountIs(
      'AWS::S3::BucketPolicy',
      { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) } },
      3,
    );
  });

  it('staging expires applied (tagged) batch objects after 7 days', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Prefix: StagingLayout.batchesPrefix,
            TagFilters: [{ Key: StagingLayout.appliedTag.key, Value: StagingLayout.appliedTag.value }],
            ExpirationInDays: 7,
            Status: 'Enabled',
          }),
        ]),
      },
    });
  });

  it('the inbox keeps rejects (under the producer\'s rejected/ prefix) longer than batches', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Prefix: REJECTED_PREFIX, ExpirationInDays: 90 })]),
      },
    });
    expect(InboxLayout.rejectsPrefix).toBe(REJECTED_PREFIX);
  });
});

describe('database', () => {
  it('is PostgreSQL 17, encrypted, backed up, deletion-protected, private', () => {
    t.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'postgres',
      EngineVersion: '17',
      StorageEncrypted: true,
      BackupRetentionPeriod: 7,
      DeletionProtection: true,
      PubliclyAccessible: false,
      EnableIAMDatabaseAuthentication: true,
    });
  });

  it('the proxy requires TLS and IAM auth, end to end', () => {
    t.hasResourceProperties('AWS::RDS::DBProxy', {
      EngineFamily: 'POSTGRESQL',
      RequireTLS: true,
      DefaultAuthScheme: 'IAM_AUTH',
    });
  });

  it('ends a transaction left idle (a function killed mid-transaction behind the proxy) in the parameter group', () => {
    t.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: { 'rds.force_ssl': '1', idle_in_transaction_session_timeout: String(RetryPolicy.idleInTransactionMs) },
    });
    expect(RetryPolicy.idleInTransactionMs).toBeLessThan(FunctionSettings.consumer.timeoutSeconds * VISIBILITY_TIMEOUT_FACTOR * 1000);
  });

  it('the proxy has a borrow timeout shorter than the consumer timeout', () => {
    t.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: Match.objectLike({ ConnectionBorrowTimeout: 30 }),
    });
    expect(30).toBeLessThan(FunctionSettings.consumer.timeoutSeconds);
  });
});

describe('network', () => {
  const isolatedSubnets = () =>
    Object.keys(t.findResources('AWS::EC2::Subnet', { Properties: { MapPublicIpOnLaunch: false } }))
      .sort()
      .map((id) => ({ Ref: id }));

  it.each(['consumer', 'replay'])('the %s runs in the private subnets', (name) => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: `landfall-${name}`,
      VpcConfig: { SubnetIds: isolatedSubnets() },
    });
  });

  it('the producer stays outside the VPC', () => {
    t.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'landfall-producer', VpcConfig: Match.absent() });
  });

  it('has no NAT gateway and no internet gateway', () => {
    expect(Object.keys(t.findResources('AWS::EC2::NatGateway')).length + Object.keys(t.findResources('AWS::EC2::InternetGateway')).length).toBe(0);
  });

  it('has an S3 gateway endpoint', () => {
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
    });
  });

  it('has an SQS interface endpoint with private DNS', () => {
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.sqs']] },
      PrivateDnsEnabled: true,
    });
  });
});

describe('functions', () => {
  it.each(['producer', 'consumer', 'replay'])('%s runs Node 24 on ARM64', (name) => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: `landfall-${name}`,
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
    });
  });

  it.each(['producer', 'consumer', 'replay'])('%s logs to its own log group with retention', (name) => {
    const logGroup = (propertiesOf(t, fnId(name)).LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    expect(propertiesOf(t, logGroup).RetentionInDays).toBe(30);
  });

  it.each(['producer', 'consumer', 'replay'] as const)('%s gets the Powertools settings, source maps and the table config', (name) => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: `landfall-${name}`,
      Environment: {
        Variables: Match.objectLike({
          [EnvVar.powertoolsServiceName]: MetricContract.serviceNames[name],
          [EnvVar.powertoolsLogLevel]: 'INFO',
          [EnvVar.powertoolsMetricsNamespace]: MetricContract.namespace,
          NODE_OPTIONS: '--enable-source-maps',
          [EnvVar.configJson]: JSON.stringify(testConfig),
        }),
      },
    });
  });

  it('the consumer is told where the proxy is and which user to sign a token for', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'landfall-consumer',
      Environment: {
        Variables: Match.objectLike({
          [EnvVar.dbHost]: getAtt(logicalIdOf(t, 'AWS::RDS::DBProxy', { EngineFamily: 'POSTGRESQL' }), 'Endpoint'),
          [EnvVar.dbUser]: 'landfall',
        }),
      },
    });
  });
});

describe('least privilege', () => {
  const policyOf = (fn: string) => {
    const role = (propertiesOf(t, fnId(fn)).Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const [policy] = Object.values(t.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } }));
    return (policy as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }).Properties
      .PolicyDocument.Statement;
  };

  it.each(['consumer', 'replay'])('the %s may connect to the proxy as the landfall user only', (fn) => {
    const connect = policyOf(fn).filter((st) => st.Action === 'rds-db:connect');
    expect(connect).toHaveLength(1);
    const joined = JSON.stringify(connect[0]!.Resource);
    expect(joined).toContain(':dbuser:');
    expect(joined).toContain(JSON.stringify({ 'Fn::GetAtt': [logicalIdOf(t, 'AWS::RDS::DBProxy', { EngineFamily: 'POSTGRESQL' }), 'DBProxyArn'] }));
    expect(joined).toMatch(/"\/landfall"\]\]\}$/);
  });

  it('no function policy has a "*" resource except the VPC network-interface actions', () => {
    const starred = ['producer', 'consumer', 'replay'].flatMap((fn) => policyOf(fn).filter((st) => st.Resource === '*'));
    const actions = starred.flatMap((st) => (Array.isArray(st.Action) ? st.Action : [st.Action]));
    expect(actions.filter((a) => !(VPC_ENI_ACTIONS as readonly string[]).includes(a))).toEqual([]);
  });

  it('the producer reads and moves files only under the configured prefixes of the inbox', () => {
    const inbox = logicalIdOf(t, 'AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } });
    const read = policyOf('producer').find((st) => JSON.stringify(st.Action).includes('s3:GetObject'));
    expect(read?.Resource).toEqual(
      testConfig.tables.map((table) => ({ 'Fn::Join': ['', [getAtt(inbox), `/${table.prefix}*`]] })),
    );
  });

  it('the producer reads the catalog snapshots in staging; only the consumer and replay write them', () => {
    const staging = logicalIdOf(t, 'AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Prefix: StagingLayout.manifestsPrefix })]) },
    });
    const snapshots = { 'Fn::Join': ['', [getAtt(staging), `/${StagingLayout.catalogPrefix}*`]] };
    const on = (fn: string) => policyOf(fn).filter((st) => JSON.stringify(st.Resource).includes(JSON.stringify(snapshots))).map((st) => st.Action);
    expect([on('producer'), on('consumer'), on('replay')]).toEqual([['s3:GetObject'], ['s3:PutObject'], ['s3:PutObject']]);
  });

  it('the producer may list staging, so that a snapshot or manifest not written yet is a 404, not a 403', () => {
    const staging = logicalIdOf(t, 'AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Prefix: StagingLayout.manifestsPrefix })]) },
    });
    const list = policyOf('producer').filter((st) => st.Action === 's3:ListBucket').map((st) => st.Resource);
    expect(list).toContainEqual(getAtt(staging));
  });

  it('the producer writes into the inbox only under rejected/', () => {
    const inbox = logicalIdOf(t, 'AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } });
    const puts = policyOf('producer').filter((st) => JSON.stringify(st.Action).includes('s3:PutObject') && JSON.stringify(st.Resource).includes(inbox));
    expect(puts.map((st) => st.Resource)).toEqual([{ 'Fn::Join': ['', [getAtt(inbox), `/${REJECTED_PREFIX}*`]] }]);
  });

  it('the consumer sends only to the DLQ and consumes only batches.fifo', () => {
    const sqsResources = policyOf('consumer')
      .filter((st) => JSON.stringify(st.Action).includes('sqs:'))
      .map((st) => st.Resource);
    expect(sqsResources).toEqual(
      expect.arrayContaining([getAtt(queueId('landfall-batches.fifo')), getAtt(queueId('landfall-batches-dlq.fifo'))]),
    );
    // The event source's grant, the DLQ send, and its own visibility changes (below).
    expect(new Set(sqsResources.map((r) => JSON.stringify(r))).size).toBe(2);
    expect(sqsResources).toHaveLength(3);
  });

  it.each([
    ['consumer', 'RetryOwnBatchesSoon', 'landfall-batches.fifo'],
    ['replay', 'RetryOwnReplaysSoon', 'landfall-batches-dlq.fifo'],
  ])('the %s may change the visibility of its own queue only, bound with the queue it names', (fn, sid, queue) => {
    const statements = policyOf(fn).filter((st) => (st as { Sid?: string }).Sid === sid);
    expect(statements).toEqual([expect.objectContaining({ Action: 'sqs:ChangeMessageVisibility', Resource: getAtt(queueId(queue)) })]);
    const variables = (propertiesOf(t, fnId(fn)).Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables[EnvVar.sourceQueueUrl]).toEqual({ Ref: queueId(queue) });
  });

  it('the producer is granted no visibility change of its own beyond its event source', () => {
    expect(policyOf('producer').filter((st) => /^RetryOwn/.test((st as { Sid?: string }).Sid ?? ''))).toEqual([]);
  });

  it('no function role carries a managed policy', () => {
    for (const fn of ['producer', 'consumer', 'replay']) {
      const role = (propertiesOf(t, fnId(fn)).Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      expect(propertiesOf(t, role).ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('deploy step: the tables prepared before the first file', () => {
  const prepareId = () => Object.keys(t.findResources('Custom::AWS')).find((id) => id.startsWith('PrepareTables'))!;
  /** An SDK call of the custom resource as its handler receives it, with every token named. */
  const callOf = (template: Template, id: string, phase: 'Create' | 'Update') => {
    const value = (template.toJSON().Resources[id] as { Properties: Record<string, unknown> }).Properties[phase] as { 'Fn::Join': [string, unknown[]] };
    const text = value['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : `<${JSON.stringify(part).replace(/"/g, "'")}>`)).join('');
    return JSON.parse(text) as { service: string; action: string; parameters: { FunctionName: string; InvocationType: string; Payload: string }; outputPaths: string[] };
  };

  it.each(['Create', 'Update'] as const)('on %s, invokes the consumer synchronously with the prepare-tables event', (phase) => {
    const call = callOf(t, prepareId(), phase);
    expect([call.service, call.action, call.parameters.FunctionName, call.parameters.InvocationType, JSON.parse(call.parameters.Payload).landfall]).toEqual([
      'Lambda',
      'invoke',
      `<{'Ref':'${fnId('consumer')}'}>`,
      'RequestResponse',
      'prepare-tables',
    ]);
  });

  it('returns only the status code to CloudFormation (the answer could pass its 4 KB limit)', () => {
    expect(callOf(t, prepareId(), 'Create').outputPaths).toEqual(['StatusCode']);
  });

  it('may only invoke the consumer: one statement, one action, one function', () => {
    const policies = Object.values(t.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p).includes('InvokeConsumerOnDeploy'));
    expect(policies.map((p) => (p as { Properties: { PolicyDocument: { Statement: unknown[] } } }).Properties.PolicyDocument.Statement)).toEqual([
      [{ Sid: 'InvokeConsumerOnDeploy', Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: getAtt(fnId('consumer')) }],
    ]);
  });

  it("runs after the proxy, the VPC endpoints and the consumer's grants exist", () => {
    const dependsOn = (t.toJSON().Resources[prepareId()] as { DependsOn?: string[] }).DependsOn ?? [];
    const consumerRole = (propertiesOf(t, fnId('consumer')).Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const consumerPolicy = Object.keys(t.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: consumerRole }] } }))[0]!;
    const proxy = logicalIdOf(t, 'AWS::RDS::DBProxy', { EngineFamily: 'POSTGRESQL' });
    const sqsEndpoint = Object.keys(t.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }))[0]!;
    expect([fnId('consumer'), consumerPolicy, proxy, sqsEndpoint].filter((id) => !dependsOn.includes(id))).toEqual([]);
  });

  it('runs again when the config changes (a new table is prepared at its deploy)', () => {
    const other = synth({ config: { ...testConfig, tables: [...testConfig.tables, { ...testConfig.tables[1]!, table: 'public.invoices', prefix: 'invoices/' }] } });
    const otherId = Object.keys(other.template.findResources('Custom::AWS')).find((id) => id.startsWith('PrepareTables'))!;
    const revision = (template: Template, id: string) => JSON.parse(callOf(template, id, 'Update').parameters.Payload).revision as string;
    expect(revision(other.template, otherId)).not.toBe(revision(t, prepareId()));
  });
});

describe('monitoring', () => {
  const alarmOn = (metricName: string, dimension: Record<string, unknown>) =>
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({ MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: metricName, Dimensions: [dimension] }) }) }),
      ]),
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });

  it('alarms when the batches DLQ is not empty', () => {
    alarmOn('ApproximateNumberOfMessagesVisible', { Name: 'QueueName', Value: getAtt(queueId('landfall-batches-dlq.fifo'), 'QueueName') });
  });

  it('alarms when the parking queue is not empty', () => {
    alarmOn('ApproximateNumberOfMessagesVisible', { Name: 'QueueName', Value: getAtt(queueId('landfall-parking.fifo'), 'QueueName') });
  });

  it('alarms on the age of the oldest batch message', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(queueId('landfall-batches.fifo'), 'QueueName') }],
      Threshold: 900,
    });
  });

  it('alarms on consumer errors', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId('consumer') } }],
      Threshold: 0,
    });
  });

  it.each(testConfig.tables.map((table) => table.table))('alarms on QuarantinedRows > 0 of %s, from consumer and replay', (table) => {
    const emitted = (service: string) =>
      Match.objectLike({
        MetricStat: Match.objectLike({
          Metric: {
            Namespace: MetricContract.namespace,
            MetricName: MetricContract.rows.quarantined,
            Dimensions: [
              { Name: 'service', Value: service },
              { Name: MetricContract.tableDimension, Value: table },
            ],
          },
        }),
      });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([emitted(MetricContract.serviceNames.consumer), emitted(MetricContract.serviceNames.replay)]),
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('sends every alarm to the SNS topic', () => {
    const topic = logicalIdOf(t, 'AWS::SNS::Topic', { DisplayName: 'Landfall alarms' });
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')) as { Properties: { AlarmActions: unknown[] } }[];
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic }]);
  });

  it('outputs the alarm topic ARN', () => {
    t.hasOutput('AlarmTopicArn', { Value: { Ref: logicalIdOf(t, 'AWS::SNS::Topic', { DisplayName: 'Landfall alarms' }) } });
  });

  it('has a dashboard with the row counts of every table', () => {
    const [dashboard] = Object.values(t.findResources('AWS::CloudWatch::Dashboard')) as { Properties: { DashboardBody: unknown } }[];
    const body = JSON.stringify(dashboard!.Properties.DashboardBody);
    for (const table of testConfig.tables) {
      for (const metric of [MetricContract.rows.inserted, MetricContract.rows.updated, MetricContract.rows.unchanged, MetricContract.rows.stale, MetricContract.rows.quarantined]) {
        for (const service of [MetricContract.serviceNames.consumer, MetricContract.serviceNames.replay]) {
          expect(body).toContain(`\\"${metric}\\",\\"service\\",\\"${service}\\",\\"table\\",\\"${table.table}\\"`);
        }
      }
    }
  });
});
