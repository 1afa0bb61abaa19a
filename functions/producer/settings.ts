import { ConfigError, loadConfigFile, parseConfig, type LandfallConfig } from '../../shared/config.ts';
import { EnvVar } from '../../shared/env.ts';

export interface ProducerSettings {
  config: LandfallConfig;
  stagingBucket: string;
  batchesQueueUrl: string;
}

/** The producer's settings from its environment; fails fast, naming the variable. */
export function producerSettingsFromEnv(env: NodeJS.ProcessEnv): ProducerSettings {
  const missing: string[] = [EnvVar.stagingBucket, EnvVar.batchesQueueUrl].filter((name) => !env[name]);
  const inline = env[EnvVar.configJson];
  const path = env[EnvVar.config];
  if (!inline && !path) missing.push(`${EnvVar.configJson} or ${EnvVar.config}`);
  if (missing.length > 0) throw new Error(`producer: missing environment variable(s): ${missing.join(', ')}`);
  let config: LandfallConfig;
  if (inline) {
    let json: unknown;
    try {
      json = JSON.parse(inline);
    } catch (error) {
      throw new ConfigError(EnvVar.configJson, [`not valid JSON: ${(error as Error).message}`], { cause: error });
    }
    config = parseConfig(json, EnvVar.configJson);
  } else {
    config = loadConfigFile(path!);
  }
  return { config, stagingBucket: env[EnvVar.stagingBucket]!, batchesQueueUrl: env[EnvVar.batchesQueueUrl]! };
}
