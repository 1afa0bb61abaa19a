import type { Command } from 'commander';
import { listRejects, type RejectReceipt } from '../../shared/postgres/ledger/files.ts';
import { CliError, parsePositiveInt, resolveContext, writeExport, type CliIo, type GlobalOptions, type RegisterCommand, examples } from '../context.ts';
import { alignedTable, oneLine, plural } from '../format.ts';
import { asCliError, filesNamed, ledgerExists } from '../ledger.ts';
import { openDatabaseWithFallback } from '../local.ts';

export interface RejectsOptions extends GlobalOptions {
  limit?: number;
  json?: boolean;
  /** export: write the NDJSON here instead of stdout. */
  out?: string;
}

/** Rows `ls` shows unless told otherwise. */
export const DEFAULT_REJECTS_LIMIT = 100;

/** How much of a rejected row's text the table shows (export and --json give all of it). */
const RAW_SHOWN = 60;

/** The rejected rows of FILE (or of every file), read from the ledger; a FILE it does not know is a CliError. */
async function readRejects(file: string | undefined, options: RejectsOptions, io: CliIo, limit: number | undefined): Promise<RejectReceipt[]> {
  try {
    const db = await openDatabaseWithFallback(resolveContext(options, io.env), io.env);
    try {
      if (!(await ledgerExists(db.sql))) {
        if (file !== undefined) throw new CliError(`no file "${file}" in the ledger (landfall status lists them)`, 2);
        return [];
      }
      let fileIds: string[] | undefined;
      if (file !== undefined) {
        fileIds = (await filesNamed(db.sql, file)).map((r) => r.fileId);
        if (fileIds.length === 0) throw new CliError(`no file "${file}" in the ledger (give its inbox key, file id or name; landfall status lists them)`, 2);
      }
      return await listRejects(db.sql, { ...(fileIds ? { fileIds } : {}), ...(limit !== undefined ? { limit } : {}) });
    } finally {
      await db.close();
    }
  } catch (error) {
    throw asCliError(error, 'rejects: could not read the ledger');
  }
}

/** Rejected rows as a table: file, row, line, reason and the start of the row's text. */
export function formatRejectsTable(rows: readonly RejectReceipt[]): string {
  const table = [['FILE', 'TABLE', 'ROW', 'LINE', 'REASON', 'TEXT']];
  for (const r of rows) {
    const text = oneLine(r.raw);
    table.push([r.file, r.table, String(r.row), String(r.line), oneLine(r.reason), text.length > RAW_SHOWN || r.truncated ? `${text.slice(0, RAW_SHOWN)}…` : text]);
  }
  return alignedTable(table, new Set([2, 3]));
}

/**
 * `landfall rejects ls [FILE]`: rows the producer could not turn into a record (a quoting error,
 * a wrong number of fields, a bad JSON line), with their row and line in the file, the reason
 * and the text. Returns 0 (as `quarantine ls`: listing is not a verdict).
 */
export async function rejectsLsCommand(file: string | undefined, options: RejectsOptions, io: CliIo): Promise<number> {
  const limit = options.limit ?? DEFAULT_REJECTS_LIMIT;
  const fetched = await readRejects(file, options, io, limit + 1);
  const rows = fetched.slice(0, limit);
  const truncated = fetched.length > limit;
  if (options.json) io.stdout.write(`${JSON.stringify({ rows, truncated }, null, 2)}\n`);
  else if (rows.length === 0) io.stdout.write(`No rejected rows${file === undefined ? '' : ` in ${file}`}.\n`);
  else {
    const footer = truncated ? `First ${plural(rows.length, 'row')} shown (--limit N, or rejects export for all).` : `${plural(rows.length, 'rejected row')}. Whole text: landfall rejects export${file === undefined ? '' : ` ${file}`}.`;
    io.stdout.write(`${formatRejectsTable(rows)}\n\n${footer}\n`);
  }
  return 0;
}

/** `landfall rejects export [FILE]`: every rejected row as one NDJSON line, to `--out F` or stdout. Returns 0. */
export async function rejectsExportCommand(file: string | undefined, options: RejectsOptions, io: CliIo): Promise<number> {
  const rows = await readRejects(file, options, io, undefined);
  const text = rows.map((r) => `${JSON.stringify(r)}\n`).join('');
  await writeExport(io, text, rows.length, options.out, 'rejects export');
  return 0;
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  const rejects = program
    .command('rejects')
    .description('rows the producer could not read (line, reason, text), kept in the ledger per file')
    .addHelpText('after', examples(['landfall rejects ls', 'landfall rejects ls inventory/2026-11-03-new-with-bad-rows.csv', 'landfall rejects export --out rejects.ndjson']));
  rejects
    .command('ls [file]')
    .description('rejected rows of FILE (inbox key, file id or name) or of every file')
    .option('--limit <n>', 'show at most this many rows', parsePositiveInt, DEFAULT_REJECTS_LIMIT)
    .option('--json', 'machine-readable, with the whole text of each row')
    .addHelpText('after', examples(['landfall rejects ls                         # every file\'s, oldest file first', 'landfall rejects ls orders/2026-11-01.csv --limit 20', 'landfall rejects ls --json']))
    .action(async (file: string | undefined, _options: unknown, command: Command) => {
      setExitCode(await rejectsLsCommand(file, command.optsWithGlobals<RejectsOptions>(), io));
    });
  rejects
    .command('export [file]')
    .description('rejected rows as NDJSON: file, row, line, reason, the whole text')
    .option('--out <file>', 'write to this file instead of stdout')
    .addHelpText('after', examples(['landfall rejects export orders/2026-11-01.csv --out rejects.ndjson', 'landfall rejects export | jq -r .reason | sort | uniq -c']))
    .action(async (file: string | undefined, _options: unknown, command: Command) => {
      setExitCode(await rejectsExportCommand(file, command.optsWithGlobals<RejectsOptions>(), io));
    });
};
