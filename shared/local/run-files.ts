import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { basename } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { countsAddUp, fileIdOf } from '../core/batch.ts';
import type { LandfallConfig, TableConfig } from '../core/config.ts';
import type { Sql } from '../postgres/db.ts';
import { classifyPgError, ErrorClass } from '../core/classify-pg-error.ts';
import { appliedWhileReading, type FileReceipt, fileReceipts, reopenMovedAside } from '../postgres/ledger/files.ts';
import { fixForUnreadable } from '../core/read/errors.ts';
import { isSnapshotFile } from '../core/snapshot-config.ts';
import { forceRemoval } from '../postgres/snapshot-removal.ts';
import { prepareTable } from '../postgres/target-table.ts';
import { matchTableName, TableNameError } from '../core/table-names.ts';

/** What `landfall run` prints per file (DESIGN.md, CLI): the ledger's receipt plus where it came from. */
export interface RunReceipt extends Omit<FileReceipt, 'status' | 'file'> {
  /** The local path given on the command line. */
  file: string;
  /** The inbox key it was dropped under. */
  key: string;
  status: FileReceipt['status'] | 'timed-out';
  /** The file is complete (or stopped part-way) and every row read is accounted for (rule 4), as `status --json` says. */
  addsUp: boolean;
  /** What to do about a file moved aside or stopped, or about the table of a blocked one. */
  fix?: string;
  /** Set when the same bytes were loaded before and nothing was dropped. */
  alreadyLoaded?: { as: string; on: string };
}

export interface DropTarget {
  s3: S3Client;
  sql: Sql;
  config: LandfallConfig;
  buckets: { inbox: string; staging: string };
  /** Make the stack notice new objects now (the local inbox watcher); no-op elsewhere. */
  pollInbox?: () => Promise<unknown>;
  /** Resolves when the next invocation of the stack in this process ends (the ledger may have changed); absent when attached to another process's. */
  invocationEnded?: () => Promise<void>;
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
    // `customers` for `public.customers` and the other way round; a typo gets a guess.
    try {
      const name = matchTableName(table, config.tables.map((t) => t.table));
      return config.tables.find((t) => t.table === name)!;
    } catch (error) {
      if (error instanceof TableNameError) throw new DropError(`${path}: ${error.message}`);
      throw error;
    }
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
  /** The same bytes were loaded into the table before: nothing was uploaded. */
  alreadyLoaded?: FileReceipt;
}

/** 5 MiB: the S3 minimum part size, and under the request size emulators accept. */
const PART_SIZE = 5 * 1024 * 1024;

/**
 * The ETag S3 gives `path` when uploaded in {@link PART_SIZE} parts: the MD5 of a file that fits
 * one part; else the MD5 of the parts' MD5s and `-<parts>`.
 */
export async function expectedEtagOf(path: string): Promise<string> {
  const parts: Buffer[] = [];
  let part = createHash('md5');
  let filled = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let offset = 0; offset < chunk.length; ) {
      const take = Math.min(chunk.length - offset, PART_SIZE - filled);
      part.update(chunk.subarray(offset, offset + take));
      filled += take;
      offset += take;
      if (filled === PART_SIZE) {
        parts.push(part.digest());
        part = createHash('md5');
        filled = 0;
      }
    }
  }
  if (filled > 0 || parts.length === 0) parts.push(part.digest());
  if (parts.length === 1) return parts[0]!.toString('hex');
  return `${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-${parts.length}`;
}

/**
 * A complete file of `table` under `key` with these bytes (any bytes without `etag`), if the
 * ledger has one. (The same bytes under another name are another file: its rows count again,
 * as unchanged.)
 */
export async function findLoaded(sql: Sql, table: string, key: string, etag?: string): Promise<FileReceipt | undefined> {
  return (await fileReceipts(sql, etag === undefined ? { key } : { key, etag })).find((r) => r.table === table && r.status === 'complete');
}

/**
 * Uploads a local file into the inbox under its table's prefix (streamed; multipart when
 * large), unless the same bytes were loaded under that key before (`force` drops it anyway). A
 * ledger row of the same file moved aside is reopened (in progress) for the new attempt.
 */
