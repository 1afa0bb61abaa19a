import { beforeAll, describe, expect, it } from 'vitest';
import { alarmDeliveryCalls, checkAlarmDelivery } from '../../rehearse/alarm-delivery.ts';
import { evaluateCalls, resourcePolicies } from '../../rehearse/iam.ts';
import { type Assembly, type CfnResource, resolver } from '../../rehearse/template.ts';
import { synth } from '../cdk/helpers.ts';

// Issue 24, item 1: the delivery path of every alarm (CloudWatch → the topic policy → the key
// policy), evaluated with the IAM simulator as `npm run rehearse` does, on the template of today
// (the topic policy enforceSSL writes, alone) and on the new one.

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
type Statement = { Sid?: string; Effect: string };
type PolicyDocument = { Statement: Statement[] };

function assemblyOf(resources: Record<string, CfnResource>): { assembly: Assembly; resolve: (v: unknown) => unknown } {
  const assembly: Assembly = { dir: '', stackName: 'Landfall', resources };
  const resolve = resolver(assembly, {
    region: REGION,
    account: ACCOUNT,
    bucketName: (id) => id.toLowerCase(),
    queueName: (id) => (resources[id]!.Properties!.QueueName as string | undefined) ?? id,
    queueUrlBase: 'https://sqs.us-east-1.amazonaws.com',
    proxyEndpoint: 'proxy.example',
    proxyResourceId: 'prx-0123',
  });
  return { assembly, resolve };
}

/** The template with the statement `sid` removed from every policy document of `type` (the template before the fix). */
function without(resources: Record<string, CfnResource>, type: string, field: string, sid: string): Record<string, CfnResource> {
  const copy = structuredClone(resources);
  for (const r of Object.values(copy)) {
    if (r.Type !== type) continue;
    const doc = r.Properties![field] as PolicyDocument;
    doc.Statement = doc.Statement.filter((s) => s.Sid !== sid);
  }
  return copy;
}

async function check(resources: Record<string, CfnResource>) {
  const { assembly, resolve } = assemblyOf(resources);
  return checkAlarmDelivery(assembly, resolve, resourcePolicies(assembly, resolve), ACCOUNT, REGION);
}

describe('alarm delivery (CloudWatch → SNS topic policy → KMS key policy)', () => {
  let resources: Record<string, CfnResource>;
  beforeAll(() => {
    // GIVEN the synthesised default stack
    resources = synth().template.toJSON().Resources as Record<string, CfnResource>;
  });

  it('every alarm of the template may publish to its topic and use the topic key', async () => {
    const result = await check(resources);
    expect(result.problems).toEqual([]);
    expect(result.alarms).toBeGreaterThan(5);
    // sns:Publish, kms:GenerateDataKey and kms:Decrypt for each alarm, all allowed.
    expect(result.verdicts.length).toBe(result.alarms * 3);
    expect(result.verdicts.every((v) => v.result === 'Allowed')).toBe(true);
  });

  it("today's template, whose topic policy holds only enforceSSL's Deny, lets no alarm publish", async () => {
    const today = without(resources, 'AWS::SNS::TopicPolicy', 'PolicyDocument', 'CloudWatchAlarmsPublish');
    const result = await check(today);
    const refused = result.verdicts.filter((v) => v.result !== 'Allowed');
    expect(refused.length).toBe(result.alarms);
    expect(refused.every((v) => v.call.action === 'sns:Publish')).toBe(true);
    expect(result.problems[0]).toMatch(/sns:Publish .* the topic policy of arn:aws:sns:.* must allow cloudwatch\.amazonaws\.com/);
  });

  it('a key policy without the CloudWatch statement refuses the data key', async () => {
    const result = await check(without(resources, 'AWS::KMS::Key', 'KeyPolicy', 'CloudWatchAlarmsPublish'));
    expect(result.verdicts.filter((v) => v.result !== 'Allowed').map((v) => v.call.action)).toContain('kms:GenerateDataKey');
    expect(result.problems.some((p) => /key policy of arn:aws:kms:/.test(p))).toBe(true);
  });

  it("an alarm of another account may not publish to the topic (aws:SourceAccount, confused deputy)", async () => {
    const { assembly, resolve } = assemblyOf(resources);
    const [publish] = alarmDeliveryCalls(assembly, resolve, ACCOUNT, REGION);
    const foreign = { ...publish!, context: { 'aws:SourceArn': 'arn:aws:cloudwatch:us-east-1:999999999999:alarm:x', 'aws:SourceAccount': '999999999999' } };
    const [verdict] = await evaluateCalls([foreign], [], resourcePolicies(assembly, resolve), ACCOUNT);
    expect(verdict!.result).not.toBe('Allowed');
  });

  it('an alarm without a topic among its actions is reported', async () => {
    const silent = structuredClone(resources);
    const [id, alarm] = Object.entries(silent).find(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')!;
    delete alarm.Properties!.AlarmActions;
    delete alarm.Properties!.OKActions;
    const result = await check(silent);
    expect(result.problems).toContain(`alarm ${id} has no SNS topic among its actions: it notifies nobody`);
  });
});
