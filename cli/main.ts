import { readdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../shared/core/config.ts';
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

/** The same for every command (docs/operations.md); every command's --help ends with it. */
export const EXIT_CODES = `
Exit codes:
  0  everything accounted for (doctor: healthy, or warnings only)
  1  the data needs attention: a file moved aside or not adding up, rows rejected or quarantined (run),
     rows still failing (quarantine retry), a doctor error
  2  a config, usage or stack failure: bad config, table not ready, database or emulator unreachable

Docs: docs/operations.md in the repository.
`;

/** Every command and subcommand below `command`. */
function allCommands(command: Command): Command[] {
  return command.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/** The `landfall` program with every command registered, writing to `io`. */
export async function buildProgram(io: CliIo, setExitCode: (code: number) => void): Promise<Command> {
  const program = new Command('landfall')
    .description('Exactly-once, duplicate-free upserts from S3 files into PostgreSQL')
    .option('--config <file>', 'table config JSON (default: $LANDFALL_CONFIG, else the running landfall dev\'s)')
    .option('--database-url <url>', 'PostgreSQL URL (default: $DATABASE_URL, else the running landfall dev\'s, else the embedded one)')
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)');
  for (const register of await loadCommands()) register(program, { io, setExitCode });
  for (const command of [program, ...allCommands(program)]) {
    command.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    command.addHelpText('after', EXIT_CODES);
  }
  return program;
}

/** With --json a failure is JSON on stdout too, so a script reading stdout sees it. */
function reportFailure(argv: readonly string[], io: CliIo, message: string, exitCode: number): number {
  io.stderr.write(`landfall: ${message}\n`);
  if (argv.includes('--json')) io.stdout.write(`${JSON.stringify({ error: { message, exitCode } })}\n`);
  return exitCode;
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
    if (error instanceof CliError) return reportFailure(argv, io, error.message, error.exitCode);
    // A bad config, or a stack that failed, is exit 2: 1 means "ran, and the data needs attention".
    if (error instanceof ConfigError) return reportFailure(argv, io, error.message, 2);
    return reportFailure(argv, io, (error as Error)?.message ?? String(error), 2);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv);
}
