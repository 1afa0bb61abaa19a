import type { LandfallConfig } from '../core/config.ts';
import { CONFIG_VARS, loadConfigFromEnv, requireEnv } from './config-env.ts';
import { EnvVar, type EnvVarName } from './env.ts';
import type { FunctionKey } from '../core/resources.ts';

/**
 * The environment contract of each function: the resource variables it reads (each bound in
 * the CDK stack together with the grant that makes it usable, `PipelineFunction.bind`), and
 * whether it reaches the database (the database variables and `grantConnect`, bound together
 * too). Every function also reads the table config (`LANDFALL_CONFIG_JSON` or `LANDFALL_CONFIG`).
 *
 * `settings` are optional tuning the stack may set (`PipelineFunction.setting`): no grant goes
 * with them, and the code has defaults.
 *
 * The stack fails synthesis when a function is given a variable outside its contract or lacks
 * one of it, and the readers below read nothing else: a variable the code needs but the stack
 * does not set (replay's `LANDFALL_DLQ_URL`, issue 11) can no longer deploy.
 */
export const FunctionEnv = {
  producer: { resources: [EnvVar.stagingBucket, EnvVar.batchesQueueUrl, EnvVar.intakeQueueUrl], database: false, settings: [EnvVar.producerLimits] },
  consumer: { resources: [EnvVar.stagingBucket, EnvVar.dlqUrl, EnvVar.sourceQueueUrl], database: true, settings: [] },
  /**
   * Replay never sends anywhere itself: SQS's redrive parks what it cannot finish. Its own queue
   * (the DLQ) only to make its failed records visible again after a short backoff.
   */
  replay: { resources: [EnvVar.stagingBucket, EnvVar.sourceQueueUrl], database: true, settings: [] },
} as const satisfies Record<FunctionKey, { resources: readonly EnvVarName[]; database: boolean; settings: readonly EnvVarName[] }>;

/** A setting a function reads (no grant makes it usable; optional, with defaults in the code). */
export type SettingVar<K extends FunctionKey> = (typeof FunctionEnv)[K]['settings'][number];

export type ResourceVar<K extends FunctionKey> = (typeof FunctionEnv)[K]['resources'][number];

export interface FunctionEnvValues<K extends FunctionKey> {
  config: LandfallConfig;
  vars: Record<ResourceVar<K>, string>;
}

/**
 * A function's contract read from its environment at cold start; fails fast naming every
 * missing variable.
 *
 * @example const { config, vars } = readFunctionEnv(process.env, 'consumer'); vars.LANDFALL_DLQ_URL
 */
export function readFunctionEnv<K extends FunctionKey>(env: NodeJS.ProcessEnv, fn: K): FunctionEnvValues<K> {
  const resources: readonly string[] = FunctionEnv[fn].resources;
  const found = requireEnv(env, fn, [...resources, CONFIG_VARS]);
  const vars = Object.fromEntries(resources.map((name) => [name, found[name]!])) as Record<ResourceVar<K>, string>;
  return { config: loadConfigFromEnv(env, fn), vars };
}
