import type { LandfallConfig } from '../../shared/config.ts';
import { EnvVar } from '../../shared/env.ts';
import { readFunctionEnv } from '../../shared/function-env.ts';

export interface ProducerSettings {
  config: LandfallConfig;
  stagingBucket: string;
  batchesQueueUrl: string;
  intakeQueueUrl: string;
}

/** The producer's settings from its environment contract (shared/function-env.ts); fails fast, naming the variable. */
export function producerSettingsFromEnv(env: NodeJS.ProcessEnv): ProducerSettings {
  const { config, vars } = readFunctionEnv(env, 'producer');
  return { config, stagingBucket: vars[EnvVar.stagingBucket], batchesQueueUrl: vars[EnvVar.batchesQueueUrl], intakeQueueUrl: vars[EnvVar.intakeQueueUrl] };
}
