import type { FileIdentity } from '../core/batch.ts';
import { type ChunkingSettings, FileStatus, MANIFEST_REJECTS, type FileManifest, type ManifestBatch, type RejectedRow } from '../core/batch-message.ts';
import { fileArrivalOf } from '../core/batch.ts';
import type { TableConfig } from '../core/config.ts';
import { movedAsideKeysOf } from '../core/keys.ts';
import { progressKeyOf } from '../core/progress.ts';
import { UnreadableReason } from '../core/read/errors.ts';
import type { FileFormat } from '../core/read/file-format.ts';
import { fileNoticeOf } from './messages.ts';
import type { ProduceOutcome, ProducerDeps } from './producer-contract.ts';

const silent = { info() {}, warn() {} };

/** Where a file stands when the invocation that reached its cap would have continued it. */
export interface RunawayFile {
  file: FileIdentity;
  fileId: string;
  table: TableConfig;
  manifestKey: string;
  /** The cap the file was read under, and the invocations it took (the cap). */
  cap: number;
  invocations: number;
  /** Segments read; their progress objects are removed. */
  segment: number;
  /** The last row read, and the byte offset after it. */
  stoppedAt: { at: number; row: number };
  startedAt: Date;
  fileFormat: FileFormat;
  compressed: boolean;
  columns: string[];
  chunking: ChunkingSettings;
  /** Every batch written so far, and whether their messages went out while the file was read. */
  batches: ManifestBatch[];
  sent: boolean;
  read: number;
  rejected: number;
  rejects: RejectedRow[];
}

/**
 * Stops a file whose chain of continuations reached the per-file cap (`maxInvocationsPerFile`)
 * instead of continuing it: the file is registered as moved aside with the reason
 * `too-many-invocations`, so a runaway chain ends with a receipt that says why, rather than
 * running on, or stalling silently as Lambda's loop detection would leave it.
 *
 * What was read stays accounted for. A file that streams its messages (uncompressed CSV and
 * NDJSON) already sent the batches read so far: the manifest lists them with the rows read,
 * they apply, and the receipt adds up over that part of the file. Any other file sent nothing:
 * its batch objects are removed and nothing of it is loaded. The file itself stays where it is
 * (a file this large is beyond a single CopyObject, 5 GB), with the reason beside it under
 * `rejected/`, where moved-aside files keep theirs.
 */
export async function stopRunawayChain(deps: ProducerDeps, f: RunawayFile): Promise<ProduceOutcome> {
  const logger = deps.logger ?? silent;
  const at = (deps.now ?? (() => new Date()))();
  const movedTo = { bucket: f.file.bucket, key: f.file.key };
  const applied = f.sent ? f.batches : [];
  const part = f.sent
    ? `its first ${f.read} rows (through byte ${f.stoppedAt.at}) were read and their ${f.batches.length} batches sent, which apply; the rest of the file was not read`
    : 'nothing of it was loaded';
  const message = `the file needed more than ${f.cap} producer invocations (the per-file cap, producerMaxInvocationsPerFile), so it was stopped after row ${f.stoppedAt.row} instead of continued: ${part}. The file is left in place`;
  const code = UnreadableReason.tooManyInvocations;
  await deps.store.put(
    f.file.bucket,
    movedAsideKeysOf(f.file.key).reason,
    JSON.stringify({ file: f.file, fileId: f.fileId, table: f.table.table, code, message, line: null, field: null, movedTo, movedAt: at.toISOString(), invocations: f.invocations }, null, 2),
    'application/json',
  );
  if (!f.sent) await deps.store.removeKeys(deps.stagingBucket, f.batches.map((b) => b.stagingKey)).catch(() => {});
  const manifest: FileManifest = {
    format: 1,
    fileId: f.fileId,
    file: f.file,
    table: f.table.table,
    status: FileStatus.movedAside,
    arrival: fileArrivalOf(f.file),
    fileFormat: f.fileFormat,
    compressed: f.compressed,
    columns: f.columns,
    batchCount: applied.length,
    read: f.sent ? f.read : 0,
    rejected: f.sent ? f.rejected : 0,
    rejects: null,
    rejectsListed: f.sent ? f.rejects.slice(0, MANIFEST_REJECTS) : [],
    batches: applied,
    reason: { code, message, movedTo, line: null, field: null },
    startedAt: f.startedAt.toISOString(),
    finishedAt: at.toISOString(),
    durationMs: at.getTime() - f.startedAt.getTime(),
    chunking: f.chunking,
    sentAfterManifest: 0,
    invocations: f.invocations,
  };
  await deps.store.put(deps.stagingBucket, f.manifestKey, JSON.stringify(manifest), 'application/json');
  await deps.sender.send([fileNoticeOf(manifest, f.manifestKey)]);
  const progressKeys = Array.from({ length: f.segment }, (_, s) => progressKeyOf(f.table.table, f.fileId, s + 1));
  await deps.store.removeKeys(deps.stagingBucket, progressKeys).catch(() => {});
  logger.warn('file stopped: it reached the per-file cap of producer invocations', {
    fileId: f.fileId,
    bucket: f.file.bucket,
    key: f.file.key,
    table: f.table.table,
    code,
    invocations: f.invocations,
    cap: f.cap,
    read: f.read,
    batches: applied.length,
  });
  return { status: 'moved-aside', fileId: f.fileId, code, message, movedTo, manifestKey: f.manifestKey };
}
