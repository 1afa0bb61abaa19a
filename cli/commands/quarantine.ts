import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { matchTableName, TableNameError } from '../../shared/core/table-names.ts';
import type { Sql } from '../../shared/postgres/db.ts';
import { migrateLedger } from '../../shared/postgres/ledger/migrate.ts';
import { listQuarantine, type QuarantineFilter, type QuarantinedRow, retryQuarantine, type RetryResult } from '../../shared/postgres/quarantine-retry.ts';
import { type Closing, closeQuarantine, quarantinedTables } from '../../shared/postgres/quarantine-review.ts';
import { CliError, loadOptionalConfig, parsePositiveInt, resolveContext, writeExport, type CliIo, type GlobalOptions, type RegisterCommand, examples } from '../context.ts';
import { formatQuarantineTable, n, plural, quarantineRecord } from '../format.ts';
import { asCliError, configuredTables, filesNamed, findLedgerBatch, ledgerExists, requireConfig } from '../ledger.ts';
import { openDatabaseWithFallback } from '../local.ts';

export interface QuarantineFilterOptions extends GlobalOptions {
  /** `schema.table` or `table`, as the config or the quarantine names it. */
  table?: string;
  /** A batch id, or a unique prefix of one as `ls` shows it. */
  batch?: string;
  /** A file as `status` names it: inbox key, file id (or its prefix), or name. */
  file?: string;
}

export interface QuarantineLsOptions extends QuarantineFilterOptions {
  limit?: number;
  json?: boolean;
  /** Also the rows that left the quarantine: applied by retry, resolved, dismissed. */
  all?: boolean;
}

export interface QuarantineExportOptions extends QuarantineFilterOptions {
  /** Write the NDJSON here instead of stdout. */
  out?: string;
  all?: boolean;
}

export interface QuarantineCloseOptions extends QuarantineFilterOptions {
  /** Why: kept with the rows and in the audit trail (landfall.quarantine_events). */
  reason: string;
  json?: boolean;
}

export interface QuarantineRetryOptions extends QuarantineFilterOptions {
  json?: boolean;
}

/** Rows `ls` shows unless told otherwise. */
export const DEFAULT_LS_LIMIT = 100;

/** Who closes or retries rows, for the audit trail: the user at the machine. */
function actor(io: CliIo): string {
  let user = io.env.USER ?? io.env.LOGNAME;
  try {
    user ??= userInfo().username;
  } catch {
    user ??= 'unknown';
  }
  return `${user}@${hostname()}`;
}

/**
 * The table `--table` names: as the config or the quarantine spells it (`customers` for
 * `public.customers`), with a guess for a typo. Against nothing known (an empty quarantine, no
 * config), the name as given.
 */
async function tableNamed(sql: Sql, given: string, options: QuarantineFilterOptions, io: CliIo): Promise<string> {
  let configured: string[] = [];
  try {
    configured = loadOptionalConfig(resolveContext(options, io.env))?.tables.map((t) => t.table) ?? [];
  } catch {
    // A config that does not load is for the commands that need it to say.
  }
  const known = [...new Set([...configured, ...(await quarantinedTables(sql))])];
  if (known.length === 0) return given;
  try {
    return matchTableName(given, known, 'in the config or the quarantine');
  } catch (error) {
    if (error instanceof TableNameError) throw new CliError(`--table ${given}: ${error.message}`, 2);
    throw error;
  }
}

/**
 * Opens the database (the ledger brought up to date), runs `work` with the filter the options
 * name (`--table`, `--batch`, `--file`), closes; every failure is one CliError. Without a ledger
 * there is nothing: `work` gets null.
 */
async function withQuarantine<T>(options: QuarantineFilterOptions, io: CliIo, doing: string, work: (sql: Sql, filter: QuarantineFilter | null) => Promise<T>): Promise<T> {
  try {
    const db = await openDatabaseWithFallback(resolveContext(options, io.env), io.env);
    try {
      if (!(await ledgerExists(db.sql))) return await work(db.sql, null);
      // The quarantine's lifecycle columns come with a migration: a CLI newer than the running pipeline brings them.
      await migrateLedger(db.sql);
      const filter: QuarantineFilter = {};
      if (options.table !== undefined) filter.table = await tableNamed(db.sql, options.table, options, io);
      if (options.batch !== undefined) filter.batchId = (await findLedgerBatch(db.sql, options.batch))?.batchId ?? options.batch;
      if (options.file !== undefined) {
        const files = await filesNamed(db.sql, options.file);
        if (files.length === 0) throw new CliError(`--file ${options.file}: no such file in the ledger (landfall status lists them)`, 2);
        filter.fileIds = files.map((f) => f.fileId);
      }
      return await work(db.sql, filter);
    } finally {
      await db.close();
    }
  } catch (error) {
    throw asCliError(error, doing);
  }
}

