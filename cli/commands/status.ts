import type { Command } from 'commander';
import { batchReceipts, checkLedger, type FileReceipt, fileReceipts, type LedgerFinding, type LedgerRepair, repairLedger } from '../../shared/postgres/ledger/files.ts';
import { type BlockedTable, listBlockedTables } from '../../shared/postgres/ledger/blocked-tables.ts';
import { receiptOf } from '../../shared/local/run-files.ts';
import { CliError, resolveContext, type CliIo, type GlobalOptions, type RegisterCommand, examples } from '../context.ts';
import { batchAddsUp, fileBalance, formatFileDetail, formatStatusTable, shortId } from '../format.ts';
import { asCliError, filesNamed, ledgerExists } from '../ledger.ts';
import { openDatabaseWithFallback } from '../local.ts';
import { openStaging } from '../staging.ts';

export interface StatusOptions extends GlobalOptions {
  json?: boolean;
  /** Look for ledger rows that disagree with the batches, and print the repairs. */
  check?: boolean;
  /** With --check: do the ledger's part of the repairs (needs the staging bucket for unlisted files). */
  repair?: boolean;
}

function formatCheck(findings: readonly LedgerFinding[], repairs: readonly LedgerRepair[]): string {
  const lines: string[] = [];
  for (const r of repairs) lines.push(`repaired: ${shortId(r.fileId)} (${r.kind}): ${r.done}`);
  if (findings.length === 0) {
    lines.push('Ledger check: every file row agrees with its batches.');
    return `${lines.join('\n')}\n`;
  }
  lines.push(`Ledger check: ${findings.length} ${findings.length === 1 ? 'row disagrees' : 'rows disagree'} with the batches:`);
  for (const f of findings) {
    lines.push(`  ${f.kind}: ${f.file ?? `file ${f.fileId}`} (${f.table}): ${f.detail}`);
    for (const step of f.repair) lines.push(`    repair: ${step}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * `landfall status --check [--repair]`: the ledger rows that disagree with the batches (checkLedger),
 * each with its repair; `--repair` does the ledger's part and checks again. 0 when nothing
 * disagrees (any more), 1 otherwise.
 */
async function checkCommand(options: StatusOptions, io: CliIo): Promise<number> {
  let findings: LedgerFinding[] = [];
  let repairs: LedgerRepair[] = [];
  try {
    const db = await openDatabaseWithFallback(resolveContext(options, io.env), io.env);
    try {
      if (await ledgerExists(db.sql)) {
        findings = await checkLedger(db.sql);
        if (options.repair && findings.length > 0) {
          const needsStaging = findings.some((f) => f.kind === 'batches-without-file');
          const staging = needsStaging ? await openStaging(io.env, 'status --check --repair reads the manifests of unlisted files') : null;
          try {
            // Loaded when used: the AWS SDK is not part of status's start-up.
            const reader = staging ? (await import('../../shared/aws/consumer-ports.ts')).stagingReader(staging.s3, staging.bucket) : null;
            repairs = await repairLedger(db.sql, findings, reader ? (key) => reader.readManifest(key) : null);
          } finally {
            staging?.close();
          }
          findings = await checkLedger(db.sql);
        }
      }
    } finally {
      await db.close();
    }
  } catch (error) {
    throw asCliError(error, 'status --check');
  }
  if (options.json) io.stdout.write(`${JSON.stringify({ findings, repairs }, null, 2)}\n`);
  else io.stdout.write(formatCheck(findings, repairs));
  return findings.length > 0 ? 1 : 0;
}

/**
 * `landfall status [FILE]`: the receipt of every file (newest last), or of FILE with a line per
 * batch, and whether each complete file adds up (docs/rules.md, rule 4), after the tables the
 * consumer refuses (blocked, with the reason and the fix). Returns 0, 1 when a file was moved
 * aside, a complete file does not add up, has rejected or quarantined rows or loaded nothing, 2
 * when a table is blocked; throws CliError (exit 2) when it cannot look.
 */
export async function statusCommand(file: string | undefined, options: StatusOptions, io: CliIo): Promise<number> {
  if (options.check || options.repair) {
    if (file !== undefined) throw new CliError('status --check looks at the whole ledger: leave FILE out', 2);
    return checkCommand(options, io);
  }
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
  // 1: the data needs attention: a file moved aside or stopped, not adding up, or complete with rejected or quarantined rows, or nothing loaded.
  const attention = (r: FileReceipt) => fileBalance(r).addsUp === false || r.status === 'moved-aside' || r.status === 'stopped' || r.state === 'complete with rejects' || r.state === 'complete, 0 loaded';
  return receipts.some(attention) ? 1 : 0;
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  program
    .command('status [file]')
    .description('per-file receipts and counts; with FILE (inbox key or file id) its batches too (exit 0; 1 a file was moved aside or stopped, does not add up, has rejected or quarantined rows or loaded nothing; 2 a table is blocked, or could not look)')
    .option('--json', 'the receipts as one JSON document')
    .option('--check', 'find ledger rows that disagree with the batches and print the repairs (exit 1 when some do)')
    .option('--repair', "with --check: do the ledger's part of the repairs, then check again")
    .addHelpText('after', examples(['landfall status                             # every file, newest first', 'landfall status inventory/2026-11-01-full.csv   # one file: its batches and the accounting', "landfall status --json | jq '.files[] | select(.addsUp == false)'", 'landfall status --check                     # ledger rows that disagree with their batches, and the repairs']))
    .action(async (file: string | undefined, _options: unknown, command: Command) => {
      setExitCode(await statusCommand(file, command.optsWithGlobals<StatusOptions>(), io));
    });
};
