import type { Command } from 'commander';
import type { Sql } from '../../shared/postgres/db.ts';
import { listQuarantine, type QuarantinedRow, retryQuarantine, type RetryResult } from '../../shared/postgres/quarantine-retry.ts';
import { CliError, parsePositiveInt, resolveContext, writeExport, type CliIo, type GlobalOptions, type RegisterCommand, examples } from '../context.ts';
import { formatQuarantineTable, n, plural, quarantineRecord } from '../format.ts';
import { asCliError, configuredTables, findLedgerBatch, ledgerExists, requireConfig } from '../ledger.ts';
import { openDatabaseWithFallback } from '../local.ts';

export interface QuarantineFilterOptions extends GlobalOptions {
  table?: string;
  /** A batch id, or a unique prefix of one as `ls` shows it. */
  batch?: string;
}

export interface QuarantineLsOptions extends QuarantineFilterOptions {
  limit?: number;
  json?: boolean;
}

export interface QuarantineExportOptions extends QuarantineFilterOptions {
  /** Write the NDJSON here instead of stdout. */
  out?: string;
}

export interface QuarantineRetryOptions extends QuarantineFilterOptions {
  json?: boolean;
}

/** Rows `ls` shows unless told otherwise. */
export const DEFAULT_LS_LIMIT = 100;

/** Opens the database, runs `work` with the open rows' filter, closes; every failure is one CliError. */
async function withQuarantine<T>(options: QuarantineFilterOptions, io: CliIo, doing: string, work: (sql: Sql, filter: { table?: string; batchId?: string }) => Promise<T>): Promise<T> {
  try {
    const db = await openDatabaseWithFallback(resolveContext(options, io.env), io.env);
    try {
      const filter: { table?: string; batchId?: string } = {};
      if (options.table !== undefined) filter.table = options.table;
      if (options.batch !== undefined) filter.batchId = (await findLedgerBatch(db.sql, options.batch))?.batchId ?? options.batch;
      return await work(db.sql, filter);
    } finally {
      await db.close();
    }
  } catch (error) {
    throw asCliError(error, doing);
  }
}

async function openRows(sql: Sql, filter: { table?: string; batchId?: string; limit?: number }): Promise<QuarantinedRow[]> {
  return (await ledgerExists(sql)) ? listQuarantine(sql, filter) : [];
}

/**
 * `landfall quarantine ls`: open quarantined rows, grouped by table, oldest first, with where they came from
 * and why they failed; `--json` adds each row's values. Returns 0.
 */
export async function quarantineLsCommand(options: QuarantineLsOptions, io: CliIo): Promise<number> {
  const limit = options.limit ?? DEFAULT_LS_LIMIT;
  const fetched = await withQuarantine(options, io, 'quarantine ls: could not read the quarantine', (sql, filter) => openRows(sql, { ...filter, limit: limit + 1 }));
  const rows = fetched.slice(0, limit);
  const truncated = fetched.length > limit;
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ rows: rows.map(quarantineRecord), truncated }, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    io.stdout.write('No open quarantined rows.\n');
    return 0;
  }
  const footer = truncated
    ? `First ${plural(rows.length, 'row')} shown; more are open (--limit N, or quarantine export for all).`
    : `${plural(rows.length, 'open row')}. Values: quarantine export; after fixing the cause: quarantine retry.`;
  io.stdout.write(`${formatQuarantineTable(rows)}\n\n${footer}\n`);
  return 0;
}

/**
 * `landfall quarantine export`: every open quarantined row as one NDJSON line (the row's values
 * and the reason), to `--out F` or stdout. Returns 0.
 */
export async function quarantineExportCommand(options: QuarantineExportOptions, io: CliIo): Promise<number> {
  const rows = await withQuarantine(options, io, 'quarantine export: could not read the quarantine', (sql, filter) => openRows(sql, filter));
  const text = rows.map((q) => `${JSON.stringify(quarantineRecord(q))}\n`).join('');
  await writeExport(io, text, rows.length, options.out, 'quarantine export');
  return 0;
}

/**
 * `landfall quarantine retry`: re-applies open quarantined rows (after the cause was fixed, say
 * a missing FK parent inserted) with the winner rule and the arrival each row had. Rows that
 * apply leave the quarantine and count where the upsert counts them; rows that still fail stay,
 * with the new reason. Needs the config to prepare the tables. Returns 0 when every row applied
 * (or there was none), 1 when some still fail.
 */
