import { Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import type { LandfallStackProps } from '../../cdk/landfall-stack.ts';
import { synth } from './helpers.ts';

const violationsOf = (props: Partial<LandfallStackProps>, tamper?: (s: ReturnType<typeof synth>) => void) => {
  const s = synth(props);
  tamper?.(s);
  const report = new AwsSolutionsChecks(s.app).validateScope(s.app);
  return report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
};

const existing = {
  mode: 'existing',
  host: 'db.example.internal',
  databaseName: 'app',
  user: 'landfall',
  iamResourceId: 'prx-0123456789abcdef0',
  vpcId: 'vpc-0a1b2c3d',
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  subnetIds: ['subnet-0aaa1111', 'subnet-0bbb2222'],
  securityGroupId: 'sg-0ccc3333',
  vpcEndpoints: true,
  routeTableIds: ['rtb-0aaa1111', 'rtb-0bbb2222'],
} as const;

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing unacknowledged in the default deployment', () => {
    expect(violationsOf({})).toEqual([]);
  });

  it('finds nothing unacknowledged with multi-AZ (no RDS3 acknowledgement needed)', () => {
    expect(violationsOf({ database: { mode: 'new', multiAz: true } })).toEqual([]);
  });

  it('finds nothing unacknowledged in existing-database mode', () => {
    expect(violationsOf({ database: { ...existing, subnetIds: [...existing.subnetIds], availabilityZones: [...existing.availabilityZones], routeTableIds: [...existing.routeTableIds] } })).toEqual([]);
  });

  it('finds nothing unacknowledged in LocalStack mode', () => {
    expect(violationsOf({ database: { mode: 'localstack', databaseUrlSecret: 'landfall/database-url', account: '000000000000' } })).toEqual([]);
  });

  it('still reports what is not acknowledged (the check is live)', () => {
    const found = violationsOf({}, (s) => new s3.Bucket(s.stack, 'Careless'));
    expect(found).toEqual(expect.arrayContaining([expect.stringMatching(/^AwsSolutions-S10 at Landfall\/Careless\/Resource$/)]));
  });

  it('every acknowledgement carries a reason', () => {
    const s = synth({});
    const reasons: string[] = [];
    const visit = (node: typeof s.app.node) => {
      for (const entry of node.metadata) {
        if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) reasons.push(...Object.values(entry.data as Record<string, string>));
      }
      for (const child of node.children) visit(child.node);
    };
    visit(s.app.node);
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons.filter((r) => typeof r !== 'string' || r.length < 40)).toEqual([]);
  });
});
