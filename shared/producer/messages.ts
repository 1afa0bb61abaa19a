import { fileNoticeDeduplicationId, manifestBatchMessageOf, openingNoticeDeduplicationId, messageGroupOf, UNROUTED_TABLE, type FileManifest, type ManifestBatch } from '../core/batch-message.ts';
import type { OutgoingBatch } from './ports.ts';

/** The message of a file without batches (moved aside, empty, every row rejected): the consumer registers it from its manifest. */
export function fileNoticeOf(manifest: FileManifest, manifestKey: string): OutgoingBatch {
  return {
    groupId: messageGroupOf(manifest.table || UNROUTED_TABLE, 0),
    deduplicationId: fileNoticeDeduplicationId(manifest.fileId, manifest.finishedAt),
    body: { format: 1, kind: 'file', fileId: manifest.fileId, table: manifest.table, manifestKey },
  };
}

/**
 * The notice of a file the producer just picked up (its opening manifest): the consumer lists it
 * from now on, before any batch of it (a gzip or Parquet file sends none until it is read whole).
 * Its own deduplication id, so the final notice (same file, maybe the same millisecond) is never
 * taken for a duplicate of it.
 */
export function openingNoticeOf(manifest: FileManifest, manifestKey: string): OutgoingBatch {
  return { ...fileNoticeOf(manifest, manifestKey), deduplicationId: openingNoticeDeduplicationId(manifest.fileId, manifest.startedAt) };
}

/** One FIFO message per batch, in the order given; `batchCount` null while the file is still being read. */
export function messagesOf(fileId: string, table: string, batches: readonly ManifestBatch[], batchCount: number | null, manifestKey: string): OutgoingBatch[] {
  return batches.map((b) => ({
    groupId: messageGroupOf(table, b.partition),
    deduplicationId: b.batchId,
    body: manifestBatchMessageOf({ fileId, table }, b, { manifestKey, batchCount }),
  }));
}

/**
 * The messages sent after a file's final manifest: the batches not sent yet, with the count, or
 * the file notice when there is none of them (a file without batches, or one whose batches all
 * went out while it was read), so that something registers the file after its manifest.
 */
export function finalMessagesOf(manifest: FileManifest, manifestKey: string, unsent: readonly ManifestBatch[]): OutgoingBatch[] {
  return unsent.length === 0 ? [fileNoticeOf(manifest, manifestKey)] : messagesOf(manifest.fileId, manifest.table, unsent, manifest.batchCount, manifestKey);
}

/**
 * The messages of a file produced before (a repeated notification, or a retry after a crash
 * between the manifest and its messages): every batch with the count, and the file notice when
 * the final messages were that notice (every batch had gone out while the file was read).
 */
export function resentMessagesOf(manifest: FileManifest, manifestKey: string): OutgoingBatch[] {
  if (manifest.batches.length === 0) return [fileNoticeOf(manifest, manifestKey)];
  const batches = messagesOf(manifest.fileId, manifest.table, manifest.batches, manifest.batchCount, manifestKey);
  return manifest.sentAfterManifest === 0 ? [...batches, fileNoticeOf(manifest, manifestKey)] : batches;
}
