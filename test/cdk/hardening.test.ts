import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_CA_BUNDLE, NEW_DATABASE_ADMIN, NEW_DATABASE_USER, NODE_EXTRA_CA_CERTS } from '../../cdk/database.ts';
import type { ExistingDatabaseOptions } from '../../cdk/props.ts';
import { EnvVar } from '../../shared/environment/env.ts';
import { MetricContract } from '../../shared/core/resources.ts';
import { logicalIdOf, propertiesOf, type Synth, synth, testConfig } from './helpers.ts';

// Issue 11, findings 3 and 4: one template property per test.

describe('failed records and the metrics namespace', () => {
  // GIVEN a stack whose metrics live in a namespace of the operator's choosing
  let s: Synth;
  beforeAll(() => {
    s = synth({ metricsNamespace: 'Acme/Landfall' });
  });

  it.each(['producer', 'consumer', 'replay'] as const)('the %s is told the namespace its alarms watch', (kind) => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: `landfall-${kind}`,
      Environment: { Variables: Match.objectLike({ [EnvVar.powertoolsMetricsNamespace]: 'Acme/Landfall' }) },
    });
  });

  it.each(['producer', 'consumer', 'replay'] as const)('an alarm watches the failed records of the %s in that namespace', (kind) => {
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Acme/Landfall',
      MetricName: MetricContract.failedRecords,
      Dimensions: [{ Name: 'service', Value: MetricContract.serviceNames[kind] }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });
});

describe('the RDS CA bundle', () => {
  const existing: ExistingDatabaseOptions = {
    mode: 'existing',
    host: 'warehouse.abc123xyz.eu-west-1.rds.amazonaws.com',
    databaseName: 'warehouse',
    user: 'landfall',
    iamResourceId: 'db-ABCDEFGHIJKLMNOPQRSTUVWXY1',
    proxy: false,
    vpcId: 'vpc-0a1b2c3d',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    subnetIds: ['subnet-0aaa1111', 'subnet-0bbb2222'],
    securityGroupId: 'sg-0ccc3333',
  };
  const caVariable = (s: Synth, fn: string) => {
    const [resource] = Object.values(s.template.findResources('AWS::Lambda::Function', { Properties: { FunctionName: `landfall-${fn}` } })) as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    }[];
    return resource?.Properties.Environment.Variables[NODE_EXTRA_CA_CERTS];
  };

  it.each(['consumer', 'replay'])('IAM auth straight to an instance: the %s loads Lambda\'s Amazon CA file', (fn) => {
    expect(caVariable(synth({ database: existing }), fn)).toBe(LAMBDA_CA_BUNDLE);
  });

  it('an existing RDS Proxy endpoint needs no extra CA (its certificate chains to an Amazon root Node trusts)', () => {
    const s = synth({ database: { ...existing, host: 'landfall.proxy-abc123.eu-west-1.rds.amazonaws.com', proxy: true, iamResourceId: 'prx-0123456789abcdef0' } });
    expect(caVariable(s, 'consumer')).toBeUndefined();
  });

  it('the proxy the stack creates needs no extra CA', () => {
    expect(caVariable(synth(), 'consumer')).toBeUndefined();
  });
});

