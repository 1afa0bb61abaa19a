import type { LandfallConfig } from '../core/config.ts';
import { EnvVar } from '../environment/env.ts';
import { readFunctionEnv } from '../environment/function-env.ts';

export interface ProducerSettings {
  config: LandfallConfig;
  stagingBucket: string;
  batchesQueueUrl: string;
}

/** The producer's settings from its environment contract (shared/environment/function-env.ts); fails fast, naming the variable. */
export function producerSettingsFromEnv(env: NodeJS.ProcessEnv): ProducerSettings {
  const { config, vars } = readFunctionEnv(env, 'producer');
  return { config, stagingBucket: vars[EnvVar.stagingBucket], batchesQueueUrl: vars[EnvVar.batchesQueueUrl] };
}
