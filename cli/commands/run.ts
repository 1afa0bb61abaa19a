import { basename } from 'node:path';
import { type Command, Option } from 'commander';
import type { LandfallConfig } from '../../shared/core/config.ts';
import { dropFile, DropError, type RunReceipt, tableForFile, waitForFile } from '../../shared/local/run-files.ts';
import { CliError, type CliIo, type GlobalOptions, loadOptionalConfig, parsePositiveInt, resolveContext, type RegisterCommand, examples } from '../context.ts';
import { progressOn } from '../progress.ts';
import { refuseUnreadyTables, startOrAttach } from '../stack-target.ts';

export interface RunOptions extends GlobalOptions {
  table?: string;
  concurrent?: boolean;
  timeout?: number;
  /** Drop files even when the same bytes were loaded before. */
  force?: boolean;
  /** One JSON receipt per line on stdout (the default when stdout is not a terminal). */
  json?: boolean;
  /** false: no progress on stderr; true: also a readable line per file there when it is not a terminal. */
  progress?: boolean;
}

/** One line a person reads; the JSON receipt goes to stdout. */
export function describeReceipt(r: RunReceipt): string {
  if (r.alreadyLoaded) return `${r.file}: already loaded on ${r.alreadyLoaded.on} (as ${r.alreadyLoaded.as}), nothing to do`;
  if (r.status === 'moved-aside') return `${r.file}: moved aside, ${r.reason}; now at ${r.movedTo}; fix: ${r.fix}`;
  if (r.status === 'stopped') {
    return `${r.file} → ${r.table}: STOPPED part-way, ${r.reason}; of the ${r.read} rows read: ${r.loaded} loaded, ${r.rejected} rejected, ${r.quarantined} quarantined${r.addsUp ? '' : '  (DOES NOT ADD UP)'}; fix: ${r.fix}`;
  }
  if (r.status === 'blocked') return `${r.file}: blocked, the consumer refuses table ${r.table}: ${r.reason}; fix: ${r.fix ?? 'landfall doctor'}`;
  if (r.status === 'timed-out') return `${r.file}: not complete in time (${r.batchesApplied}/${r.batches} batches applied)`;
  const parts = [`read ${r.read}`, `rejected ${r.rejected}`, `collapsed ${r.collapsed}`, `inserted ${r.inserted}`, `updated ${r.updated}`, `unchanged ${r.unchanged}`, `stale ${r.stale}`, `deleted ${r.deleted}`, `quarantined ${r.quarantined}`];
  // A snapshot file's removed rows stand beside the accounting (they were missing from the file, not read).
  const removed = r.status === 'held' ? `; HELD, nothing removed: ${r.reason}; go ahead: ${r.fix}` : r.removed ? `; removed ${r.removed}` : '';
  const end = r.state === 'complete, end unreadable' ? `; ${r.reason}; fix: ${r.fix}` : '';
  return `${r.file} → ${r.table}: ${r.state}, ${r.batches ?? '?'} ${r.batches === 1 ? 'batch' : 'batches'}; ${parts.join(', ')}${r.addsUp ? '' : '  (DOES NOT ADD UP)'}${removed}${end}`;
}

/**
 * `landfall run`: start (or attach to) the stack, drop the files in order (each complete before
 * the next unless --concurrent), print one JSON receipt per file on stdout. Exit 0 only when
 * every file is complete and every row landed; 1 when the data needs attention (moved aside, stopped, not
 * adding up, its end unreadable, rows rejected or quarantined, nothing loaded); 2 when the config, a table or the stack failed.
 */
