import type { Command } from 'commander';
import { dropFile, DropError, tableForFile } from '../../shared/local/run-files.ts';
import { CliError, type CliIo, type GlobalOptions, loadOptionalConfig, resolveContext, type RegisterCommand, examples } from '../context.ts';
import { devClients, landfallHome, readDevState } from '../local.ts';
import { connect } from '../../shared/postgres/db.ts';

export interface DropOptions extends GlobalOptions {
  table?: string;
  json?: boolean;
  /** Drop it even when the same bytes were loaded before. */
  force?: boolean;
}

/**
 * `landfall drop FILE --table T`: uploads the file into the running `landfall dev`'s inbox under
 * the table's prefix; the pipeline takes it from there (`landfall status` shows the receipt).
 */
export async function dropCommand(file: string, options: DropOptions, io: CliIo): Promise<number> {
  const dev = readDevState(landfallHome(io.env));
  if (!dev) throw new CliError('no running landfall dev to drop into: start one with `npm start` (or load files with `landfall run --config F FILE...`)', 2);
  const context = resolveContext(options, io.env);
  const config = loadOptionalConfig(context);
  if (!config) throw new CliError('drop needs the table config: pass --config or set LANDFALL_CONFIG', 2);
  let table;
  try {
    table = tableForFile(config, file, options.table);
  } catch (error) {
    if (error instanceof DropError) throw new CliError(error.message);
    throw error;
  }
  const sql = connect({ url: dev.databaseUrl, max: 1, applicationName: 'landfall-cli' });
  try {
    const dropped = await dropFile({ ...(await devClients(dev)), sql, config, buckets: dev.buckets }, file, table, { force: Boolean(options.force) });
    const loaded = dropped.alreadyLoaded;
    const result = {
      file,
      bucket: dev.buckets.inbox,
      key: dropped.key,
      table: table.table,
      fileId: dropped.fileId,
      ...(loaded ? { alreadyLoaded: { as: `s3://${loaded.bucket}/${loaded.file}`, on: loaded.registeredAt } } : {}),
    };
    if (options.json) io.stdout.write(`${JSON.stringify(result)}\n`);
    else if (loaded) io.stdout.write(`${file}: already loaded on ${loaded.registeredAt} (as s3://${loaded.bucket}/${loaded.file}), nothing to do (--force drops it again)\n`);
    else io.stdout.write(`dropped ${file} as s3://${result.bucket}/${result.key} (file id ${result.fileId}); see \`landfall status ${result.key}\`\n`);
    return 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export const register: RegisterCommand = (program: Command, { io, setExitCode }) => {
  program
    .command('drop')
    .description("upload a file into the running local stack's inbox under the table's prefix")
    .argument('<file>', 'the file to drop')
    .option('--table <table>', 'the table it is for (default: by config or folder name)')
    .option('--json', 'print the result as JSON')
    .option('--force', 'drop it even when the same bytes were loaded into the table before; a snapshot file\'s removal goes ahead whatever its guards say')
    .addHelpText('after', examples(['landfall drop samples/inventory/2026-11-01-full.csv --table inventory', 'landfall drop orders.csv --table public.orders --force   # again, though the same bytes were loaded']))
    .action(async (file: string, options: DropOptions, command: Command) => {
      setExitCode(await dropCommand(file, { ...command.optsWithGlobals(), ...options }, io));
    });
};
