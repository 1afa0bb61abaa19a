import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
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