export async function quarantineRetryCommand(options: QuarantineRetryOptions, io: CliIo): Promise<number> {
  let result: RetryResult = { applied: 0, stillFailing: 0, resolvedElsewhere: 0 };
  let failing: QuarantinedRow[] = [];
  // Before the database: a missing or bad config is for the user to fix, whatever the database holds.
  const config = requireConfig(options, io, 'quarantine retry');
  await withQuarantine(options, io, 'quarantine retry', async (sql, filter) => {
    const rows = await openRows(sql, filter);
    if (rows.length === 0) return;
    const outside = [...new Set(rows.map((q) => q.table))].filter((t) => !config.tables.some((c) => c.table === t));
    if (outside.length) {
      throw new CliError(`quarantined rows of ${outside.map((t) => `"${t}"`).join(', ')}, not in the config; fix the config or retry another --table`, 2);
    }
    const tables = configuredTables(sql, config);
    // Every table prepared before any row is retried: a refusal is about the table, not a row.
    for (const name of new Set(rows.map((q) => q.table))) await tables(name);
    result = await retryQuarantine(sql, tables, rows);
    const retried = new Set(rows.map((q) => q.id));
    failing = (await listQuarantine(sql, filter)).filter((q) => retried.has(q.id));
  });

  if (options.json) {
    io.stdout.write(`${JSON.stringify({ ...result, failing: failing.map(quarantineRecord) }, null, 2)}\n`);
  } else if (result.applied + result.stillFailing === 0) {
    io.stdout.write('No open quarantined rows to retry.\n');
  } else {
    const lines = [`Retried ${plural(result.applied + result.stillFailing, 'row')}: ${n(result.applied)} applied, ${n(result.stillFailing)} still failing.`];
    if (failing.length) lines.push('', 'Still failing (they stay in the quarantine):', formatQuarantineTable(failing));
    io.stdout.write(`${lines.join('\n')}\n`);
  }
  return result.stillFailing > 0 ? 1 : 0;
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  const quarantine = program
    .command('quarantine')
    .description('inspect and re-drive quarantined rows (rows that failed alone; their batches are applied)')
    .addHelpText('after', examples(['landfall quarantine ls --table orders', 'landfall quarantine export --out quarantine.ndjson', 'landfall quarantine retry --config landfall.json --table orders']));
  const filters = (command: Command) =>
    command.option('--table <table>', 'only rows of this table').option('--batch <batch>', 'only rows of this batch (id or the prefix ls shows)');

  filters(quarantine.command('ls').description('open quarantined rows: file, row number, SQLSTATE, constraint or column, message'))
    .option('--limit <n>', 'show at most this many rows', parsePositiveInt, DEFAULT_LS_LIMIT)
    .option('--json', 'machine-readable, with each row\'s values')
    .addHelpText('after', examples(['landfall quarantine ls                      # open rows, by table, oldest file first', 'landfall quarantine ls --table public.orders --limit 20', 'landfall quarantine ls --batch 3f2a9c1b07de --json']))
    .action(async (_options: unknown, command: Command) => {
      setExitCode(await quarantineLsCommand(command.optsWithGlobals<QuarantineLsOptions>(), io));
    });

  filters(quarantine.command('export').description('open quarantined rows as NDJSON: the row\'s values and the reason'))
    .option('--out <file>', 'write to this file instead of stdout')
    .addHelpText('after', examples(['landfall quarantine export --table orders --out orders-quarantine.ndjson', 'landfall quarantine export | jq -c \'{id, reason}\'']))
    .action(async (_options: unknown, command: Command) => {
      setExitCode(await quarantineExportCommand(command.optsWithGlobals<QuarantineExportOptions>(), io));
    });

  filters(quarantine.command('retry').description('re-apply open quarantined rows after fixing the cause; rows that still fail stay (exit 0 all applied, 1 some still fail, 2 could not run)'))
    .option('--json', 'machine-readable result')
    .addHelpText('after', examples(['landfall sql -c "insert into customers (id) values (99)"   # fix the cause first', 'landfall quarantine retry --config landfall.json --table orders']))
    .action(async (_options: unknown, command: Command) => {
      setExitCode(await quarantineRetryCommand(command.optsWithGlobals<QuarantineRetryOptions>(), io));
    });
};
