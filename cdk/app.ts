#!/usr/bin/env -S npx tsx
import { isAbsolute, resolve } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError } from '../shared/core/config.ts';
import { loadConfigFile } from '../shared/environment/config-file.ts';
import { EnvVar } from '../shared/environment/env.ts';
import { ContextError, ContextKey, optionsFromContext } from './context.ts';
import { LandfallStack, PROJECT_ROOT } from './landfall-stack.ts';
import { LandfallPropsError } from './props.ts';

/**
 * `cdk synth|deploy` entry. The table config comes from `-c landfall:config=FILE`, else
 * LANDFALL_CONFIG, else the example config. The stack is environment-agnostic (no account or
 * region in the template), so synth needs no credentials and does no lookups.
 */
const app = new App();
const get = (key: string) => app.node.tryGetContext(key);
try {
  const configPath = (get(ContextKey.config) as string | undefined) ?? process.env[EnvVar.config] ?? 'cdk/landfall.example.json';
  const config = loadConfigFile(isAbsolute(configPath) ? configPath : resolve(PROJECT_ROOT, configPath));
  new LandfallStack(app, (get(ContextKey.stackName) as string | undefined) ?? 'Landfall', {
    description: 'Landfall: S3 files to exactly-once PostgreSQL upserts through SQS FIFO',
    config,
    ...optionsFromContext(get),
  });
} catch (error) {
  // A mistake in the config file or the options: the message names the field, a stack trace adds nothing.
  if (error instanceof ConfigError || error instanceof ContextError || error instanceof LandfallPropsError) {
    console.error(error.message);
    if (!(error instanceof ConfigError)) console.error('(on the command line these are -c landfall:… keys; cdk/context.ts lists them)');
    process.exit(1);
  }
  throw error;
}

if (get(ContextKey.nag) !== false && get(ContextKey.nag) !== 'false') {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
