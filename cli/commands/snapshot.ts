import type { Command } from 'commander';
import { isSnapshotFile } from '../../shared/core/snapshot-config.ts';
import { forceRemoval, type RemovalOutcome } from '../../shared/postgres/snapshot-removal.ts';
import { CliError, resolveContext, type CliIo, type GlobalOptions, type RegisterCommand } from '../context.ts';
import { n, plural, shortId } from '../format.ts';
import { asCliError, configuredTables, filesNamed, ledgerExists, requireConfig } from '../ledger.ts';
import { openDatabaseWithFallback } from '../local.ts';

export interface SnapshotOptions extends GlobalOptions {
  json?: boolean;
}

interface Confirmed {
  file: string;
  fileId: string;
  table: string;
  outcome: RemovalOutcome;
}

function describe(c: Confirmed): string {
  const o = c.outcome;
  const name = `${c.file} (${shortId(c.fileId)})`;
  switch (o.state) {
    case 'done': {
      const superseded = o.superseded ? `; ${plural(o.superseded, 'scope')} a newer snapshot settled first, left alone` : '';
      return o.already
        ? `${name}: its removal ran before (${plural(o.removed, 'row')} removed); nothing to do`
        : `${name}: removed ${plural(o.removed, 'row')} of ${n(o.stored)} stored in ${plural(o.scopes - o.superseded, 'scope')}${superseded}`;
    }
    case 'held':
      return `${name}: still held: ${o.reason}`;
    case 'waiting':
      return `${name}: not all its batches are applied yet; its removal goes ahead, whatever the guards say, after the last one`;
    case 'moved-aside':
      return `${name}: moved aside (not read), so it removes nothing`;
    case 'not-a-snapshot':
      return `${name}: under the table's incrementalPrefix, not a snapshot: it removes nothing`;
  }
}

/**
 * `landfall snapshot confirm FILE`: a snapshot file whose removal a guard held (`landfall status`
 * says `held`, with the numbers) goes ahead now, whatever the guards say, exactly once. A file
 * whose batches are not all applied yet goes ahead after its last one. Exit 0 when done (or to
 * come), 1 when it is still held (its keys are gone, or the removal failed on the data).
 */
export async function snapshotConfirmCommand(file: string, options: SnapshotOptions, io: CliIo): Promise<number> {
  const config = requireConfig(options, io, 'snapshot confirm');
  const confirmed: Confirmed[] = [];
  try {
    const db = await openDatabaseWithFallback(resolveContext(options, io.env), io.env);
    try {
      const receipts = (await ledgerExists(db.sql)) ? await filesNamed(db.sql, file) : [];
      if (receipts.length === 0) throw new CliError(`no file "${file}" in the ledger (give its inbox key, file id or name; landfall status lists them)`, 2);
      const tables = configuredTables(db.sql, config);
      for (const r of receipts) {
        const table = config.tables.find((t) => t.table === r.table);
        if (!table || !isSnapshotFile(table, r.file)) throw new CliError(`${r.file} is not a snapshot file (table "${r.table}" ${table ? 'files under its incrementalPrefix are not snapshots' : 'is not in the config'}): there is no removal to confirm`, 2);
        confirmed.push({ file: r.file, fileId: r.fileId, table: r.table, outcome: await forceRemoval(db.sql, await tables(r.table), r.fileId, 'confirm') });
      }
    } finally {
      await db.close();
    }
  } catch (error) {
    throw asCliError(error, 'snapshot confirm');
  }
  if (options.json) io.stdout.write(`${JSON.stringify({ confirmed }, null, 2)}\n`);
  else for (const c of confirmed) io.stdout.write(`${describe(c)}\n`);
  return confirmed.some((c) => c.outcome.state === 'held') ? 1 : 0;
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  const snapshot = program.command('snapshot').description('snapshot files: a file that is the whole truth for its scope removes what it no longer holds');
  snapshot
    .command('confirm')
    .description('go ahead with the removal a guard held (landfall status shows it held, with the numbers); exit 1 if it stays held')
    .argument('<file>', 'inbox key, file id or name, as landfall status shows it')
    .option('--json', 'print what was removed as JSON')
    .action(async (file: string, options: SnapshotOptions, command: Command) => {
      setExitCode(await snapshotConfirmCommand(file, { ...command.optsWithGlobals(), ...options }, io));
    });
};
