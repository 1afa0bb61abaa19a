import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { ARRIVAL } from '../../shared/core/config.ts';
import type { Sql } from '../../shared/postgres/db.ts';
import { KeepRuleError, parseKeepRule } from '../../shared/tools/dedupe/keep-rule.ts';
import { DedupePlanError } from '../../shared/tools/dedupe/plan.ts';
import {
  DedupeError,
  dryRunDedupe,
  runDedupe,
  type DedupeProgress,
  type DedupeRequest,
  type DedupeRunOptions,
  type DedupeSummary,
  type DryRunReport,
} from '../../shared/tools/dedupe/run-dedupe.ts';
import { parseTableName } from '../../shared/core/identifiers.ts';
import { textTable } from '../../shared/tools/doctor/format-report.ts';
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

export interface DedupeOptions extends GlobalOptions {
  key?: string[];
  keep?: string;
  dryRun?: boolean;
  batch?: number;
  /** Force NULL handling; by default NULLs are equal exactly when a key column is nullable. */
  nullsNotDistinct?: boolean;
  nullsDistinct?: boolean;
  restart?: boolean;
  json?: boolean;
  sample?: number;
  sql?: Sql;
  /** Test hooks passed to the runner. */
  run?: Pick<DedupeRunOptions, 'afterBatch' | 'beforeIndex' | 'maxIndexAttempts' | 'now'>;
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');

function formatDryRun(report: DryRunReport): string {
  const lines = [
    `Dry run: dedupe of ${report.table} by (${report.key.join(', ')}), keep ${report.keep}, ties by ${report.tieBreak}, NULLs ${report.nullsNotDistinct ? 'equal (NULLS NOT DISTINCT)' : 'distinct'}`,
    `  duplicate groups     ${n(report.groups)}`,
    `  rows to remove       ${n(report.wouldRemove)}`,
  ];
  if (report.ignoredNullGroups) lines.push(`  NULL-key groups left ${n(report.ignoredNullGroups)} (NULLs are distinct; --nulls-not-distinct to merge them)`);
  lines.push(`  then                 ${report.indexStatement}`);
  if (report.sample.length) {
    lines.push('', 'Sample (first groups by key):');
    const rows = [[...report.key, 'keep value', 'ctid', '']];
    for (const s of report.sample) {
      rows.push([...s.key.map((v) => v ?? 'NULL'), s.keepValue ?? 'NULL', s.ctid, s.winner ? `keep (1 of ${n(s.groupSize)})` : 'remove']);
    }
    lines.push(textTable(rows).replace(/^/gm, '  '));
  }
  lines.push('', 'Nothing was changed.', '');
  return lines.join('\n');
}

function formatSummary(s: DedupeSummary): string {
  return [
    `Dedupe of ${s.table} by (${s.key.join(', ')}) done${s.resumed ? ' (resumed an interrupted run)' : ''}`,
    `  keep rule            ${s.keep}, ties by ${s.tieBreak}`,
    `  NULL keys            ${s.nullsNotDistinct ? 'equal (NULLS NOT DISTINCT)' : 'distinct'}`,
    `  duplicate groups     ${n(s.groups)}`,
    `  rows removed         ${n(s.removed)}${s.removedTotal !== s.removed ? ` (${n(s.removedTotal)} in the whole run)` : ''}, in ${s.passes} pass(es)`,
    `  backup table         ${s.backupTable}`,
    `  unique index         "${s.indexName}" ${s.indexCreated ? `created (attempt ${s.indexAttempts})` : 'already there'}`,
    `  duplicates left      ${n(s.remainingDuplicateGroups)}`,
    `  time                 ${(s.durationMs / 1000).toFixed(1)} s`,
    '',
    'To restore the removed rows:',
    ...s.restore.flatMap((l) => l.split('\n')).map((l) => `  ${l}`),
    '',
  ].join('\n');
}

/** Progress on stderr: a bar on a terminal, one line per phase otherwise. */
function progressReporter(io: CliIo, quiet: boolean): { onProgress: (e: DedupeProgress) => void; stop: () => void } {
  if (quiet) return { onProgress: () => {}, stop: () => {} };
  let bar: cliProgress.SingleBar | null = null;
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  const say = (line: string) => {
    stop();
    io.stderr.write(`${line}\n`);
  };
  let lastPrinted = 0;
  return {
    stop,
    onProgress: (e) => {
      switch (e.phase) {
        case 'plan':
          return say(`pass ${e.pass}: finding duplicates...`);
        case 'delete':
          if (e.total === 0) return;
          if (io.stderr.isTTY) {
            if (!bar) {
              bar = new cliProgress.SingleBar(
                { stream: io.stderr as NodeJS.WritableStream, format: `pass ${e.pass} {bar} {percentage}% | {value}/{total} rows moved to backup | {eta_formatted} left`, hideCursor: true },
                cliProgress.Presets.shades_classic,
              );
              bar.start(e.total, e.removed);
            } else bar.update(e.removed);
          } else if (e.removed === 0 || e.removed === e.total || Date.now() - lastPrinted > 2000) {
            lastPrinted = Date.now();
            io.stderr.write(`pass ${e.pass}: ${n(e.removed)}/${n(e.total)} rows moved to backup\n`);
          }
          return;
        case 'index':
          return say(`creating the unique index: ${e.statement}`);
        case 'index-retry':
          return say(`the index failed on a new duplicate (attempt ${e.attempt}): ${e.reason}; dropped it, cleaning again`);
        case 'verify':
          return say('verifying no duplicates remain...');
      }
    },
  };
}

/** `landfall dedupe TABLE`: dry run, or a real run with backup, index and summary. Returns the exit code. */
export async function dedupeCommand(tableArg: string, options: DedupeOptions, io: CliIo): Promise<number> {
  const context = resolveContext(options, io.env);
  const config = loadOptionalConfig(context);
  const configured = config?.tables.find((t) => t.table === tableArg);
  const key = options.key ?? (configured ? [...configured.conflictKey] : null);
  if (!key) throw new CliError(`${tableArg} is not in the config: pass --key a,b`);
  if (options.nullsNotDistinct && options.nullsDistinct) throw new CliError('--nulls-not-distinct and --nulls-distinct exclude each other');
  let table;
  try {
    table = parseTableName(tableArg);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  const request: DedupeRequest = {
    table,
    key,
    keep: parseKeepRule(options.keep ?? 'newest'),
    versionColumn: configured && configured.version !== ARRIVAL ? configured.version : null,
    arrivalColumn: configured?.arrivalColumn ?? null,
    nullsNotDistinct: options.nullsNotDistinct ? true : options.nullsDistinct ? false : undefined,
    batchSize: options.batch ?? 10_000,
  };
  const db = options.sql ? null : await openDatabaseWithFallback(context, io.env);
  const sql = options.sql ?? db!.sql;
  const progress = progressReporter(io, options.json ?? false);
  try {
    if (options.dryRun) {
      const report = await dryRunDedupe(sql, request, options.sample ?? 5);
      io.stdout.write(options.json ? `${JSON.stringify({ dryRun: true, ...report }, null, 2)}\n` : formatDryRun(report));
      return 0;
    }
    const summary = await runDedupe(sql, request, { restart: options.restart ?? false, onProgress: progress.onProgress, ...options.run });
    progress.stop();
    io.stdout.write(options.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
    return 0;
  } catch (error) {
    progress.stop();
    if (error instanceof KeepRuleError || error instanceof DedupePlanError || error instanceof DedupeError) throw new CliError(error.message, 1, { cause: error });
    throw error;
  } finally {
    await db?.close();
  }
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  program
    .command('dedupe')
    .argument('<table>', 'table to clean, optionally schema-qualified')
    .description('remove existing duplicates by key (each removed row copied to landfall_backup), then create the unique index CONCURRENTLY')
    .option('--key <columns>', 'key columns, comma-separated (default: the configured conflictKey)', parseKeyList)
    .option('--keep <rule>', 'newest | oldest (by the configured version or arrival column) | version:<col> | newest:<col> | oldest:<col> | any', 'newest')
    .option('--dry-run', 'print duplicate groups, rows that would be removed and a sample; change nothing')
    .option('--batch <n>', 'rows removed per transaction', parsePositiveInt, 10_000)
    .option('--nulls-not-distinct', 'NULL key values are equal (default when a key column is nullable)')
    .option('--nulls-distinct', 'NULL key values are distinct: rows with a NULL key are left alone')
    .option('--restart', 'abandon an unfinished run of this table and key instead of resuming it')
    .option('--sample <groups>', 'dry run: groups to show', parsePositiveInt, 5)
    .option('--json', 'machine-readable summary')
    .addHelpText('after', examples(['landfall dedupe orders --dry-run             # what would be removed, nothing changed', 'landfall dedupe public.orders --keep newest  # remove duplicates (backed up), then add the unique index', 'landfall dedupe orders --key order_id,line --keep oldest']))
    .action(async (table: string, _options: unknown, command: Command) => {
      setExitCode(await dedupeCommand(table, command.optsWithGlobals<DedupeOptions>(), io));
    });
};
