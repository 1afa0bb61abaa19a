import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { Sql } from '../../shared/postgres/db.ts';
import { resolveContext, type CliIo, type GlobalOptions, type RegisterCommand, examples } from '../context.ts';
import { alignedTable, plural } from '../format.ts';
import { asCliError } from '../ledger.ts';
import { openDatabaseWithFallback } from '../local.ts';

export interface SqlOptions extends GlobalOptions {
  /** Run these statements and exit (as `psql -c`). */
  command?: string;
  json?: boolean;
}

const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** A result as psql shows one: aligned columns and a row count, or the command tag. */
export function formatResult(result: { command?: string; count?: number; columns?: { name: string }[] | null } & readonly Record<string, unknown>[]): string {
  const columns = (result.columns ?? []).map((c) => c.name);
  if (columns.length === 0) return `${result.command ?? 'OK'}${result.count ? ` ${result.count}` : ''}\n`;
  const rows = [columns, ...result.map((row) => columns.map((c) => cell(row[c])))];
  return `${alignedTable(rows)}\n(${plural(result.length, 'row')})\n`;
}

async function runText(sql: Sql, text: string, io: CliIo, json: boolean): Promise<void> {
  // The operator's own SQL, on their own database: it is run as written (simple protocol, so
  // several statements may go in one string).
  const results = await sql.unsafe(text).simple();
  // Several statements give a list of results; one gives its rows.
  const list = (Array.isArray(results[0]) ? results : [results]) as unknown as Parameters<typeof formatResult>[0][];
  for (const r of list) io.stdout.write(json ? `${JSON.stringify([...r])}\n` : formatResult(r));
}

/**
 * `landfall sql`: SQL on the database the other commands use (the running dev's, the embedded
 * one, or --database-url), for creating your own tables locally: `-c "…"` runs and exits, else
 * a small prompt reads statements ending in `;` (no psql ships with the embedded server).
 * Returns 0, or 1 when a statement failed (`-c`).
 */
export async function sqlCommand(options: SqlOptions, io: CliIo, input: NodeJS.ReadableStream = process.stdin): Promise<number> {
  let db;
  try {
    db = await openDatabaseWithFallback(resolveContext(options, io.env), io.env);
  } catch (error) {
    throw asCliError(error, 'sql: could not open the database');
  }
  try {
    if (options.command !== undefined) {
      try {
        await runText(db.sql, options.command, io, Boolean(options.json));
        return 0;
      } catch (error) {
        io.stderr.write(`ERROR: ${(error as Error).message}\n`);
        return 1;
      }
    }
    const prompt = createInterface({ input, output: io.stdout as NodeJS.WritableStream, terminal: Boolean((input as { isTTY?: boolean }).isTTY) });
    io.stderr.write(`landfall sql (${db.source} database); end statements with ;, Ctrl-D to leave\n`);
    let buffer = '';
    let closed = false;
    prompt.once('close', () => (closed = true));
    const ask = () => {
      if (closed) return;
      prompt.setPrompt(buffer ? 'landfall-> ' : 'landfall=> ');
      prompt.prompt();
    };
    ask();
    for await (const line of prompt) {
      buffer += `${line}\n`;
      if (line.trim().endsWith(';')) {
        await runText(db.sql, buffer, io, Boolean(options.json)).catch((error: unknown) => io.stderr.write(`ERROR: ${(error as Error).message}\n`));
        buffer = '';
      }
      ask();
    }
    return 0;
  } finally {
    await db.close();
  }
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  program
    .command('sql')
    .alias('psql')
    .description('SQL on the database the pipeline uses (create your own tables locally); -c runs and exits, else a prompt')
    .option('-c, --command <sql>', 'run these statements and exit')
    .option('--json', 'each result as a JSON array of rows')
    .addHelpText('after', examples(['landfall sql                                # a prompt (psql itself when it is installed)', "landfall sql -c '\\dt'                       # tables; \\d TABLE describes one", "landfall sql -c 'select count(*), count(distinct sku) from inventory; select now()'", "landfall sql --json -c 'select * from landfall.files'"]))
    .action(async (_options: unknown, command: Command) => {
      setExitCode(await sqlCommand(command.optsWithGlobals<SqlOptions>(), io));
    });
};
