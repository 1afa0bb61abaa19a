import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { Sql } from '../../shared/postgres/db.ts';
import { CliError, examples, resolveContext, type CliIo, type GlobalOptions, type RegisterCommand } from '../context.ts';
import { asCliError } from '../ledger.ts';
import { openDatabaseWithFallback } from '../local.ts';
import { MetaCommandError, runMetaCommand } from '../sql-meta.ts';
import { formatAligned, splitStatements, type TextResult } from '../sql-text.ts';

export interface SqlOptions extends GlobalOptions {
  /** Run these statements and exit (as `psql -c`). */
  command?: string;
  json?: boolean;
  /** true: hand over to psql (also with -c); false: never; unset: psql for the prompt when one is installed and stdin is a terminal. */
  psql?: boolean;
}

/** What postgres.js gives for one statement in simple, raw mode: rows of Buffers (the text PostgreSQL sent). */
type RawResult = { command: string; count: number | null; columns?: { name: string; type: number }[] | null } & readonly (readonly (Buffer | null)[])[];

/** A raw result as text, every value as PostgreSQL wrote it (no JavaScript type in between), columns by position. */
function textResult(raw: RawResult): TextResult {
  return {
    command: raw.command,
    count: raw.count ?? null,
    columns: raw.columns ? raw.columns.map((c) => ({ name: c.name, type: c.type })) : null,
    rows: [...raw].map((row) => row.map((v) => (v === null ? null : v.toString('utf8')))),
  };
}

/** Type names for the JSON output, by oid (`int4`, `numeric`, …), asked once per oid. */
async function typeNames(sql: Sql, oids: readonly number[], cache: Map<number, string>): Promise<Map<number, string>> {
  const missing = [...new Set(oids)].filter((o) => !cache.has(o));
  if (missing.length) {
    const rows = await sql.unsafe<{ oid: number; name: string }[]>('SELECT oid::int AS oid, typname AS name FROM pg_catalog.pg_type WHERE oid = ANY($1::oid[])', [`{${missing.join(',')}}`]);
    for (const r of rows) cache.set(r.oid, r.name);
  }
  return cache;
}