describe('least privilege (finding 4)', () => {
  // GIVEN the default deployment
  let s: Synth;
  beforeAll(() => {
    s = synth();
  });
  type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, unknown>; Principal?: unknown };
  const statementsOf = (fn: string): Statement[] => {
    const fnId = logicalIdOf(s.template, 'AWS::Lambda::Function', { FunctionName: `landfall-${fn}` });
    const role = (propertiesOf(s.template, fnId).Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const [policy] = Object.values(s.template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } })) as {
      Properties: { PolicyDocument: { Statement: Statement[] } };
    }[];
    return policy!.Properties.PolicyDocument.Statement;
  };
  const actions = (st: Statement) => (Array.isArray(st.Action) ? st.Action : [st.Action]);
  const bucketId = (versioned: boolean) =>
    versioned
      ? logicalIdOf(s.template, 'AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } })
      : logicalIdOf(s.template, 'AWS::S3::Bucket', { LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'expire-applied-batches' })]) } });
  const objects = (bucket: string, prefix: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, `/${prefix}`]] });

  it('the producer cannot delete an inbox version permanently', () => {
    expect(statementsOf('producer').flatMap(actions)).not.toContain('s3:DeleteObjectVersion');
  });

  // S3 decides 404 or 403 for a missing key by s3:ListBucket on the bucket, with no s3:prefix in
  // that check, so a prefix-limited grant would turn a vanished file into a 403 (the deploy
  // rehearsal denies exactly that). The grant is ListBucket alone, on the bucket only.
  it('the producer may list the inbox, with no prefix condition that the 404 check could not meet', () => {
    const list = statementsOf('producer').find((st) => actions(st).includes('s3:ListBucket') && JSON.stringify(st.Resource).includes(bucketId(true)));
    expect(list?.Action).toBe('s3:ListBucket');
    expect(list?.Condition).toBeUndefined();
  });

  it('the producer writes staging only under batches/ and manifests/', () => {
    const writes = statementsOf('producer').find((st) => st.Sid === 'WriteStaging');
    const staging = bucketId(false);
    expect(writes?.Resource).toEqual([objects(staging, 'batches/*'), objects(staging, 'manifests/*')]);
  });

  it.each(['consumer', 'replay'])('the %s reads staging only under batches/ and manifests/', (fn) => {
    const reads = statementsOf(fn).find((st) => st.Sid === 'ReadStaging');
    const staging = bucketId(false);
    expect(reads?.Resource).toEqual([objects(staging, 'batches/*'), objects(staging, 'manifests/*')]);
  });

  it.each([
    ['producer', 'SendBatches'],
    ['producer', 'SendContinuations'],
    ['consumer', 'SendPoisonBatches'],
  ])('the %s may only send to its queue, nothing more (it has the URL, it never looks it up)', (fn, sid) => {
    expect(statementsOf(fn).find((st) => st.Sid === sid)?.Action).toBe('sqs:SendMessage');
  });

  it('the producer sends its continuations to the intake queue only', () => {
    const intake = logicalIdOf(s.template, 'AWS::SQS::Queue', { QueueName: 'landfall-intake' });
    expect(statementsOf('producer').find((st) => st.Sid === 'SendContinuations')?.Resource).toEqual({ 'Fn::GetAtt': [intake, 'Arn'] });
  });

  it('replay may send to no queue (SQS redrive parks what it cannot finish)', () => {
    expect(statementsOf('replay').flatMap(actions)).not.toContain('sqs:SendMessage');
  });

  it('S3 may notify the intake queue only from the inbox of this account', () => {
    const intake = logicalIdOf(s.template, 'AWS::SQS::Queue', { QueueName: 'landfall-intake' });
    s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: intake }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 's3.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Condition: { ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [bucketId(true), 'Arn'] } }, StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
  });

  it("CloudWatch may use the alarm topic's key only for alarms of this account and region", () => {
    s.template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              ArnLike: {
                'aws:SourceArn': {
                  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:*']],
                },
              },
            },
          }),
        ]),
      },
    });
  });

  it("the VPC's default security group is stripped of its rules", () => {
    s.template.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
  });

  const functionsSg = () => logicalIdOf(s.template, 'AWS::EC2::SecurityGroup', { GroupDescription: 'Landfall consumer and replay functions' });
  const egressOf = (sg: string) => {
    const inline = (propertiesOf(s.template, sg).SecurityGroupEgress ?? []) as Record<string, unknown>[];
    const separate = Object.values(s.template.findResources('AWS::EC2::SecurityGroupEgress', { Properties: { GroupId: { 'Fn::GetAtt': [sg, 'GroupId'] } } })) as {
      Properties: Record<string, unknown>;
    }[];
    return [...inline, ...separate.map((r) => r.Properties)];
  };

  it('the functions may not reach 0.0.0.0/0', () => {
    expect(egressOf(functionsSg()).filter((rule) => rule.CidrIp === '0.0.0.0/0')).toEqual([]);
  });

  /** The stack has two AwsCustomResources (this lookup, and the deploy step that prepares the tables). */
  const prefixListLookupId = () => Object.keys(s.template.findResources('Custom::AWS')).find((id) => id.includes('S3PrefixList'))!;

  it('the functions reach S3 on 443 through its prefix list', () => {
    const toS3 = egressOf(functionsSg()).filter((rule) => rule.DestinationPrefixListId !== undefined);
    expect(toS3.map((rule) => [JSON.stringify(rule.DestinationPrefixListId), rule.FromPort, rule.ToPort])).toEqual([
      [JSON.stringify({ 'Fn::GetAtt': [prefixListLookupId(), 'PrefixLists.0.PrefixListId'] }), 443, 443],
    ]);
  });

  it("the prefix list is looked up at deploy time: the region's S3 list", () => {
    const lookup = s.template.findResources('Custom::AWS')[prefixListLookupId()] as { Properties: { Update: unknown } };
    const call = JSON.stringify(lookup.Properties.Update);
    expect([call.includes('describeManagedPrefixLists'), call.includes('com.amazonaws.'), call.includes('.s3')]).toEqual([true, true, true]);
  });

  it('the functions reach the SQS endpoint on 443 through its security group', () => {
    const sqsSg = logicalIdOf(s.template, 'AWS::EC2::SecurityGroup', { GroupDescription: 'Landfall SqsEndpoint' });
    const toSqs = egressOf(functionsSg()).filter((rule) => JSON.stringify(rule.DestinationSecurityGroupId) === JSON.stringify({ 'Fn::GetAtt': [sqsSg, 'GroupId'] }));
    expect(toSqs.map((rule) => rule.FromPort)).toEqual([443]);
  });

  it.each([
    ['Gateway', 's3:*'],
    ['Interface', 'sqs:*'],
  ])("the VPC's %s endpoint reaches only resources of this account", (type, action) => {
    s.template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: type,
      PolicyDocument: {
        Statement: [Match.objectLike({ Action: action, Effect: 'Allow', Condition: { StringEquals: { 'aws:ResourceAccount': { Ref: 'AWS::AccountId' } } } })],
      },
    });
  });

  it('the producer has room in /tmp to unpack a gzip-compressed Parquet file', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'landfall-producer', EphemeralStorage: { Size: 10240 } });
  });
});

