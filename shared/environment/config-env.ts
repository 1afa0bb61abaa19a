import { ConfigError, type LandfallConfig, parseConfig } from '../core/config.ts';
import { loadConfigFile } from './config-file.ts';
import { EnvironmentError, EnvVar } from './env.ts';

/** Either variable of the config will do. */
export const CONFIG_VARS = [EnvVar.configJson, EnvVar.config] as const;

/**
 * Names the variables a function needs and fails fast with all the missing ones. An array
 * entry is a choice: one of its variables must be set.
 */
export function requireEnv(env: NodeJS.ProcessEnv, who: string, names: readonly (string | readonly string[])[]): Record<string, string> {
  const missing = names.filter((name) => (typeof name === 'string' ? !env[name] : !name.some((n) => env[n]))).map((name) => (typeof name === 'string' ? name : name.join(' or ')));
  if (missing.length > 0) throw new EnvironmentError(`${who}: missing environment variable(s): ${missing.join(', ')}`, missing);
  return Object.fromEntries(names.flat().filter((name) => env[name]).map((name) => [name, env[name]!]));
}

/** The table config from LANDFALL_CONFIG_JSON (inline, as the CDK stack sets it) or LANDFALL_CONFIG (a path). */
export function loadConfigFromEnv(env: NodeJS.ProcessEnv, who: string): LandfallConfig {
  const inline = env[EnvVar.configJson];
  const path = env[EnvVar.config];
  if (inline) {
    let json: unknown;
    try {
      json = JSON.parse(inline);
    } catch (error) {
      throw new ConfigError(EnvVar.configJson, [`not valid JSON: ${(error as Error).message}`], { cause: error });
    }
    return parseConfig(json, EnvVar.configJson);
  }
  if (path) return loadConfigFile(path);
  const either = `${EnvVar.configJson} or ${EnvVar.config}`;
  throw new EnvironmentError(`${who}: missing environment variable(s): ${either}`, [either]);
}
