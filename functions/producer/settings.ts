import type { LandfallConfig } from '../../shared/config.ts';
import { CONFIG_VARS, loadConfigFromEnv, requireEnv } from '../../shared/config-env.ts';
import { EnvVar } from '../../shared/env.ts';

export interface ProducerSettings {
  config: LandfallConfig;
  stagingBucket: string;
  batchesQueueUrl: string;
}

/** The producer's settings from its environment; fails fast, naming the variable. */
export function producerSettingsFromEnv(env: NodeJS.ProcessEnv): ProducerSettings {
  const v = requireEnv(env, 'producer', [EnvVar.stagingBucket, EnvVar.batchesQueueUrl, CONFIG_VARS]);
  return { config: loadConfigFromEnv(env, 'producer'), stagingBucket: v[EnvVar.stagingBucket]!, batchesQueueUrl: v[EnvVar.batchesQueueUrl]! };
}
