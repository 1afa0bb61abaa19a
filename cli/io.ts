/**
 * What every command shares and `landfall --help` needs, and nothing heavier: main imports only
 * this (and commander) before it knows which command runs.
 */
import type { Command } from 'commander';

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
  /** What a script needs beside the message (say, each table's fix); `--json` prints it as `error.details`. */
  readonly details: unknown;
  constructor(message: string, exitCode = 2, options?: ErrorOptions & { details?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
    this.details = options?.details;
  }
}

/** What a command module gets to register itself. */
export interface CommandContext {
  io: CliIo;
  setExitCode(code: number): void;
}

/** A command module's export: `cli/commands/<name>.ts` → `export const register: RegisterCommand`. */
export type RegisterCommand = (program: Command, context: CommandContext) => void;

/**
 * An "Examples:" section for a command's --help (`.addHelpText('after', examples([...]))`): each
 * line a command as a user types it, optionally followed by `  # what it does`.
 */
export function examples(lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((e) => `  $ ${e}`).join('\n')}`;
}
