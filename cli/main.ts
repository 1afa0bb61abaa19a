import { statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import packageJson from '../package.json' with { type: 'json' };
import { COMMANDS, commandNamed, findCommand } from './command-table.ts';
import { CliError, examples, processIo, type CliIo, type GlobalOptions } from './io.ts';

/** The same for every command (docs/operations.md); every command's --help ends with it. */
export const EXIT_CODES = `
Exit codes:
  0  everything accounted for (doctor: healthy, or warnings only)
  1  the data needs attention: a file moved aside or not adding up, rows rejected or quarantined (run),
     rows still failing (quarantine retry), a doctor error
  2  a config, usage or stack failure: bad config, table not ready, database or emulator unreachable

Docs: docs/operations.md in the repository.
`;

/** `landfall --version`: the version, the Node it runs on and the platform (as `aws --version`). */
export const VERSION_LINE = `landfall/${packageJson.version} node/${process.version} ${process.platform}-${process.arch}`;

/** Every command and subcommand below `command`. */
function allCommands(command: Command): Command[] {
  return command.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/**
 * A `--config` or `LANDFALL_CONFIG` that names no file is an error before any command runs, also
 * for the commands that would not read it (a typo should not be silently ignored).
 */
function checkConfigPath(options: GlobalOptions, env: CliIo['env']): void {
  const [path, from] = options.config !== undefined ? [options.config, '--config'] : [env.LANDFALL_CONFIG, 'LANDFALL_CONFIG'];
  if (path === undefined || path === '') return;
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (error) {
    throw new CliError(`${from} ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, 2);
  }
  if (!isFile) throw new CliError(`${from} ${path}: not a file (give the table config JSON file)`, 2);
}

/**
 * The `landfall` program, writing to `io`: the command `args` names is loaded and registered in
 * full; every other one is listed by name and summary only (its module is not loaded).
 */
export async function buildProgram(io: CliIo, setExitCode: (code: number) => void, args: readonly string[] = []): Promise<Command> {
  const program = new Command('landfall')
    .description('Exactly-once, duplicate-free upserts from S3 files into PostgreSQL')
    .option('--config <file>', 'table config JSON (default: $LANDFALL_CONFIG, else the running landfall dev\'s)')
    .option('--database-url <url>', 'PostgreSQL URL (default: $DATABASE_URL, else the running landfall dev\'s, else the embedded one)')
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)')
    .hook('preAction', (_program, action) => checkConfigPath(action.optsWithGlobals<GlobalOptions>(), io.env));
  program.addHelpText('after', examples([
    'landfall dev                                # the whole pipeline locally, with samples (= npm start)',
    'landfall status                             # every file, newest first',
    'landfall status orders/2026-11-01.csv       # one file and its batches',
    'landfall run --config landfall.json data/orders.csv',
    'landfall quarantine ls --table orders',
    'landfall sql -c "\\dt"',
  ]));
  const name = commandNamed(args);
  const chosen = name === undefined ? undefined : findCommand(name);
  // Only before a command: commander would take a command's own --version (doctor's) for it.
  if (chosen === undefined) program.version(VERSION_LINE, '-V, --version', 'print the version of landfall and of the Node it runs on');
  for (const entry of COMMANDS) {
    if (entry === chosen) {
      (await entry.load()).register(program, { io, setExitCode });
      continue;
    }
    // Listed only: it is not the command that runs (commander suggests it for a typo).
    const stub = program.command(entry.usage).description(entry.summary);
    for (const alias of entry.aliases ?? []) stub.alias(alias);
  }
  for (const command of [program, ...allCommands(program)]) {
    command.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    command.addHelpText('after', EXIT_CODES);
  }
  return program;
}

/**
 * With --json a failure is JSON on stdout too, so a script reading stdout sees it, with the
 * error's details (say, each table's fix) that a person reads on stderr.
 */
function reportFailure(argv: readonly string[], io: CliIo, message: string, exitCode: number, details?: unknown): number {
  io.stderr.write(`landfall: ${message}\n`);
  if (argv.includes('--json')) io.stdout.write(`${JSON.stringify({ error: { message, exitCode, ...(details === undefined ? {} : { details }) } })}\n`);
  return exitCode;
}

/** Runs the CLI with `argv` (as process.argv: node, script, args...) and returns the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let exitCode = 0;
  try {
    const program = await buildProgram(io, (code) => (exitCode = code), argv.slice(2));
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (error) {
    // --help and --version exit 0; a usage error is exit 2, like a config error.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof CliError) return reportFailure(argv, io, error.message, error.exitCode, error.details);
    // A bad config (ConfigError, by name: its module is not loaded for every command), or a
    // stack that failed, is exit 2: 1 means "ran, and the data needs attention".
    return reportFailure(argv, io, (error as Error)?.message ?? String(error), 2);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv);
}
