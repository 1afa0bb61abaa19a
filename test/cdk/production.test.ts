import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { MessageAgeAlarms } from '../../cdk/monitoring.ts';
import type { ExistingDatabaseOptions } from '../../cdk/props.ts';
import { parseConfig } from '../../shared/core/config.ts';
import { MetricContract, QueueSettings } from '../../shared/core/resources.ts';
import { EnvVar } from '../../shared/environment/env.ts';
import { DEFAULT_PRODUCER_LIMITS } from '../../shared/producer/producer-contract.ts';
import { logicalIdOf, propertiesOf, type Synth, synth } from './helpers.ts';

const existingIam: ExistingDatabaseOptions = {
  mode: 'existing',
  host: 'landfall.proxy-abc123.eu-west-1.rds.amazonaws.com',
  databaseName: 'app',
  user: 'landfall',
  iamResourceId: 'prx-0123456789abcdef0',
  vpcId: 'vpc-0a1b2c3d',
  availabilityZones: ['eu-west-1a'],
  subnetIds: ['subnet-0aaa1111'],
  securityGroupId: 'sg-0ccc3333',
};

// Issue 24: production on AWS. One template property per test (STYLE.md).

describe('alarms reach someone (item 1)', () => {
  // GIVEN the default deployment
  let s: Synth;
  beforeAll(() => {
    s = synth();
  });

  it('the alarm topic policy lets CloudWatch publish, only for alarms of this account and region', () => {
    s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'CloudWatchAlarmsPublish',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: {
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', Match.arrayWith([':cloudwatch:', { Ref: 'AWS::Region' }, ':alarm:*'])] } },
            },
          }),
        ]),
      },
    });
  });

  it('the topic policy still refuses publishing without TLS', () => {
    s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });
});

describe('continuations cannot stall (item 2)', () => {
  let s: Synth;
  beforeAll(() => {
    s = synth();
  });

  it("the producer allows recursive loops: Lambda's loop detection would drop its continuations after 16 invocations", () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'landfall-producer', RecursiveLoop: 'Allow' });
  });

  it('the consumer keeps loop detection on (it never invokes itself)', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'landfall-consumer', RecursiveLoop: Match.absent() });
  });

  it('the producer is told its per-file cap of invocations (default 1000)', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'landfall-producer',
      Environment: { Variables: Match.objectLike({ [EnvVar.producerLimits]: JSON.stringify({ maxInvocationsPerFile: DEFAULT_PRODUCER_LIMITS.maxInvocationsPerFile }) }) },
    });
  });

  it('the cap is the producerMaxInvocationsPerFile prop when given', () => {
    synth({ producerMaxInvocationsPerFile: 50 }).template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'landfall-producer',
      Environment: { Variables: Match.objectLike({ [EnvVar.producerLimits]: '{"maxInvocationsPerFile":50}' }) },
    });
  });

  it("an alarm watches Lambda's RecursiveInvocationsDropped for the producer", () => {
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'RecursiveInvocationsDropped',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalIdOf(s.template, 'AWS::Lambda::Function', { FunctionName: 'landfall-producer' }) } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it.each([MetricContract.filesContinued, MetricContract.filesMovedAside])('an alarm watches the producer metric %s', (metric) => {
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Landfall',
      MetricName: metric,
      Dimensions: [{ Name: 'service', Value: MetricContract.serviceNames.producer }],
      Threshold: 0,
    });
  });
});