describe('LocalStack mode cannot reach a real account', () => {
  it('is refused without the emulator account', () => {
    expect(() => synth({ database: { mode: 'localstack', databaseUrlSecret: 'landfall/database-url', account: '' } })).toThrow(
      /localstack\)\.account: the emulator's 12-digit account id is required/,
    );
  });

  it('is bound to the emulator account, so the CDK CLI refuses other credentials', () => {
    const s = synth({ database: { mode: 'localstack', databaseUrlSecret: 'landfall/database-url', account: '000000000000' } });
    expect(s.stack.account).toBe('000000000000');
  });
});

describe('the database login (finding 3)', () => {
  let s: Synth;
  beforeAll(() => {
    s = synth();
  });

  it('the master user is not the user the functions log in as', () => {
    s.template.hasResourceProperties('AWS::RDS::DBInstance', { MasterUsername: NEW_DATABASE_ADMIN });
    expect(NEW_DATABASE_ADMIN).not.toBe(NEW_DATABASE_USER);
  });

  it('the proxy holds no secret (no master password between the functions and the database)', () => {
    const [proxy] = Object.values(s.template.findResources('AWS::RDS::DBProxy')) as { Properties: { Auth?: unknown } }[];
    expect(proxy?.Properties.Auth).toBeUndefined();
  });

  it("the proxy logs in to PostgreSQL as the application role with IAM, on this instance only", () => {
    const instance = logicalIdOf(s.template, 'AWS::RDS::DBInstance', { Engine: 'postgres' });
    const proxyRole = (propertiesOf(s.template, logicalIdOf(s.template, 'AWS::RDS::DBProxy', { EngineFamily: 'POSTGRESQL' })).RoleArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    s.template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: proxyRole }],
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Action: 'rds-db:connect',
            Resource: {
              'Fn::Join': [
                '',
                ['arn:', { Ref: 'AWS::Partition' }, ':rds-db:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':dbuser:', { 'Fn::GetAtt': [instance, 'DbiResourceId'] }, `/${NEW_DATABASE_USER}`],
              ],
            },
          }),
        ],
      },
    });
  });

  it('no Secrets Manager endpoint is paid for: nothing in the VPC reads a secret', () => {
    const endpoints = Object.values(s.template.findResources('AWS::EC2::VPCEndpoint')).map((e) => JSON.stringify((e as { Properties: { ServiceName: unknown } }).Properties.ServiceName));
    expect(endpoints.filter((name) => name.includes('secretsmanager'))).toEqual([]);
  });
});
