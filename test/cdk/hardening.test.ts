import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_CA_BUNDLE, NODE_EXTRA_CA_CERTS } from '../../cdk/database.ts';
import type { ExistingDatabaseOptions } from '../../cdk/props.ts';
import { EnvVar } from '../../shared/env.ts';
import { MetricContract } from '../../shared/resources.ts';
import { type Synth, synth } from './helpers.ts';

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
