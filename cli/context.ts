import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { type LandfallConfig } from '../shared/core/config.ts';
import { loadConfigFile } from '../shared/environment/config-file.ts';
import { EnvVar } from '../shared/environment/env.ts';
import { landfallHome, readDevState } from './local.ts';

/** Where a command writes; tests pass buffers, the launcher passes the process streams. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: Record<string, string | undefined>;
}

export const processIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });

/** The options every command accepts (DESIGN.md, CLI). */
export interface GlobalOptions {
  config?: string | undefined;
  databaseUrl?: string | undefined;
}

/**
 * A failure the user can fix; main prints the message as one line and exits with the code:
 * 2 (config, usage or stack) unless told otherwise (docs/operations.md, exit codes).
 */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;
  constructor(message: string, exitCode = 2, options?: ErrorOptions) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** What a command module gets to register itself. */
export interface CommandContext {
  io: CliIo;
  setExitCode(code: number): void;
}

/** A command module's export: `cli/commands/<name>.ts` → `export const register: RegisterCommand`. */
export type RegisterCommand = (program: Command, context: CommandContext) => void;

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
