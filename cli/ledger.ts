import { basename } from 'node:path';
import type { LandfallConfig } from '../shared/core/config.ts';
import type { Sql } from '../shared/postgres/db.ts';
import { batchesMatching, type FileReceipt, fileReceipts, type LedgerBatch, ledgerExists } from '../shared/postgres/ledger/files.ts';
import type { TargetTable } from '../shared/postgres/target-table.ts';
import { CliError, type CliIo, type GlobalOptions, loadOptionalConfig, resolveContext } from './context.ts';
import { SHORT_ID } from './format.ts';

export { ledgerExists, type LedgerBatch };

/**
 * The ledger row of a batch named by its id or by a unique prefix of it (the tables show
 * {@link SHORT_ID} characters); null when no row matches. Throws CliError when a prefix is
 * ambiguous.
 */
export async function findLedgerBatch(sql: Sql, idOrPrefix: string): Promise<LedgerBatch | null> {
  if (!(await ledgerExists(sql))) return null;
  const rows = await batchesMatching(sql, idOrPrefix);
  const exact = rows.find((r) => r.batchId === idOrPrefix);
  if (exact) return { ...exact };
  if (rows.length > 1) {
    throw new CliError(`batch "${idOrPrefix}" is ambiguous: ${rows.map((r) => r.batchId.slice(0, SHORT_ID + 4)).join(', ')}${rows.length > 2 ? ', ...' : ''}; give more of the id`, 2);
  }
  return rows[0] ? { ...rows[0] } : null;
}

/**
 * Prepares configured tables on first use (ledger migrated once, catalog read, key checked), as
 * the consumer does; a table outside the config, or one the config does not fit, is one clear
 * CliError.
 */
export function configuredTables(sql: Sql, config: LandfallConfig): (name: string) => Promise<TargetTable> {
  // The engine (and the ledger's migrations) load on first use: listing commands need neither.
  const tables = import('../shared/postgres/target-table.ts').then(({ tableCache }) => tableCache(sql, config));
  return async (name) => {
    if (!config.tables.some((t) => t.table === name)) throw new CliError(`table "${name}" is not in the config`, 2);
    return (await tables).table(name);
  };
}

/**
 * Any failure of a ledger command as one CliError with exit code 2 ("could not run"), so that
 * exit code 1 keeps its meaning of "ran, and found something" (a file that does not add up,
 * rows that still fail).
 */
export function asCliError(error: unknown, doing: string): CliError {
  if (error instanceof CliError) return error;
  const message = (error as Error)?.message ?? String(error);
  return new CliError(`${doing}: ${message}`, 2, { cause: error });
}

/** The config named by --config or LANDFALL_CONFIG; commands that apply rows cannot do without it. */
export function requireConfig(options: GlobalOptions, io: CliIo, doing: string): LandfallConfig {
  let config: LandfallConfig | null;
  try {
    config = loadOptionalConfig(resolveContext(options, io.env));
  } catch (error) {
    throw asCliError(error, doing);
  }
  if (!config) throw new CliError(`${doing} needs the table config: pass --config F or set LANDFALL_CONFIG`, 2);
  return config;
}

/**
 * The files FILE names: its inbox key (every version of it), `s3://bucket/key`, its file id, a
 * prefix of the id as the tables show it, or the local path it was dropped from (its name).
 */
export async function filesNamed(sql: Sql, file: string): Promise<FileReceipt[]> {
  const s3 = /^s3:\/\/([^/]+)\/(.+)$/.exec(file);
  if (s3) return (await fileReceipts(sql, { key: s3[2]! })).filter((r) => r.bucket === s3[1]);
  const byKey = await fileReceipts(sql, { key: file });
  if (byKey.length) return byKey;
  const byId = await fileReceipts(sql, { fileIds: [file] });
  if (byId.length) return byId;
  const all = await fileReceipts(sql);
  if (/^[0-9a-f]{6,}$/.test(file)) {
    const byPrefix = all.filter((r) => r.fileId.startsWith(file));
    if (byPrefix.length) return byPrefix;
  }
  const name = basename(file);
  return all.filter((r) => r.file === name || r.file.endsWith(`/${name}`));
}