async function openRows(sql: Sql, filter: QuarantineFilter | null): Promise<QuarantinedRow[]> {
  return filter === null ? [] : listQuarantine(sql, filter);
}

/**
 * `landfall quarantine ls`: open quarantined rows, grouped by table, oldest first, with where they came from
 * and why they failed; `--json` adds each row's values. Returns 0.
 */
export async function quarantineLsCommand(options: QuarantineLsOptions, io: CliIo): Promise<number> {
  const limit = options.limit ?? DEFAULT_LS_LIMIT;
  const fetched = await withQuarantine(options, io, 'quarantine ls: could not read the quarantine', (sql, filter) => openRows(sql, filter && { ...filter, all: Boolean(options.all), limit: limit + 1 }));
  const rows = fetched.slice(0, limit);
  const truncated = fetched.length > limit;
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ rows: rows.map(quarantineRecord), truncated }, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    io.stdout.write(options.all ? 'No quarantined rows.\n' : 'No open quarantined rows.\n');
    return 0;
  }
  const footer = truncated
    ? `First ${plural(rows.length, 'row')} shown; more are open (--limit N, or quarantine export for all).`
    : options.all
      ? `${plural(rows.length, 'row')}, ${n(rows.filter((q) => q.status === 'open').length)} open. Values: quarantine export --all.`
      : `${plural(rows.length, 'open row')}. Values: quarantine export; after fixing the cause: quarantine retry; handled elsewhere: quarantine resolve|dismiss ID --reason "…" (--all shows closed rows).`;
  io.stdout.write(`${formatQuarantineTable(rows)}\n\n${footer}\n`);
  return 0;
}

/**
 * `landfall quarantine export`: every open quarantined row as one NDJSON line (the row's values
 * and the reason), to `--out F` or stdout. Returns 0.
 */
