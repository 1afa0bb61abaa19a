import type { LandfallConfig } from '../core/config.ts';
import { EnvironmentError, EnvVar } from '../environment/env.ts';
import { readFunctionEnv } from '../environment/function-env.ts';
import { parseProducerLimits, type ProducerLimits } from '../producer/producer-contract.ts';

export interface ProducerSettings {
  config: LandfallConfig;
  stagingBucket: string;
  batchesQueueUrl: string;
  intakeQueueUrl: string;
  /** From LANDFALL_PRODUCER_LIMITS (the per-file invocation cap the stack sets); absent: the defaults. */
  limits?: Partial<ProducerLimits>;
}

/** The producer's settings from its environment contract (shared/environment/function-env.ts); fails fast, naming the variable. */
export function producerSettingsFromEnv(env: NodeJS.ProcessEnv): ProducerSettings {
  const { config, vars } = readFunctionEnv(env, 'producer');
  const settings: ProducerSettings = { config, stagingBucket: vars[EnvVar.stagingBucket], batchesQueueUrl: vars[EnvVar.batchesQueueUrl], intakeQueueUrl: vars[EnvVar.intakeQueueUrl] };
  const limits = env[EnvVar.producerLimits];
  if (limits) {
    try {
      settings.limits = parseProducerLimits(limits);
    } catch (error) {
      throw new EnvironmentError(`producer: ${EnvVar.producerLimits}: ${(error as Error).message}`, [EnvVar.producerLimits], { cause: error });
    }
  }
  return settings;
}
