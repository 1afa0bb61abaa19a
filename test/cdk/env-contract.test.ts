import { App, Stack } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EnvVar } from '../../shared/environment/env.ts';
import { FunctionEnv } from '../../shared/environment/function-env.ts';
import { PipelineFunction } from '../../cdk/pipeline-function.ts';
import { PROJECT_ROOT } from '../../cdk/landfall-stack.ts';
import { cdkJsonContext, FIXTURE_HANDLER, logicalIdOf, propertiesOf, synth, tempOutdir } from './helpers.ts';

// GIVEN the default deployment, not bundled (the environment is all these tests read).
const { template: t } = synth();
const kinds = ['producer', 'consumer', 'replay'] as const;
/** Every Landfall variable but the config's, the database's and the settings: a resource some function could be given. */
const settings = new Set<string>(kinds.flatMap((k) => FunctionEnv[k].settings));
const notResources = new Set<string>([EnvVar.config, EnvVar.configJson, EnvVar.databaseUrl, EnvVar.dbHost, EnvVar.dbPort, EnvVar.dbName, EnvVar.dbUser, EnvVar.dbSecretArn, ...settings]);
const resourceVars = { has: (name: string) => name.startsWith('LANDFALL_') && !notResources.has(name) };
const variablesOf = (kind: string) =>
  (propertiesOf(t, logicalIdOf(t, 'AWS::Lambda::Function', { FunctionName: `landfall-${kind}` })).Environment as { Variables: Record<string, unknown> }).Variables;

describe('environment contract', () => {
  it.each(kinds)('%s gets exactly the resource variables of its contract', (kind) => {
    const given = Object.keys(variablesOf(kind)).filter((name) => resourceVars.has(name)).sort();
    expect(given).toEqual([...FunctionEnv[kind].resources].sort());
  });

  it.each(kinds)('%s gets only the settings of its contract', (kind) => {
    const given = Object.keys(variablesOf(kind)).filter((name) => settings.has(name));
    expect(given.filter((name) => !(FunctionEnv[kind].settings as readonly string[]).includes(name))).toEqual([]);
  });

  it.each(kinds)('%s gets the database variables exactly when its contract reaches the database', (kind) => {
    expect(EnvVar.dbHost in variablesOf(kind)).toBe(FunctionEnv[kind].database);
  });

  it('replay does not need the DLQ URL it is driven by (finding 2)', () => {
    expect(FunctionEnv.replay.resources as readonly string[]).not.toContain(EnvVar.dlqUrl);
  });

  it('the producer may read the manifests it reads back before cutting a file (finding 1)', () => {
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'ReadCatalogSnapshotsAndManifests',
            Action: 's3:GetObject',
            Resource: Match.arrayWith([Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['/manifests/*'])]) })]),
          }),
        ]),
      },
    });
  });
});

describe('PipelineFunction.bind', () => {
  const bare = () => {
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] }, outdir: tempOutdir() });
    const stack = new Stack(app, 'Bare');
    const fn = new PipelineFunction(stack, 'Replay', {
      kind: 'replay',
      projectRoot: PROJECT_ROOT,
      entry: FIXTURE_HANDLER,
      functionName: 'bare-replay',
      environment: {},
      logRetention: RetentionDays.ONE_DAY,
    });
    return { app, fn };
  };

  it('refuses a variable outside the function contract', () => {
    const { fn } = bare();
    // @ts-expect-error replay's contract has no DLQ URL, so the type refuses it too
    expect(() => fn.bind(EnvVar.dlqUrl, 'url', () => {})).toThrow('Landfall replay function does not read LANDFALL_DLQ_URL');
  });

  it('refuses a setting outside the function contract', () => {
    const { fn } = bare();
    // @ts-expect-error replay's contract has no producer limits
    expect(() => fn.setting(EnvVar.producerLimits, '{}')).toThrow('Landfall replay function does not read LANDFALL_PRODUCER_LIMITS');
  });

  it('fails synthesis when a variable of the contract is not bound', () => {
    const { app } = bare();
    expect(() => app.synth()).toThrow(/LANDFALL_STAGING_BUCKET is in its environment contract \(shared\/environment\/function-env\.ts\) but not bound/);
  });

  it('sets the variable and runs its grant in one call', () => {
    const { fn } = bare();
    let granted = false;
    fn.bind(EnvVar.stagingBucket, 'staging', () => (granted = true));
    expect(granted).toBe(true);
  });
});
