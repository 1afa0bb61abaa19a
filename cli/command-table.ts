import type { RegisterCommand } from './context.ts';

/** One `landfall` command as `landfall --help` lists it; its module is loaded only when it runs. */
export interface CommandEntry {
  /** The name and arguments, as commander takes them: `status [file]`. */
  usage: string;
  aliases?: readonly string[];
  /** One line for the list of commands; the command's own --help says more. */
  summary: string;
  load(): Promise<{ register: RegisterCommand }>;
}

/**
 * Every command, in the order `landfall --help` lists them. A command's module (and the database
 * driver, the AWS SDK or the emulator it imports) is loaded only when that command runs, so
 * `landfall --help` and a mistyped command answer without loading any of them. A new
 * `cli/commands/<name>.ts` needs a line here (test/unit/cli-commands.test.ts checks it).
 */
export const COMMANDS: readonly CommandEntry[] = [
  { usage: 'dev', summary: 'run the whole pipeline locally in the foreground (what `npm start` runs)', load: () => import('./commands/dev.ts') },
  { usage: 'run <files...>', summary: 'one-shot: load files through the local stack and print one receipt per file', load: () => import('./commands/run.ts') },
  { usage: 'drop <file>', summary: "upload a file into the running local stack's inbox", load: () => import('./commands/drop.ts') },
  { usage: 'status [file]', summary: 'receipts and counts per file; with FILE its batches', load: () => import('./commands/status.ts') },
  { usage: 'doctor', summary: 'check every configured table: key index, NULL keys, version column, duplicates', load: () => import('./commands/doctor.ts') },
  { usage: 'dedupe <table>', summary: 'remove existing duplicates by key (with a backup), then add the unique index', load: () => import('./commands/dedupe.ts') },
  { usage: 'quarantine', summary: 'list, export, retry, resolve or dismiss quarantined rows', load: () => import('./commands/quarantine.ts') },
  { usage: 'rejects', summary: 'rows the producer could not read, per file', load: () => import('./commands/rejects.ts') },
  { usage: 'replay <batch>', summary: 're-run one batch through the replay path', load: () => import('./commands/replay.ts') },
  { usage: 'snapshot', summary: 'snapshot files: confirm a removal a guard held (snapshot confirm FILE)', load: () => import('./commands/snapshot.ts') },
  { usage: 'forget <file>', summary: 'clear a failed attempt at a file from the ledger, so it can be dropped again', load: () => import('./commands/forget.ts') },
  { usage: 'sql', aliases: ['psql'], summary: 'SQL on the pipeline\'s database: -c, a prompt, \\d and \\dt (hands off to psql when installed)', load: () => import('./commands/sql.ts') },
  { usage: 'grant-role', summary: 'create the least-privilege role the functions log in as', load: () => import('./commands/grant-role.ts') },
];

/** The entry named `name` (or one of its aliases). */
export function findCommand(name: string): CommandEntry | undefined {
  return COMMANDS.find((c) => c.usage.split(' ')[0] === name || c.aliases?.includes(name));
}

/** Global options that take a value: the word after them is not a command name. */
const VALUE_OPTIONS = new Set(['--config', '--database-url']);

/**
 * The command an argument list names (`landfall --config f.json status x` → `status`), or the
 * one `landfall help status` asks about; undefined for none.
 */
export function commandNamed(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (VALUE_OPTIONS.has(arg)) {
      i++;
      continue;
    }
    if (arg.startsWith('-')) continue;
    return arg === 'help' && args[i + 1] !== undefined && !args[i + 1]!.startsWith('-') ? args[i + 1] : arg;
  }
  return undefined;
}