export async function quarantineExportCommand(options: QuarantineExportOptions, io: CliIo): Promise<number> {
  const rows = await withQuarantine(options, io, 'quarantine export: could not read the quarantine', (sql, filter) => openRows(sql, filter && { ...filter, all: Boolean(options.all) }));
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
    if (rows.length === 0 || filter === null) return;
    const outside = [...new Set(rows.map((q) => q.table))].filter((t) => !config.tables.some((c) => c.table === t));
    if (outside.length) {
      throw new CliError(`quarantined rows of ${outside.map((t) => `"${t}"`).join(', ')}, not in the config; fix the config or retry another --table`, 2);
    }
    const tables = configuredTables(sql, config);
    // Every table prepared before any row is retried: a refusal is about the table, not a row.
    for (const name of new Set(rows.map((q) => q.table))) await tables(name);
    result = await retryQuarantine(sql, tables, rows, actor(io));
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

/**
 * `landfall quarantine resolve|dismiss [ID...] [--file F] [--table T] [--batch B] --reason TEXT`:
 * closes open quarantined rows, resolved (their data got in another way, say a corrected file)
 * or dismissed (not wanted), with the reason. The rows stay in the ledger with how, when and why
 * they were closed, and each act is kept in landfall.quarantine_events (who, when, why); `ls`
 * shows them only with `--all`. IDs and filters together close the rows that match both. An ID
 * that names no quarantined row is an error before anything is closed. Returns 0.
 */
export async function quarantineCloseCommand(closing: Closing, ids: readonly string[], options: QuarantineCloseOptions, io: CliIo): Promise<number> {
  const verb = closing === 'resolved' ? 'resolve' : 'dismiss';
  const wanted = ids.map((id) => {
    const n = Number(id);
    if (!Number.isSafeInteger(n) || n < 1) throw new CliError(`quarantine ${verb}: "${id}" is not a row id (landfall quarantine ls shows them)`, 2);
    return n;
  });
  if (wanted.length === 0 && options.table === undefined && options.file === undefined && options.batch === undefined) {
    throw new CliError(`quarantine ${verb}: name the rows: their IDs, --file F, --table T or --batch B (landfall quarantine ls shows them)`, 2);
  }
  const reason = options.reason?.trim() ?? '';
  if (reason === '') throw new CliError(`quarantine ${verb}: --reason says why (it is kept with the rows for audit)`, 2);
  const outcome = await withQuarantine(options, io, `quarantine ${verb}`, async (sql, filter) => {
    if (filter === null) {
      if (wanted.length) throw new CliError(`quarantine ${verb}: no quarantined row ${wanted[0]} (the ledger is empty)`, 2);
      return { closed: [] as number[], before: [] as QuarantinedRow[] };
    }
    const before = await listQuarantine(sql, { ...filter, ...(wanted.length ? { ids: wanted } : {}), all: true });
    const unknown = wanted.filter((id) => !before.some((q) => q.id === id));
    if (unknown.length) {
      const all = await listQuarantine(sql, { ids: unknown, all: true });
      const why = (id: number) => (all.some((q) => q.id === id) ? `row ${id} does not match the filters given` : `no quarantined row ${id}`);
      throw new CliError(`quarantine ${verb}: ${unknown.map(why).join('; ')}; nothing was ${closing}`, 2);
    }
    const open = before.filter((q) => q.status === 'open').map((q) => q.id);
    return { closed: await closeQuarantine(sql, open, closing, reason, actor(io)), before };
  });
  const { closed, before } = outcome;
  const already = before.filter((q) => q.status !== 'open');
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ [closing]: closed, alreadyClosed: already.map((q) => ({ id: q.id, status: q.status, at: q.resolvedAt, reason: q.resolutionReason })), reason }, null, 2)}\n`);
    return 0;
  }
  const lines = [
    closed.length
      ? `${closing === 'resolved' ? 'Resolved' : 'Dismissed'} ${plural(closed.length, 'row')} (${closed.length <= 20 ? `id ${closed.join(', ')}` : `ids ${closed[0]}…${closed.at(-1)}`}): ${reason}`
      : `No open quarantined row matched: nothing ${closing}.`,
  ];
  for (const q of already.slice(0, 20)) lines.push(`  row ${q.id} was already ${q.status} (${q.resolvedAt ?? '?'}${q.resolutionReason ? `: ${q.resolutionReason}` : ''})`);
  if (closed.length) lines.push('They leave quarantine ls (quarantine ls --all shows them, with the reason); landfall.quarantine_events keeps who closed them, when and why.');
  io.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  const quarantine = program
    .command('quarantine')
    .description('inspect and re-drive quarantined rows (rows that failed alone; their batches are applied)')
    .addHelpText('after', examples(['landfall quarantine ls --table orders', 'landfall quarantine export --out quarantine.ndjson', 'landfall quarantine retry --config landfall.json --table orders']));
  const filters = (command: Command) =>
    command
      .option('--table <table>', 'only rows of this table (schema.table or table)')
      .option('--file <file>', 'only rows of this file (inbox key, file id or name, as status shows it)')
      .option('--batch <batch>', 'only rows of this batch (id or the prefix ls shows)');

  filters(quarantine.command('ls').description('open quarantined rows: file, row number, SQLSTATE, constraint or column, message'))
    .option('--limit <n>', 'show at most this many rows', parsePositiveInt, DEFAULT_LS_LIMIT)
    .option('--all', 'also the rows that left the quarantine: applied by retry, resolved, dismissed (with how, when and why)')
    .option('--json', 'machine-readable, with each row\'s values')
    .addHelpText('after', examples(['landfall quarantine ls                      # open rows, by table, oldest file first', 'landfall quarantine ls --table public.orders --limit 20', 'landfall quarantine ls --batch 3f2a9c1b07de --json']))
    .action(async (_options: unknown, command: Command) => {
      setExitCode(await quarantineLsCommand(command.optsWithGlobals<QuarantineLsOptions>(), io));
    });

  filters(quarantine.command('export').description('open quarantined rows as NDJSON: the row\'s values and the reason'))
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--all', 'also the rows that left the quarantine')
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

  for (const closing of ['resolved', 'dismissed'] as const) {
    const verb = closing === 'resolved' ? 'resolve' : 'dismiss';
    filters(
      quarantine
        .command(`${verb} [ids...]`)
        .description(
          closing === 'resolved'
            ? 'close open quarantined rows whose data got in another way (a corrected file loaded), with the reason; kept for audit, shown by ls --all'
            : 'close open quarantined rows that are not wanted, with the reason; kept for audit, shown by ls --all',
        ),
    )
      .requiredOption('--reason <text>', 'why: kept with the rows and in landfall.quarantine_events')
      .option('--json', 'machine-readable result')
      .addHelpText(
        'after',
        examples(
          closing === 'resolved'
            ? ['landfall quarantine resolve 12 13 --reason "loaded from orders-2026-11-01-fixed.csv"', 'landfall quarantine resolve --file orders/2026-11-01.csv --reason "corrected file loaded"', 'landfall quarantine ls --all --table orders   # closed rows too, with the reason']
            : ['landfall quarantine dismiss 7 --reason "test row from the vendor, not wanted"', 'landfall quarantine dismiss --table public.orders --batch 3f2a9c1b07de --reason "duplicate feed"'],
        ),
      )
      .action(async (ids: string[], _options: unknown, command: Command) => {
        setExitCode(await quarantineCloseCommand(closing, ids, command.optsWithGlobals<QuarantineCloseOptions>(), io));
      });
  }
};