export async function runCommand(files: string[], options: RunOptions, io: CliIo, configOverride?: LandfallConfig): Promise<number> {
  const context = resolveContext(options, io.env);
  const config = configOverride ?? loadOptionalConfig(context);
  if (!config) throw new CliError('run needs a table config: pass --config or set LANDFALL_CONFIG');
  if (files.length === 0) throw new CliError('run needs at least one FILE');
  const tables = files.map((f) => {
    try {
      return tableForFile(config, f, options.table);
    } catch (error) {
      if (error instanceof DropError) throw new CliError(error.message);
      throw error;
    }
  });
  if (options.concurrent) {
    // Two files under one inbox key at once would overwrite each other before the producer reads them.
    const seen = new Map<string, string>();
    files.forEach((f, i) => {
      const key = `${tables[i]!.prefix}${basename(f)}`;
      const other = seen.get(key);
      if (other) throw new CliError(`--concurrent: ${other} and ${f} would both be dropped as ${key}; rename one or drop them one after the other`);
      seen.set(key, f);
    });
  }
  // Progress on stderr unless --no-progress: a bar on a terminal, else a plain line every few seconds.
  const showProgress = options.progress !== false;
  const describeOnStderr = options.progress === true || Boolean(io.stderr.isTTY);
  const json = options.json ?? !io.stdout.isTTY;
  const timeoutMs = (options.timeout ?? 600) * 1000;
  const stack = await startOrAttach(context, io, config);
  try {
    await refuseUnreadyTables(stack.target.sql, config, io, 'run');
  } catch (error) {
    await stack.close();
    throw error;
  }
  const print = (receipt: RunReceipt) => {
    io.stdout.write(json ? `${JSON.stringify(receipt)}\n` : `${describeReceipt(receipt)}\n`);
    if (describeOnStderr && json) io.stderr.write(`${describeReceipt(receipt)}\n`);
  };
  let progress = progressOn(io, showProgress);
  try {
    const runOne = async (path: string, i: number): Promise<RunReceipt> => {
      const dropped = await dropFile(stack.target, path, tables[i]!, { force: Boolean(options.force) });
      const tracker = progress.track(basename(path), path);
      const receipt = await waitForFile(stack.target, dropped, { timeoutMs, onProgress: (r, whileReading) => tracker.update(r, whileReading) });
      tracker.done();
      return receipt;
    };
    const receipts: RunReceipt[] = [];
    if (options.concurrent) {
      receipts.push(...(await Promise.all(files.map(runOne))));
      progress.stop();
      receipts.forEach(print);
    } else {
      for (const [i, f] of files.entries()) {
        const receipt = await runOne(f, i);
        // The bar is cleared before the receipt is written, then drawn afresh for the next file.
        progress.stop();
        print(receipt);
        receipts.push(receipt);
        progress = progressOn(io, showProgress);
      }
    }
    progress.stop();
    if (receipts.some((r) => r.status === 'blocked')) {
      io.stderr.write('landfall: a table was refused while the files were loading (blocked); its batches apply once it is fixed\n');
      return 2;
    }
    if (receipts.some((r) => r.status === 'timed-out')) {
      const detail = stack.errors.at(-1);
      io.stderr.write(`landfall: not every file completed in time${detail ? `; last error: ${detail}` : ''}\n`);
      return 2;
    }
    const stopped = receipts.filter((r) => r.status === 'stopped');
    if (stopped.length) {
      io.stderr.write(`landfall: ${stopped.length === 1 ? 'a file was' : `${stopped.length} files were`} stopped part-way by the producer's per-file invocation cap (too-many-invocations): only the rows read were loaded: ${stopped.map((r) => r.file).join(', ')}; ${stopped[0]!.fix}\n`);
    }
    // 1: the data needs attention (a file moved aside, stopped or not adding up, its end unreadable, rows rejected or quarantined, nothing loaded, a snapshot's removal held).
    return receipts.every((r) => r.status === 'complete' && r.addsUp && r.rejected === 0 && r.quarantined === 0 && r.state !== 'complete, 0 loaded' && r.state !== 'complete, end unreadable') ? 0 : 1;
  } finally {
    progress.stop();
    await stack.close();
  }
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  program
    .command('run')
    .description('one-shot: start (or attach to) the local stack, drop the files in order, wait, print one JSON receipt per file')
    .argument('<files...>', 'files to drop, in order')
    .option('--table <table>', 'the table for every file (default: by config or folder name)')
    .option('--concurrent', 'drop all files at once instead of one after another')
    .addOption(new Option('--timeout <seconds>', 'give up waiting for a file after this long').argParser(parsePositiveInt).default(600))
    .option('--force', 'drop files even when the same bytes were loaded into the table before; a snapshot file\'s removal goes ahead whatever its guards say')
    .option('--progress', 'progress, and a readable line per file, on stderr even when it is not a terminal')
    .option('--no-progress', 'no progress on stderr')
    .option('--json', 'one JSON receipt per file on stdout (the default when stdout is not a terminal)')
    .addHelpText('after', examples(['landfall run --config landfall.json orders/2026-11-01.csv orders/2026-11-02.csv', 'landfall run --config landfall.json --table public.orders export.csv --json > receipts.ndjson', 'DATABASE_URL=postgres://me@db.internal/app landfall run --config landfall.json data/*.csv']))
    .action(async (files: string[], options: RunOptions, command: Command) => {
      setExitCode(await runCommand(files, { ...command.optsWithGlobals(), ...options }, io));
    });
};
