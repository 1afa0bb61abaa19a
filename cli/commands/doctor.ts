import { Option, type Command } from 'commander';
import { ARRIVAL, DEFAULT_ARRIVAL_COLUMN, type LandfallConfig } from '../../shared/core/config.ts';
import { doctorExitCode, type DoctorTarget, type TableReport } from '../../shared/tools/doctor/diagnose.ts';
import { formatDoctorReport } from '../../shared/tools/doctor/format-report.ts';
import { matchTableName, TableNameError } from '../../shared/core/table-names.ts';
import { DEFAULT_LARGE_TABLE_ROWS, inspectTables, targetsFromConfig } from '../../shared/tools/doctor/inspect-table.ts';
import type { Sql } from '../../shared/postgres/db.ts';
import {
  CliError,
  loadOptionalConfig,
  parseKeyList,
  parsePositiveInt,
  resolveContext,
  type CliIo,
  type GlobalOptions,
  type RegisterCommand,
  examples,
} from '../context.ts';
import { openDatabaseWithFallback } from '../local.ts';

export interface DoctorOptions extends GlobalOptions {
  json?: boolean;
  /** Check this table (from the config, or any table with --key). */
  table?: string;
  key?: string[];
  version?: string;
  mode?: 'upsert' | 'insert';
  estimateOnly?: boolean;
  largeTableRows?: number;
  /** Seconds before an exact duplicate count gives up and the estimate is reported. */
  countTimeout?: number;
  /** An open client (tests); else one is opened from --database-url / DATABASE_URL and closed. */
  sql?: Sql;
}

function chooseTargets(options: DoctorOptions, config: LandfallConfig | null): DoctorTarget[] {
  if (options.table) {
    let configured: LandfallConfig['tables'][number] | undefined;
    try {
      const name = matchTableName(options.table, config?.tables.map((t) => t.table) ?? []);
      configured = config!.tables.find((t) => t.table === name);
    } catch (error) {
      if (!(error instanceof TableNameError)) throw error;
      if (!options.key) throw new CliError(`--table ${options.table}: ${error.message}; pass --key a,b to check it anyway`, 2);
    }
    return [
      {
        table: configured?.table ?? options.table,
        key: options.key ?? [...configured!.conflictKey],
        version: options.version ?? configured?.version ?? ARRIVAL,
        mode: options.mode ?? configured?.mode ?? 'upsert',
        arrivalColumn: configured?.arrivalColumn ?? DEFAULT_ARRIVAL_COLUMN,
        ...(configured?.mode === 'snapshot' && !options.mode && !options.key ? { config: configured } : {}),
      },
    ];
  }
  if (options.key) throw new CliError('--key needs --table', 2);
  if (!config) throw new CliError('nothing to check: pass --config (or set LANDFALL_CONFIG), or --table T --key a,b', 2);
  return targetsFromConfig(config);
}

/**
 * `landfall doctor`: checks every configured table (or `--table T --key a,b`) and prints a table
 * of checks with the exact fixes, or JSON. Returns the exit code: 0 healthy or warnings only,
 * 1 an error to fix, 2 could not check.
 */
export async function doctorCommand(options: DoctorOptions, io: CliIo): Promise<number> {
  let reports: TableReport[];
  try {
    const context = resolveContext(options, io.env);
    const targets = chooseTargets(options, loadOptionalConfig(context));
    const db = options.sql ? null : await openDatabaseWithFallback(context, io.env);
    const sql = options.sql ?? db!.sql;
    try {
      reports = await inspectTables(sql, targets, {
        largeTableRows: options.largeTableRows ?? DEFAULT_LARGE_TABLE_ROWS,
        estimateOnly: options.estimateOnly ?? false,
        countTimeoutMs: (options.countTimeout ?? 0) * 1000,
        onEstimate: (table, e) => {
          if (!options.json) {
            io.stderr.write(`${table}: ~${Math.round(e.rows).toLocaleString('en-US')} rows, ~${Math.round(Math.max(0, e.rows - e.distinctKeys)).toLocaleString('en-US')} surplus by the planner's estimate; counting exactly...\n`);
          }
        },
      });
    } finally {
      await db?.close();
    }
  } catch (error) {
    io.stderr.write(`landfall doctor: could not check: ${(error as Error).message}\n`);
    return 2;
  }
  const exitCode = doctorExitCode(reports);
  if (options.json) io.stdout.write(`${JSON.stringify({ status: ['healthy', 'findings', 'unchecked'][exitCode], tables: reports }, null, 2)}\n`);
  else io.stdout.write(formatDoctorReport(reports));
  return exitCode;
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  program
    .command('doctor')
    .description('check every configured table: unique index on the key, NULL keys, version and arrival columns, duplicates (exit 0 healthy or warnings only, 1 an error to fix, 2 could not check)')
    .option('--json', 'machine-readable report')
    .option('--table <table>', 'check only this table (any table, with --key)')
    .option('--key <columns>', 'conflict key for --table, comma-separated', parseKeyList)
    .option('--version <column>', `version column for --table (default: config, else ${ARRIVAL})`)
    .addOption(new Option('--mode <mode>', 'mode for --table').choices(['upsert', 'insert']))
    .option('--estimate-only', "large tables: report the planner's estimate, skip the exact count")
    .option('--large-table-rows <n>', 'rows from which a table is large', parsePositiveInt, DEFAULT_LARGE_TABLE_ROWS)
    .option('--count-timeout <seconds>', 'give up the exact count after this long and report the estimate', parsePositiveInt)
    .addHelpText('after', examples(['landfall doctor --config landfall.json', 'landfall doctor --table public.orders --key order_id --version updated_at   # a table not in the config', 'landfall doctor --config landfall.json --json']))
    .action(async (_options: unknown, command: Command) => {
      setExitCode(await doctorCommand(command.optsWithGlobals<DoctorOptions>(), io));
    });
};
