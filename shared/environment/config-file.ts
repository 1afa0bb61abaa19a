import { readFileSync } from 'node:fs';
import { ConfigError, type LandfallConfig, parseConfig } from '../core/config.ts';

/** Reads and validates a config file; a JSON syntax error names the file. */
export function loadConfigFile(path: string): LandfallConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [`cannot read the file: ${(error as Error).message}`], { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, [`not valid JSON: ${(error as Error).message}`], { cause: error });
  }
  return parseConfig(json, path);
}
