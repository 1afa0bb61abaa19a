import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { affectedFiles, type AffectedFile, configChange, type FileInFlight } from '../core/config-change.ts';
import type { LandfallConfig } from '../core/config.ts';
import { isRejectedKey } from '../core/keys.ts';
import type { Sql } from '../postgres/db.ts';
import { fileReceipts } from '../postgres/ledger/files.ts';
import type { QueueKey } from '../core/resources.ts';

/**
 * The config the local stack last ran with, kept in its home folder (`config-in-use.json`): the
 * one the files in flight there were produced under. `landfall dev` compares a new config with it
 * before anything is consumed.
 */
export interface ConfigInUse {
  /** The file it was read from (null: the samples' config). */
  configPath: string | null;
  config: LandfallConfig;
  since: string;
}

export const configInUsePath = (home: string) => join(home, 'config-in-use.json');

export function readConfigInUse(home: string): ConfigInUse | null {
  const path = configInUsePath(home);
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ConfigInUse;
  } catch {
    return null;
  }
}

export async function writeConfigInUse(home: string, configPath: string | null, config: LandfallConfig): Promise<void> {
  await mkdir(home, { recursive: true });
  const state: ConfigInUse = { configPath, config, since: new Date().toISOString() };
  await writeFile(configInUsePath(home), `${JSON.stringify(state, null, 2)}\n`);
}

/** What the stack holds of a previous run: the parts `filesInFlight` reads. */
export interface StackParts {
  sql: Sql;
  s3: S3Client;
  sqs: SQSClient;
  buckets: { inbox: string };
  queues: Record<QueueKey, string>;
}

/**
 * The files the stack has not finished: those the ledger has in progress (not complete, not moved
 * aside), and those in the inbox the ledger does not hold complete (the watcher notifies them
 * again), each with its table as the ledger knows it; plus how many messages wait in the queues
 * (files of theirs cannot be named without receiving them).
 */
export async function filesInFlight(parts: StackParts): Promise<{ files: FileInFlight[]; queued: number }> {
  const receipts = await fileReceipts(parts.sql);
  const files = new Map<string, FileInFlight>();
  for (const r of receipts) {
    if (r.status === 'complete' || r.status === 'moved-aside' || r.status === 'stopped') continue;
    files.set(r.file, { key: r.file, table: r.table || null, why: `in the ledger, ${r.state}, ${r.batchesApplied} batch(es) applied` });
  }
  let token: string | undefined;
  do {
    const page = await parts.s3.send(new ListObjectsV2Command({ Bucket: parts.buckets.inbox, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      const key = o.Key!;
      if (isRejectedKey(key) || files.has(key)) continue;
      const etag = (o.ETag ?? '').replaceAll('"', '');
      if ((await fileReceipts(parts.sql, { key, etag })).some((r) => r.status === 'complete')) continue;
      files.set(key, { key, table: null, why: 'in the inbox, not loaded yet' });
    }
    token = page.NextContinuationToken;
  } while (token);
  let queued = 0;
  for (const key of ['intake', 'batches', 'batchesDlq'] as const) {
    const { Attributes } = await parts.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: parts.queues[key], AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    queued += Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  }
  return { files: [...files.values()], queued };
}

export class ConfigChangedError extends Error {
  override name = 'ConfigChangedError';
  readonly affected: AffectedFile[];
  constructor(message: string, affected: AffectedFile[]) {
    super(message);
    this.affected = affected;
  }
}

/**
 * Before a restarted stack consumes anything: the files in flight that `config` would route or
 * apply otherwise than the config they were produced under (ConfigChangedError naming them and
 * their tables, unless `allowChange`). Returns the affected files (empty when none, or when no
 * config was recorded yet) and records `config` as the one in use when it goes on.
 */
export async function checkConfigInUse(home: string, configPath: string | null, config: LandfallConfig, parts: StackParts, allowChange: boolean): Promise<AffectedFile[]> {
  const previous = readConfigInUse(home);
  if (previous) {
    const change = configChange(previous.config, config);
    if (change.removed.length + change.changed.length > 0) {
      const { files } = await filesInFlight(parts);
      const affected = affectedFiles(previous.config, config, files);
      if (affected.length > 0 && !allowChange) {
        const tables = [...change.removed.map((t) => `${t} (not in this config)`), ...change.changed.map((t) => `${t} (configured otherwise)`)];
        const lines = [
          `the config differs from the one the files in flight were produced under (${previous.configPath ?? 'the samples\' config'}, in use since ${previous.since}); this one would route or apply them otherwise:`,
          ...affected.map((f) => `  ${f.key}${f.table ? ` (table ${f.table})` : ''}: ${f.change}; ${f.why}`),
          `Tables: ${tables.join(', ')}.`,
          `Start with that config to finish them (--config ${previous.configPath ?? '(none: the samples)'}), or pass --config-changed to go on with this one (files of a table it lacks are then moved aside as no-table).`,
        ];
        throw new ConfigChangedError(lines.join('\n'), affected);
      }
      await writeConfigInUse(home, configPath, config);
      return affected;
    }
  }
  await writeConfigInUse(home, configPath, config);
  return [];
}
