import { fileArrivalOf, type FileIdentity } from '../core/batch.ts';
import { FileStatus, UNROUTED_TABLE, type FileManifest } from '../core/batch-message.ts';
import type { TableConfig } from '../core/config.ts';
import type { UnreadableFileError } from '../core/read/errors.ts';
import { manifestKeyOf, movedAsideKeysOf } from '../core/keys.ts';
import { fileNoticeOf } from './messages.ts';
import { refOf } from './open-source.ts';
import type { ProduceOutcome, ProducerDeps } from './producer-contract.ts';

const silent = { info() {}, warn() {} };

/**
 * Moves an unreadable file aside: a copy under the inbox's rejected prefix with a reason object,
 * a manifest (under a reserved table name when the file is routed to no table) and its file
 * notice, so the consumer registers it, then the original removed.
 */
export async function moveAside(deps: ProducerDeps, file: FileIdentity, fileId: string, table: TableConfig | undefined, error: UnreadableFileError): Promise<ProduceOutcome> {
  const logger = deps.logger ?? silent;
  const at = (deps.now ?? (() => new Date()))();
  const keys = movedAsideKeysOf(file.key);
  const movedTo = { bucket: file.bucket, key: keys.file };
  const ref = refOf(file);
  if ((await deps.store.copy(ref, movedTo.bucket, movedTo.key)) === 'gone') return { status: 'gone', fileId };
  const reason = {
    file: { bucket: file.bucket, key: file.key, versionId: file.versionId, etag: file.etag, eventTime: file.eventTime },
    fileId,
    table: table?.table ?? null,
    code: error.code,
    message: error.message,
    line: error.line ?? null,
    field: error.field ?? null,
    movedTo,
    movedAt: at.toISOString(),
  };
  await deps.store.put(file.bucket, keys.reason, JSON.stringify(reason, null, 2), 'application/json');
  const manifestKey = manifestKeyOf(table?.table ?? UNROUTED_TABLE, fileId);
  const manifest: FileManifest = {
    format: 1,
    fileId,
    file,
    table: table?.table ?? '',
    status: FileStatus.movedAside,
    arrival: fileArrivalOf(file),
    fileFormat: null,
    compressed: false,
    columns: [],
    batchCount: 0,
    read: 0,
    rejected: 0,
    rejects: null,
    batches: [],
    reason: { code: error.code, message: error.message, movedTo, line: error.line ?? null, field: error.field ?? null },
    startedAt: at.toISOString(),
    finishedAt: at.toISOString(),
    durationMs: 0,
  };
  await deps.store.put(deps.stagingBucket, manifestKey, JSON.stringify(manifest), 'application/json');
  await deps.sender.send([fileNoticeOf(manifest, manifestKey)]);
  await deps.store.remove(ref);
  logger.warn('file moved aside', {
    fileId,
    bucket: file.bucket,
    key: file.key,
    table: table?.table ?? null,
    code: error.code,
    reason: error.message,
    line: error.line ?? null,
    field: error.field ?? null,
    movedTo: movedTo.key,
  });
  return { status: 'moved-aside', fileId, code: error.code, message: error.message, movedTo, manifestKey };
}
