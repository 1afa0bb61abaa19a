import { readdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../shared/config.ts';
import { CliError, processIo, type CliIo, type RegisterCommand } from './context.ts';

const commandsDir = new URL('./commands/', import.meta.url);

/** Every `cli/commands/<name>.ts`, in name order: adding a command is adding one file. */
async function loadCommands(): Promise<RegisterCommand[]> {
  const files = readdirSync(commandsDir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
    .sort();
  const modules = await Promise.all(files.map((f) => import(new URL(f, commandsDir).href) as Promise<{ register?: RegisterCommand }>));
  return modules.flatMap((m, i) => {
    if (typeof m.register !== 'function') throw new Error(`cli/commands/${files[i]} does not export register()`);
    return [m.register];
  });
}

/** The `landfall` program with every command registered, writing to `io`. */
export async function buildProgram(io: CliIo, setExitCode: (code: number) => void): Promise<Command> {
  const program = new Command('landfall')
    .description('Exactly-once, duplicate-free upserts from S3 files into PostgreSQL')
    .option('--config <file>', 'table config JSON (default: $LANDFALL_CONFIG)')
    .option('--database-url <url>', 'PostgreSQL URL (default: $DATABASE_URL)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)');
  for (const register of await loadCommands()) register(program, { io, setExitCode });
  return program;
}

/** Runs the CLI with `argv` (as process.argv: node, script, args...) and returns the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let exitCode = 0;
  try {
    const program = await buildProgram(io, (code) => (exitCode = code));
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (error) {
    // --help and --version exit 0; a usage error is exit 2, like a config error.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof CliError) {
      io.stderr.write(`landfall: ${error.message}\n`);
      return error.exitCode;
    }
    // A bad config, or a stack that failed, is exit 2: 1 means "ran, and the data needs attention".
    if (error instanceof ConfigError) {
      io.stderr.write(`landfall: ${error.message}\n`);
      return 2;
    }
    io.stderr.write(`landfall: ${(error as Error)?.message ?? String(error)}\n`);
    return 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv);
}
