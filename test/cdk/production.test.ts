import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, it } from 'vitest';
import { type Synth, synth } from './helpers.ts';

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
