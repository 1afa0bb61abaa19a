import type { BatchData } from '../../shared/core/batch.ts';
import type { FileManifest } from '../../shared/core/batch-message.ts';

/**
 * The manifest the producer would have written for a file whose batches include `batch`:
 * `rejected` rows left out by the producer, `batchCount` batches in all; `status: 'producing'` for
 * the opening manifest a producer writes when it picks the file up.
 */
export function manifestOf(
  batch: BatchData,
  { rejected = 0, batchCount = 1, status = 'produced' }: { rejected?: number; batchCount?: number; status?: 'produced' | 'producing' } = {},
): FileManifest {
  const now = new Date().toISOString();
  return {
    format: 1,
    fileId: batch.fileId,
    file: batch.file,
    table: batch.table,
    status,
    arrival: batch.arrival,
    fileFormat: 'csv',
    compressed: false,
    columns: batch.columns,
    batchCount,
    read: batch.rowNumbers.length * batchCount + rejected,
    rejected,
    rejects: null,
    batches: [],
    reason: null,
    startedAt: now,
    finishedAt: now,
    durationMs: 0,
  };
}