export async function dropFile(target: DropTarget, path: string, table: TableConfig, options: { force?: boolean } = {}): Promise<Dropped> {
  await access(path).catch((error: NodeJS.ErrnoException) => {
    throw new DropError(`${path}: cannot read: ${error.code ?? error.message}`);
  });
  const key = `${table.prefix}${basename(path)}`;
  // The file's ETag takes a read of all of it: only worth it when a file under this key was loaded before.
  if (!options.force && (await findLoaded(target.sql, table.table, key))) {
    const loaded = await findLoaded(target.sql, table.table, key, await expectedEtagOf(path));
    if (loaded) return { path, key, table, fileId: loaded.fileId, alreadyLoaded: loaded };
  }
  // Imported here: reading receipts (status) does not load the S3 upload machinery.
  const { Upload } = await import('@aws-sdk/lib-storage');
  const put = await new Upload({
    client: target.s3,
    params: { Bucket: target.buckets.inbox, Key: key, Body: createReadStream(path) },
    partSize: PART_SIZE,
    queueSize: 2,
  }).done();
  const fileId = fileIdOf({ bucket: target.buckets.inbox, key, versionId: put.VersionId, etag: put.ETag });
  // The same file moved aside before (by a config that lacked its table, say): this drop is a new
  // attempt, so its old outcome must not answer for it. Its applied batches, if any, stay.
  await reopenMovedAside(target.sql, fileId);
  // A snapshot file dropped with force: its removal goes ahead whatever its guards say (at once when it was held).
  if (options.force && isSnapshotFile(table, key)) await forceRemoval(target.sql, await prepareTable(target.sql, table), fileId);
  await target.pollInbox?.();
  return { path, key, table, fileId };
}

/** The run receipt of a dropped file from its ledger receipt. */
export function receiptOf(dropped: Pick<Dropped, 'path' | 'key'>, receipt: FileReceipt): RunReceipt {
  const { file: _key, status, ...counts } = receipt;
  return {
    ...counts,
    file: dropped.path,
    key: dropped.key,
    status,
    // A file stopped part-way (the invocation cap) accounts for the rows it read.
    addsUp: (status === 'complete' || status === 'held' || status === 'stopped') && countsAddUp(receipt, receipt.rejected),
    ...(status === 'moved-aside' || status === 'stopped' ? { fix: fixForUnreadable(receipt.reasonCode) } : {}),
  };
}

function emptyReceipt(dropped: Dropped, status: RunReceipt['status'], reason: string): RunReceipt {
  return {
    file: dropped.path,
    key: dropped.key,
    bucket: '',
    fileId: dropped.fileId,
    table: dropped.table.table,
    status,
    state: 'in progress',
    loaded: 0,
    batches: null,
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
    removed: 0,
    registeredAt: '',
    reason,
    reasonCode: null,
    movedTo: null,
    previousOutcome: null,
    addsUp: false,
  };
}

/** A file's receipt (null while it is not registered), and before that what the consumer applied while the producer read it. */
export type ProgressCallback = (receipt: FileReceipt | null, whileReading?: { batches: number; rows: number }) => void;

/**
 * One look at a dropped file in the ledger: its receipt when it is done (complete, moved aside,
 * or blocked by its table; the consumer registers every file, one without batches from its file
 * notice), else null.
 */
async function checkFile(target: DropTarget, dropped: Dropped, onProgress?: ProgressCallback): Promise<RunReceipt | null> {
  const [receipt] = await fileReceipts(target.sql, { fileIds: [dropped.fileId] });
  if (onProgress) onProgress(receipt ?? null, receipt ? undefined : await appliedWhileReading(target.sql, dropped.fileId));
  // Blocked: its table is refused (the reason and the fix are in the receipt); waiting would only see retries.
  // Held: a snapshot file whose removal waits for `landfall snapshot confirm` (the receipt says so).
  if (receipt?.status === 'complete' || receipt?.status === 'moved-aside' || receipt?.status === 'blocked' || receipt?.status === 'held' || receipt?.status === 'stopped') return receiptOf(dropped, receipt);
  return null;
}

/**
 * Waits until the file is complete (every batch applied or replayed), moved aside as unreadable,
 * or the time is up; returns its receipt.
 */
export async function waitForFile(
  target: DropTarget,
  dropped: Dropped,
  options: { timeoutMs: number; onProgress?: ProgressCallback },
): Promise<RunReceipt> {
  if (dropped.alreadyLoaded) {
    const loaded = dropped.alreadyLoaded;
    return { ...receiptOf(dropped, loaded), alreadyLoaded: { as: `s3://${loaded.bucket}/${loaded.file}`, on: loaded.registeredAt } };
  }
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    try {
      const done = await checkFile(target, dropped, options.onProgress);
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
    await nextLook(target);
  }
}

/**
 * Until the next look at the ledger: the end of the stack's next invocation (which is what
 * changes a file's state) or, failing that, a while. Attached to another process's stack, nothing
 * tells: look often.
 */
async function nextLook(target: DropTarget): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ended = target.invocationEnded?.();
  await Promise.race([new Promise((r) => (timer = setTimeout(r, ended ? 500 : 100))), ...(ended ? [ended] : [])]);
  clearTimeout(timer);
}