describe('a connection budget (item 3)', () => {
  it('the default deployment fits a t4g.micro through its proxy', () => {
    const budget = synth().stack.connectionBudget!;
    // testConfig: 8 + 4 partitions; replay 2; the deploy step 1; operators 2.
    expect({ demand: budget.demand.total, maxConnections: budget.maxConnections, available: budget.available, verdict: budget.verdict }).toEqual({
      demand: 17,
      maxConnections: 74,
      available: 66,
      verdict: 'fits',
    });
  });

  it('"warn" deploys a budget that does not fit, with a warning that gives the numbers', () => {
    const { stack } = synth({ consumerMaxConcurrency: 200, connectionBudget: 'warn' });
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('connection budget: the functions may hold 205 database connections.*accepts 66'));
  });

  it('an existing database without maxConnections is warned about with the demand', () => {
    const { stack } = synth({ database: existingIam });
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('may hold 17 database connections.*nothing checks that it accepts them'));
  });

  it('maxConnections is set in the parameter group', () => {
    synth({ database: { mode: 'new', maxConnections: 400 } }).template.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: { 'rds.force_ssl': '1', max_connections: '400' },
    });
  });

  it('without reservedConcurrency the consumer takes from the unreserved pool', () => {
    synth().template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'landfall-consumer', ReservedConcurrentExecutions: Match.absent() });
  });

  it("reservedConcurrency reserves the consumer's maximum concurrency and one for the deploy step", () => {
    synth({ reservedConcurrency: true }).template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'landfall-consumer', ReservedConcurrentExecutions: 13 });
  });

  it("reservedConcurrency reserves replay's maximum concurrency", () => {
    synth({ reservedConcurrency: true }).template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'landfall-replay', ReservedConcurrentExecutions: 2 });
  });
});

describe('health and re-notification (item 5)', () => {
  let s: Synth;
  beforeAll(() => {
    s = synth();
  });
  const GIB = 1024 ** 3;

  it('storage autoscaling stops at 5× the allocated storage by default', () => {
    s.template.hasResourceProperties('AWS::RDS::DBInstance', { AllocatedStorage: '20', MaxAllocatedStorage: 100 });
  });

  it('the storage ceiling is configurable', () => {
    synth({ database: { mode: 'new', maxAllocatedStorageGiB: 2000 } }).template.hasResourceProperties('AWS::RDS::DBInstance', { MaxAllocatedStorage: 2000 });
  });

  it('Performance Insights is on (7 days, no charge)', () => {
    s.template.hasResourceProperties('AWS::RDS::DBInstance', { EnablePerformanceInsights: true, PerformanceInsightsRetentionPeriod: 7 });
  });

  it("PostgreSQL's log goes to CloudWatch Logs", () => {
    s.template.hasResourceProperties('AWS::RDS::DBInstance', { EnableCloudwatchLogsExports: ['postgresql'] });
  });

  it('the postgresql log group keeps the functions\' retention', () => {
    s.template.hasResourceProperties('Custom::LogRetention', { RetentionInDays: 30 });
  });

  it('an alarm watches free storage, for half an hour below what autoscaling keeps', () => {
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/RDS',
      MetricName: 'FreeStorageSpace',
      Threshold: 2 * GIB,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 6,
    });
  });

  it('an alarm watches CPU above 90% for 15 minutes', () => {
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/RDS', MetricName: 'CPUUtilization', Threshold: 90, EvaluationPeriods: 3 });
  });

  it('an alarm watches connections above 90% of max_connections', () => {
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/RDS', MetricName: 'DatabaseConnections', Threshold: 66 });
  });

  it("an alarm watches the proxy's client connections above what the functions may hold", () => {
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/RDS',
      MetricName: 'ClientConnections',
      Dimensions: [{ Name: 'ProxyName', Value: { Ref: Object.keys(s.template.findResources('AWS::RDS::DBProxy'))[0] } }],
      Threshold: 17,
    });
  });

  it.each([
    ['BatchesDlqQueue', MessageAgeAlarms.batchesDlq],
    ['ParkingQueue', MessageAgeAlarms.parking],
    ['IntakeDlqQueue', MessageAgeAlarms.intakeDlq],
  ])('an alarm on the age of the oldest message of %s notifies again before SQS deletes it', (queue, seconds) => {
    const queueId = Object.keys(s.template.findResources('AWS::SQS::Queue')).find((id) => id.startsWith(queue))!;
    expect(seconds).toBeLessThan(QueueSettings.parking.retentionSeconds / 2);
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
      Threshold: seconds,
    });
  });
});

