import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { basename } from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { countsAddUp, fileIdOf } from '../batch.ts';
import type { FileManifest } from '../batch-message.ts';
import type { LandfallConfig, TableConfig } from '../config.ts';
import type { Sql } from '../db.ts';
import { classifyPgError, ErrorClass } from '../classify-pg-error.ts';
import { type FileReceipt, fileReceipts, registerFile } from '../ledger/files.ts';
import { manifestKeyOf, movedAsideKeysOf } from '../producer/keys.ts';

/** What `landfall run` prints per file (DESIGN.md, CLI): the ledger's receipt plus where it came from. */
export interface RunReceipt extends Omit<FileReceipt, 'status' | 'file'> {
  /** The local path given on the command line. */
  file: string;
  /** The inbox key it was dropped under. */
  key: string;
  status: FileReceipt['status'] | 'moved-aside' | 'timed-out';
  /** The file is complete and every row read is accounted for (rule 4), as `status --json` says. */
  addsUp: boolean;
  reason?: string;
}

export interface DropTarget {
  s3: S3Client;
  sql: Sql;
  config: LandfallConfig;
  buckets: { inbox: string; staging: string };
  /** Make the stack notice new objects now (the local inbox watcher); no-op elsewhere. */
  pollInbox?: () => Promise<unknown>;
}

export class DropError extends Error {
  override name = 'DropError';
}

/**
 * The table a file is for: the one named, else the only configured table, else the table whose
 * prefix is the file's parent folder name (`samples/orders/x.csv` → prefix `orders/`).
 */
export function tableForFile(config: LandfallConfig, path: string, table?: string): TableConfig {
  if (table) {
    const found = config.tables.find((t) => t.table === table);
    if (!found) throw new DropError(`${path}: table "${table}" is not in the config`);
    return found;
  }
  if (config.tables.length === 1) return config.tables[0]!;
  const parts = path.split(/[\\/]/);
  const folder = parts.at(-2);
  const found = folder ? config.tables.find((t) => t.prefix === `${folder}/`) : undefined;
  if (!found) throw new DropError(`${path}: cannot tell which table it is for; pass --table (tables: ${config.tables.map((t) => t.table).join(', ')})`);
  return found;
}

export interface Dropped {
  path: string;
  key: string;
  table: TableConfig;
  fileId: string;
}

/** Uploads a local file into the inbox under its table's prefix (streamed; multipart when large). */
export async function dropFile(target: DropTarget, path: string, table: TableConfig): Promise<Dropped> {
  await access(path).catch((error: NodeJS.ErrnoException) => {
    throw new DropError(`${path}: cannot read: ${error.code ?? error.message}`);
  });
  const key = `${table.prefix}${basename(path)}`;
  const put = await new Upload({
    client: target.s3,
    params: { Bucket: target.buckets.inbox, Key: key, Body: createReadStream(path) },
    // 5 MiB: the S3 minimum part size, and under the request size emulators accept.
    partSize: 5 * 1024 * 1024,
    queueSize: 2,
  }).done();
  const fileId = fileIdOf({ bucket: target.buckets.inbox, key, versionId: put.VersionId, etag: put.ETag });
  await target.pollInbox?.();
  return { path, key, table, fileId };
}

async function readJson<T>(s3: S3Client, bucket: string, key: string): Promise<T | null> {
  try {
    const result = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await result.Body!.transformToString()) as T;
  } catch (error) {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return null;
    throw error;
  }
}

function receiptOf(dropped: Dropped, receipt: FileReceipt): RunReceipt {
  const { file: _key, status, ...counts } = receipt;
  return { ...counts, file: dropped.path, key: dropped.key, status, addsUp: status === 'complete' && countsAddUp(receipt, receipt.rejected) };
}

function emptyReceipt(dropped: Dropped, status: RunReceipt['status'], reason: string): RunReceipt {
  return {
    file: dropped.path,
    key: dropped.key,
    bucket: '',
    fileId: dropped.fileId,
    table: dropped.table.table,
    status,
    batches: 0,
    batchesApplied: 0,
    read: 0,
    rejected: 0,
    collapsed: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    stale: 0,
    deleted: 0,
    quarantined: 0,
    registeredAt: '',
    addsUp: false,
    reason,
  };
}

/** One look at a dropped file: its receipt when it is done (complete or moved aside), else null. */
async function checkFile(target: DropTarget, dropped: Dropped, tick: number, onProgress?: (receipt: FileReceipt | null) => void): Promise<RunReceipt | null> {
  const [receipt] = await fileReceipts(target.sql, { fileIds: [dropped.fileId] });
  onProgress?.(receipt ?? null);
  if (receipt?.status === 'complete') return receiptOf(dropped, receipt);
  if (receipt || tick % 5 !== 0) return null;
  const manifestKey = manifestKeyOf(dropped.table.table, dropped.fileId);
  const manifest = await readJson<FileManifest>(target.s3, target.buckets.staging, manifestKey);
  if (manifest?.status === 'moved-aside') return emptyReceipt(dropped, 'moved-aside', manifest.reason?.message ?? 'unreadable file');
  if (manifest?.status === 'produced' && manifest.batchCount === 0) {
    // No batch, so no consumer will register it: every row was rejected, or there were none.
    await registerFile(target.sql, manifest, manifestKey);
    return null;
  }
  if (!manifest) {
    const reason = await readJson<{ message?: string }>(target.s3, target.buckets.inbox, movedAsideKeysOf(dropped.key).reason);
    if (reason) return emptyReceipt(dropped, 'moved-aside', reason.message ?? 'unreadable file');
  }
  return null;
}

/**
 * Waits until the file is complete (every batch applied or replayed), moved aside as unreadable,
 * or the time is up; returns its receipt.
 */
export async function waitForFile(
  target: DropTarget,
  dropped: Dropped,
  options: { timeoutMs: number; onProgress?: (receipt: FileReceipt | null) => void },
): Promise<RunReceipt> {
  const deadline = Date.now() + options.timeoutMs;
  let tick = 0;
  for (;;) {
    try {
      const done = await checkFile(target, dropped, tick++, options.onProgress);
      if (done) return done;
    } catch (error) {
      // The database or the emulator blinking (a restart, a killed connection) is not the
      // file's fault: keep waiting until the deadline.
      if (classifyPgError(error) !== ErrorClass.transient || Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) {
      const [receipt] = await fileReceipts(target.sql, { fileIds: [dropped.fileId] }).catch(() => []);
      return receipt ? { ...receiptOf(dropped, receipt), status: 'timed-out', addsUp: false } : emptyReceipt(dropped, 'timed-out', 'the file was never registered');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
