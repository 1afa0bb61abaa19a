import type { Command } from 'commander';
import { batchReceipts, type FileReceipt, fileReceipts } from '../../shared/postgres/ledger/files.ts';
import { type BlockedTable, listBlockedTables } from '../../shared/postgres/ledger/blocked-tables.ts';
import { receiptOf } from '../../shared/local/run-files.ts';
import { CliError, resolveContext, type CliIo, type GlobalOptions, type RegisterCommand, examples } from '../context.ts';
import { batchAddsUp, fileBalance, formatFileDetail, formatStatusTable } from '../format.ts';
import { asCliError, filesNamed, ledgerExists } from '../ledger.ts';
import { openDatabaseWithFallback } from '../local.ts';

export interface StatusOptions extends GlobalOptions {
  json?: boolean;
}

/**
 * `landfall status [FILE]`: the receipt of every file (newest last), or of FILE with a line per
 * batch, and whether each complete file adds up (docs/rules.md, rule 4), after the tables the
 * consumer refuses (blocked, with the reason and the fix). Returns 0, 1 when a file was moved
 * aside or a complete file does not add up, 2 when a table is blocked; throws CliError (exit 2)
 * when it cannot look.
 */
export async function statusCommand(file: string | undefined, options: StatusOptions, io: CliIo): Promise<number> {
  let receipts: FileReceipt[];
  let blocked: BlockedTable[] = [];
  const details = new Map<string, Awaited<ReturnType<typeof batchReceipts>>>();
  try {
    const db = await openDatabaseWithFallback(resolveContext(options, io.env), io.env);
    try {
      const ledger = await ledgerExists(db.sql);
      receipts = !ledger ? [] : file === undefined ? await fileReceipts(db.sql) : await filesNamed(db.sql, file);
      if (ledger) blocked = await listBlockedTables(db.sql);
      if (file !== undefined) {
        if (receipts.length === 0) throw new CliError(`no file "${file}" in the ledger (give its inbox key or file id; landfall status lists them)`, 2);
        for (const r of receipts) details.set(r.fileId, await batchReceipts(db.sql, r.fileId));
      }
    } finally {
      await db.close();
    }
  } catch (error) {
    throw asCliError(error, 'status: could not read the ledger');
  }

  if (options.json) {
    const files = receipts.map((r) => {
      const batches = details.get(r.fileId);
      // The receipt shape `run` and `dev --json` print (addsUp null until the file is complete), plus the batches with FILE.
      return { ...receiptOf({ path: r.file, key: r.file }, r), addsUp: fileBalance(r).addsUp, ...(batches ? { batchReceipts: batches.map((b) => ({ ...b, addsUp: batchAddsUp(b) })) } : {}) };
    });
    io.stdout.write(`${JSON.stringify({ files, blockedTables: blocked }, null, 2)}\n`);
  } else if (file === undefined) {
    io.stdout.write(formatStatusTable(receipts, blocked));
  } else {
    io.stdout.write(receipts.map((r) => formatFileDetail(r, details.get(r.fileId)!)).join('\n'));
  }
  // A refused table is "a table not ready" (2), as `run` and `dev` refuse one at start-up.
  if (blocked.length > 0 || receipts.some((r) => r.status === 'blocked')) return 2;
  return receipts.some((r) => fileBalance(r).addsUp === false || r.status === 'moved-aside') ? 1 : 0;
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  program
    .command('status [file]')
    .description('per-file receipts and counts; with FILE (inbox key or file id) its batches too (exit 0; 1 a file was moved aside or does not add up; 2 a table is blocked, or could not look)')
    .option('--json', 'the receipts as one JSON document')
    .addHelpText('after', examples(['landfall status                             # every file, newest first', 'landfall status inventory/2026-11-01-full.csv   # one file: its batches and the accounting', "landfall status --json | jq '.files[] | select(.addsUp == false)'"]))
    .action(async (file: string | undefined, _options: unknown, command: Command) => {
      setExitCode(await statusCommand(file, command.optsWithGlobals<StatusOptions>(), io));
    });
};