describe('inbox lifecycle (item 6)', () => {
  const withInbox = (inbox: Record<string, unknown>) =>
    synth({ config: parseConfig({ tables: [{ table: 'public.orders', prefix: 'orders/', conflictKey: ['id'], partitions: 2, inbox }] }) });
  const inboxRules = (s: Synth) => {
    const inbox = logicalIdOf(s.template, 'AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } });
    return (propertiesOf(s.template, inbox).LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
  };

  it('by default the files are kept: no rule expires or moves a table prefix', () => {
    expect(inboxRules(synth()).filter((r) => r.Prefix && r.Prefix !== 'rejected/')).toEqual([]);
  });

  it('expired delete markers are removed', () => {
    expect(inboxRules(synth())).toContainEqual({ Id: 'remove-expired-delete-markers', ExpiredObjectDeleteMarker: true, Status: 'Enabled' });
  });

  it("a table's expireAfterDays expires its files under its prefix", () => {
    expect(inboxRules(withInbox({ expireAfterDays: 90 }))).toContainEqual({ Id: 'table-0-files', Prefix: 'orders/', ExpirationInDays: 90, Status: 'Enabled' });
  });

  it("a table's transition moves its files to the storage class", () => {
    expect(inboxRules(withInbox({ transitionAfterDays: 30, storageClass: 'GLACIER_IR', expireAfterDays: 400 }))).toContainEqual({
      Id: 'table-0-files',
      Prefix: 'orders/',
      ExpirationInDays: 400,
      Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 30 }],
      Status: 'Enabled',
    });
  });
});

describe('secrets (item 7)', () => {
  let s: Synth;
  beforeAll(() => {
    s = synth();
  });

  it('a new database lets RDS manage (and rotate) the master password', () => {
    s.template.hasResourceProperties('AWS::RDS::DBInstance', { ManageMasterUserPassword: true, MasterUserPassword: Match.absent(), MasterUsername: 'landfall_admin' });
  });

  it('the stack keeps no secret of its own', () => {
    s.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
  });

  it('the DatabaseEndpoint output names the instance, for grant-role from an admin host', () => {
    s.template.hasOutput('DatabaseEndpoint', { Value: { 'Fn::GetAtt': [logicalIdOf(s.template, 'AWS::RDS::DBInstance', { DBName: 'landfall' }), 'Endpoint.Address'] } });
  });

  it("the DatabaseSecretArn output is RDS's managed secret", () => {
    s.template.hasOutput('DatabaseSecretArn', { Value: { 'Fn::GetAtt': [logicalIdOf(s.template, 'AWS::RDS::DBInstance', { DBName: 'landfall' }), 'MasterUserSecret.SecretArn'] } });
  });
});

describe('the smaller gaps (item 8)', () => {
  it('the access-log bucket takes no ACLs (BucketOwnerEnforced)', () => {
    synth().template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [Match.objectLike({ Id: 'expire-access-logs' })] },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });

  it('S3 delivers the access logs under the bucket policy', () => {
    synth().template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject' })]) },
    });
  });

  it('without an admin host nothing but the proxy may reach PostgreSQL', () => {
    synth().template.hasResourceProperties('AWS::EC2::SecurityGroup', { GroupDescription: 'Landfall PostgreSQL', SecurityGroupIngress: Match.absent() });
  });

  it('a new database without a Multi-AZ choice warns at synth', () => {
    Annotations.fromStack(synth().stack).hasWarning('*', Match.stringLikeRegexp('single-AZ because landfall:dbMultiAz is not set'));
  });

  it('an explicit single-AZ choice does not warn', () => {
    Annotations.fromStack(synth({ database: { mode: 'new', multiAz: false } }).stack).hasNoWarning('*', Match.stringLikeRegexp('single-AZ'));
  });

  it('Multi-AZ when chosen', () => {
    synth({ database: { mode: 'new', multiAz: true } }).template.hasResourceProperties('AWS::RDS::DBInstance', { MultiAZ: true });
  });

  it('an admin security group may reach PostgreSQL on 5432 (for grant-role)', () => {
    synth({ database: { mode: 'new', adminSecurityGroupId: 'sg-0123456789abcdef0' } }).template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'Landfall PostgreSQL',
      SecurityGroupIngress: [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, SourceSecurityGroupId: 'sg-0123456789abcdef0', Description: 'landfall grant-role from the admin host' }],
    });
  });

  it('an admin prefix list may reach PostgreSQL on 5432 (for grant-role)', () => {
    const { template } = synth({ database: { mode: 'new', adminPrefixListId: 'pl-0123456789abcdef0' } });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::EC2::SecurityGroup', { GroupDescription: 'Landfall PostgreSQL' }), 'GroupId'] },
      SourcePrefixListId: 'pl-0123456789abcdef0',
      FromPort: 5432,
      ToPort: 5432,
    });
  });
});
