import { type BatchData, batchIdOf, fileArrivalOf, fileIdOf } from '../shared/core/batch.ts';

let files = 0;

/**
 * One batch of a new file, as the consumer receives it: each call is a file of its own (later
 * arrival, new batch id), rows numbered from `firstRow`.
 */
export function batchOfNewFile(table: string, columns: readonly string[], values: (string | null)[][], firstRow = 1): BatchData {
  files++;
  const file = { bucket: 'bench', key: `bench/${files}.csv`, versionId: null, etag: String(files), eventTime: new Date(Date.UTC(2026, 0, 1) + files).toISOString() };
  const fileId = fileIdOf(file);
  return {
    format: 1,
    batchId: batchIdOf(fileId, 0, 0),
    fileId,
    file,
    table,
    partition: 0,
    chunk: 0,
    arrival: fileArrivalOf(file),
    columns: [...columns],
    rowNumbers: Array.from({ length: values[0]?.length ?? 0 }, (_, i) => firstRow + i),
    values,
  };
}
