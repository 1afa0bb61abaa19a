import type { Command } from 'commander';
import { ForgetRefusedError, type Forgotten, forgetFile } from '../../shared/postgres/ledger/files.ts';
import { CliError, resolveContext, type CliIo, type GlobalOptions, type RegisterCommand, examples } from '../context.ts';
import { plural, shortId } from '../format.ts';
import { asCliError, filesNamed, ledgerExists } from '../ledger.ts';
import { openDatabaseWithFallback } from '../local.ts';

export interface ForgetOptions extends GlobalOptions {
  json?: boolean;
}

/**
 * `landfall forget FILE`: clears a failed attempt at a file (moved aside, or stuck in progress
 * because its table was missing) from the ledger, so `status` no longer lists it and dropping
 * it again starts afresh. A file with applied batches keeps its row (its rows are in the table):
 * if it was moved aside anyway, the wrong move-aside is undone (in progress again, with what was
 * applied, until it is dropped again); otherwise it is refused (exit 2). Returns 0.
 */
export async function forgetCommand(file: string, options: ForgetOptions, io: CliIo): Promise<number> {
  const forgotten: ({ file: string; fileId: string; status: string } & Forgotten)[] = [];
  try {
    const db = await openDatabaseWithFallback(resolveContext(options, io.env), io.env);
    try {
      const receipts = (await ledgerExists(db.sql)) ? await filesNamed(db.sql, file) : [];
      if (receipts.length === 0) throw new CliError(`no file "${file}" in the ledger (give its inbox key, file id or name; landfall status lists them)`, 2);
      for (const r of receipts) {
        try {
          forgotten.push({ file: r.file, fileId: r.fileId, status: r.status, ...(await forgetFile(db.sql, r.fileId)) });
        } catch (error) {
          if (error instanceof ForgetRefusedError) throw new CliError(`cannot forget ${r.file} (${shortId(r.fileId)}, ${r.status}): ${error.message}`, 2);
          throw error;
        }
      }
    } finally {
      await db.close();
    }
  } catch (error) {
    throw asCliError(error, 'forget');
  }
  if (options.json) io.stdout.write(`${JSON.stringify({ forgotten }, null, 2)}\n`);
  else {
    for (const f of forgotten) {
      if (f.cleared) {
        io.stdout.write(`forgot ${f.file} (${shortId(f.fileId)}, was ${f.status}; ${plural(f.batches, 'batch', 'batches')} not applied, ${plural(f.rejects, 'rejected row')} cleared); drop it again when it is fixed\n`);
      } else {
        io.stdout.write(
          `undid the move-aside of ${f.file} (${shortId(f.fileId)}): ${plural(f.appliedBatches, 'batch', 'batches')} of it ${f.appliedBatches === 1 ? 'is' : 'are'} applied, so it is in progress, not "not read"; drop it again to finish it (landfall run --force FILE)\n`,
        );
      }
    }
  }
  return 0;
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  program
    .command('forget')
    .description('clear a failed attempt at a file (moved aside, or in progress for good) from the ledger; a file with applied batches keeps them (a wrong move-aside of it is undone), else it is refused')
    .argument('<file>', 'inbox key, file id or name, as landfall status shows it')
    .option('--json', 'print what was forgotten as JSON')
    .addHelpText('after', examples(['landfall forget orders/bad-encoding.csv     # after fixing the file, drop it again', 'landfall forget 3f2a9c1b07de --json']))
    .action(async (file: string, options: ForgetOptions, command: Command) => {
      setExitCode(await forgetCommand(file, { ...command.optsWithGlobals(), ...options }, io));
    });
};