/** PostgreSQL's error as psql prints it: `ERROR:  message`, then DETAIL and HINT lines. */
function errorText(error: unknown): string {
  const e = error as { severity?: string; message?: string; detail?: string; hint?: string; position?: string };
  const lines = [`${e.severity ?? 'ERROR'}:  ${e.message ?? String(error)}`];
  if (e.detail) lines.push(`DETAIL:  ${e.detail}`);
  if (e.hint) lines.push(`HINT:  ${e.hint}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Runs SQL text statement by statement, in order, on one connection (as at the prompt or with
 * `psql -f`), printing each result as it comes: psql's aligned format, or with `json` one line
 * per statement, `{command, count, columns: [{name, type}], rows: [[text, …]]}` (values as
 * PostgreSQL's text, columns by position, so two columns of the same name stay two). Stops at
 * the first error and returns false.
 */
async function runText(sql: Sql, text: string, io: CliIo, json: boolean, types: Map<number, string>): Promise<boolean> {
  for (const statement of splitStatements(text).statements) {
    try {
      if (statement.startsWith('\\')) {
        io.stdout.write(await runMetaCommand(sql, statement));
        continue;
      }
      const raw = (await sql.unsafe(statement).simple().raw()) as unknown as RawResult | RawResult[];
      // One statement gives one result; a text the splitter took for one may still give several.
      const results = (Array.isArray(raw) && raw.length > 0 && 'command' in raw[0]! && !('command' in raw) ? raw : [raw]) as RawResult[];
      for (const result of results.map(textResult)) {
        if (!json) {
          io.stdout.write(formatAligned(result));
          continue;
        }
        const names = await typeNames(sql, (result.columns ?? []).map((c) => c.type), types);
        const columns = result.columns?.map((c) => ({ name: c.name, type: names.get(c.type) ?? String(c.type) })) ?? null;
        io.stdout.write(`${JSON.stringify({ command: result.command, count: result.count, columns, rows: result.rows })}\n`);
      }
    } catch (error) {
      io.stderr.write(error instanceof MetaCommandError ? `${error.message}\n` : errorText(error));
      return false;
    }
  }
  return true;
}

/** The `psql` on PATH, if there is one. */
export function findPsql(env: CliIo['env']): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const path = join(dir, 'psql');
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Hands the database over to psql: its connection from the URL, the password in PGPASSWORD (not
 * on its command line, where `ps` would show it). While psql runs, Ctrl-C is psql's (it cancels a
 * query): this process ignores it. Returns psql's exit code.
 */
async function handOff(psql: string, url: string, command: string | undefined, env: CliIo['env']): Promise<number> {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  const args = [u.toString(), ...(command === undefined ? [] : ['-c', command])];
  const saved = process.listeners('SIGINT');
  process.removeAllListeners('SIGINT');
  const ignore = () => {};
  process.on('SIGINT', ignore);
  try {
    const child = spawn(psql, args, { stdio: 'inherit', env: { ...env, ...(password ? { PGPASSWORD: password } : {}) } });
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => resolve(code ?? 1));
    });
  } finally {
    process.off('SIGINT', ignore);
    for (const listener of saved) process.on('SIGINT', listener as NodeJS.SignalsListener);
  }
}

/**
 * `landfall sql`: SQL on the database the other commands use (the running dev's, the embedded
 * one, or --database-url). `-c "…"` runs and exits; else a prompt, which is psql itself when one
 * is installed and stdin is a terminal (`--no-psql`: the built-in one, which reads statements
 * ending in `;` and knows \d, \dt, \dn). Output is what PostgreSQL returns, in psql's format.
 * Returns 0, or 1 when a statement failed (`-c`).
 */
export async function sqlCommand(options: SqlOptions, io: CliIo, input: NodeJS.ReadableStream = process.stdin): Promise<number> {
  const interactive = Boolean((input as { isTTY?: boolean }).isTTY);
  const psql = options.psql === false ? null : findPsql(io.env);
  if (options.psql === true && options.json) throw new CliError('sql: --json is landfall\'s own output; leave out --psql', 2);
  if (options.psql === true && psql === null) throw new CliError('sql --psql: no psql on PATH (apt-get install postgresql-client); leave out --psql for the built-in one', 2);
  const usePsql = psql !== null && (options.psql === true || (options.command === undefined && interactive && !options.json));
  let db;
  try {
    db = await openDatabaseWithFallback(resolveContext(options, io.env), io.env);
  } catch (error) {
    throw asCliError(error, 'sql: could not open the database');
  }
  try {
    if (usePsql) return (await handOff(psql, db.url, options.command, io.env)) === 0 ? 0 : 1;
    const connection = await db.sql.reserve();
    const types = new Map<number, string>();
    try {
      if (options.command !== undefined) return (await runText(connection, options.command, io, Boolean(options.json), types)) ? 0 : 1;
      const prompt = createInterface({ input, output: io.stdout as NodeJS.WritableStream, terminal: interactive });
      io.stderr.write(`landfall sql (${db.source} database); end statements with ;, \\? for help, \\q or Ctrl-D to leave${psql ? '' : ' (install psql for a fuller prompt)'}\n`);
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
        if (!buffer && /^\s*\\q\s*$/.test(line)) break;
        buffer += `${line}\n`;
        const { statements, complete } = splitStatements(buffer);
        // A meta-command runs at the end of its line; SQL once a statement ends in `;`.
        if (complete && (statements.length > 0 || buffer.trim() === '')) {
          if (statements.length) await runText(connection, buffer, io, Boolean(options.json), types);
          buffer = '';
        }
        ask();
      }
      prompt.close();
      return 0;
    } finally {
      connection.release();
    }
  } finally {
    await db.close();
  }
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  program
    .command('sql')
    .alias('psql')
    .description('SQL on the database the pipeline uses (create your own tables locally): -c runs and exits, else a prompt (psql itself when installed); prints what PostgreSQL returns, as psql does')
    .option('-c, --command <sql>', 'run these statements (and \\d, \\dt, \\dn) in order and exit; the first error stops (exit 1)')
    .option('--json', 'one JSON line per statement: command, count, columns (name, type), rows as PostgreSQL\'s text')
    .option('--psql', 'hand over to psql (also with -c)')
    .option('--no-psql', 'use the built-in prompt even when psql is installed')
    .addHelpText('after', examples(['landfall sql                                # a prompt (psql itself when it is installed)', "landfall sql -c '\\dt'                       # tables; \\d TABLE describes one", "landfall sql -c 'select count(*), count(distinct sku) from inventory; select now()'", "landfall sql --json -c 'select * from landfall.files'"]))
    .action(async (_options: unknown, command: Command) => {
      setExitCode(await sqlCommand(command.optsWithGlobals<SqlOptions>(), io));
    });
};
