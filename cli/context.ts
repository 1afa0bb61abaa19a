import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { type LandfallConfig } from '../shared/core/config.ts';
import { loadConfigFile } from '../shared/environment/config-file.ts';
import { EnvVar } from '../shared/environment/env.ts';
import { landfallHome, readDevState } from './local.ts';

export { CliError, type CliIo, type CommandContext, type GlobalOptions, processIo, type RegisterCommand, examples } from './io.ts';
import { CliError, type CliIo, type GlobalOptions } from './io.ts';

export interface ResolvedContext {
  configPath: string | null;
  databaseUrl: string | null;
}

/**
 * Flags first, then the environment (LANDFALL_CONFIG, DATABASE_URL), then the config of a
 * running `landfall dev` of this home (its database is chosen by `openDatabaseWithFallback`).
 */
export function resolveContext(options: GlobalOptions, env: CliIo['env']): ResolvedContext {
  return {
    configPath: options.config ?? env[EnvVar.config] ?? readDevState(landfallHome(env))?.configPath ?? null,
    databaseUrl: options.databaseUrl ?? env[EnvVar.databaseUrl] ?? null,
  };
}

/** The config, or null when none was named. A bad config throws ConfigError. */
export function loadOptionalConfig(context: ResolvedContext): LandfallConfig | null {
  return context.configPath ? loadConfigFile(context.configPath) : null;
}


/** `a,b` → `['a', 'b']`; quoted names are not needed because commas never occur in keys we accept. */
export function parseKeyList(value: string): string[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((p) => p.length === 0)) throw new InvalidArgumentError('expected column names separated by commas');
  return parts;
}

/** A commander argument parser for a positive whole number. */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

/**
 * Writes an export: to `out` when given (then says how many rows went there), else to stdout.
 * A file that cannot be written is a CliError naming `doing` (exit 2).
 */
export async function writeExport(io: CliIo, text: string, rows: number, out: string | undefined, doing: string): Promise<void> {
  if (out === undefined) {
    io.stdout.write(text);
    return;
  }
  try {
    const stream = createWriteStream(out);
    stream.end(text);
    await once(stream, 'finish');
  } catch (error) {
    throw new CliError(`${doing}: could not write ${out}: ${(error as Error).message}`, 2, { cause: error });
  }
  io.stdout.write(`Exported ${rows} ${rows === 1 ? 'row' : 'rows'} to ${out}\n`);
}
