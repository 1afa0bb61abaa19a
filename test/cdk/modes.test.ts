import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { EnvVar } from '../../shared/environment/env.ts';
import type { ExistingDatabaseOptions } from '../../cdk/props.ts';
import { logicalIdOf, propertiesOf, type Synth, synth } from './helpers.ts';

const existing: ExistingDatabaseOptions = {
  mode: 'existing',
  host: 'landfall.proxy-abc123.eu-west-1.rds.amazonaws.com',
  databaseName: 'warehouse',
  user: 'landfall_app',
  iamResourceId: 'prx-0123456789abcdef0',
  vpcId: 'vpc-0a1b2c3d',
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  subnetIds: ['subnet-0aaa1111', 'subnet-0bbb2222'],
  securityGroupId: 'sg-0ccc3333',
};

const policyStatementsOf = (s: Synth, fn: string) => {
  const t = s.template;
  const fnId = logicalIdOf(t, 'AWS::Lambda::Function', { FunctionName: `landfall-${fn}` });
  const role = (propertiesOf(t, fnId).Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const [policy] = Object.values(t.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } }));
  return (policy as { Properties: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } } }).Properties.PolicyDocument
    .Statement;
};

describe('existing-database mode with IAM auth', () => {
  let s: Synth;
  beforeAll(() => {
    s = synth({ database: existing });
  });

  it('creates no database, proxy or VPC', () => {
    const t = s.template;
    const created = ['AWS::RDS::DBInstance', 'AWS::RDS::DBProxy', 'AWS::EC2::VPC', 'AWS::SecretsManager::Secret'].flatMap((type) =>
      Object.keys(t.findResources(type)),
    );
    expect(created).toEqual([]);
  });

  it.each(['consumer', 'replay'])('runs the %s in the given subnets with the given security group', (fn) => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: `landfall-${fn}`,
      VpcConfig: { SubnetIds: existing.subnetIds, SecurityGroupIds: [existing.securityGroupId] },
    });
  });

  it('grants rds-db:connect for the given proxy and user', () => {
    const connect = policyStatementsOf(s, 'consumer').find((st) => st.Action === 'rds-db:connect');
    expect(connect?.Resource).toEqual({
      'Fn::Join': [
        '',
        ['arn:', { Ref: 'AWS::Partition' }, ':rds-db:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':dbuser:prx-0123456789abcdef0/landfall_app'],
      ],
    });
  });

  it('points the functions at the given endpoint', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'landfall-replay',
      Environment: {
        Variables: Match.objectLike({
          [EnvVar.dbHost]: existing.host,
          [EnvVar.dbPort]: '5432',
          [EnvVar.dbName]: 'warehouse',
          [EnvVar.dbUser]: 'landfall_app',
        }),
      },
    });
  });

  it('adds no VPC endpoints unless asked', () => {
    s.template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });
});

describe('existing-database mode with a password secret and VPC endpoints', () => {
  const secretArn = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:landfall/db-AbCdEf';
  let s: Synth;
  beforeAll(() => {
    const { iamResourceId: _iam, ...rest } = existing;
    s = synth({ database: { ...rest, secretArn, vpcEndpoints: true, routeTableIds: ['rtb-0aaa1111', 'rtb-0bbb2222'] } });
  });

  it('lets the consumer read exactly that secret', () => {
    const read = policyStatementsOf(s, 'consumer').find((st) => JSON.stringify(st.Action).includes('secretsmanager:GetSecretValue'));
    expect(read?.Resource).toBe(secretArn);
  });

  it('tells the functions where the secret is', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'landfall-consumer',
      Environment: { Variables: Match.objectLike({ [EnvVar.dbSecretArn]: secretArn }) },
    });
  });

  it('grants no rds-db:connect', () => {
    expect(policyStatementsOf(s, 'consumer').filter((st) => st.Action === 'rds-db:connect')).toEqual([]);
  });

  it('adds the S3 gateway endpoint on the given route tables', () => {
    s.template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      VpcId: existing.vpcId,
      RouteTableIds: ['rtb-0aaa1111', 'rtb-0bbb2222'],
    });
  });

  it('opens the interface endpoints only to the given security group', () => {
    const ingress = Object.values(s.template.findResources('AWS::EC2::SecurityGroupIngress')) as { Properties: Record<string, unknown> }[];
    expect(ingress.map((r) => [r.Properties.FromPort, r.Properties.SourceSecurityGroupId, r.Properties.CidrIp])).toEqual([
      [443, existing.securityGroupId, undefined],
      [443, existing.securityGroupId, undefined],
    ]);
  });
});

describe('LocalStack mode', () => {
  let s: Synth;
  beforeAll(() => {
    s = synth({ database: { mode: 'localstack', databaseUrlSecret: 'landfall/database-url', account: '000000000000' } });
  });

  it('creates no VPC, database or proxy', () => {
    const t = s.template;
    const created = ['AWS::RDS::DBInstance', 'AWS::RDS::DBProxy', 'AWS::EC2::VPC', 'AWS::EC2::VPCEndpoint'].flatMap((type) =>
      Object.keys(t.findResources(type)),
    );
    expect(created).toEqual([]);
  });

  it.each(['consumer', 'replay'])('runs the %s outside any VPC', (fn) => {
    s.template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: `landfall-${fn}`, VpcConfig: Match.absent() });
  });

  it('resolves DATABASE_URL from the secret at deploy time (a dynamic reference, not the value)', () => {
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'landfall-consumer',
      Environment: {
        Variables: Match.objectLike({ [EnvVar.databaseUrl]: '{{resolve:secretsmanager:landfall/database-url:SecretString:::}}' }),
      },
    });
  });

  it('grants no database permissions at all', () => {
    const actions = JSON.stringify(policyStatementsOf(s, 'consumer').map((st) => st.Action));
    expect(actions).not.toMatch(/rds-db:|secretsmanager:|ec2:/);
  });
});

describe('options', () => {
  let s: Synth;
  beforeAll(() => {
    s = synth({
      highThroughputFifo: true,
      consumerMaxConcurrency: 50,
      namePrefix: 'acme-landfall',
      database: { mode: 'new', multiAz: true, deletionProtection: false },
    });
  });

  it('high-throughput FIFO sets per-group dedup scope and throughput limit on batches.fifo', () => {
    s.template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'acme-landfall-batches.fifo',
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
    });
  });

  it('the consumer concurrency can be set', () => {
    const fnId = logicalIdOf(s.template, 'AWS::Lambda::Function', { FunctionName: 'acme-landfall-consumer' });
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId },
      ScalingConfig: { MaximumConcurrency: 50 },
    });
  });

  it('multi-AZ and deletion protection follow the options', () => {
    s.template.hasResourceProperties('AWS::RDS::DBInstance', { MultiAZ: true, DeletionProtection: false });
  });
});
