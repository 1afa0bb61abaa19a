import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { BatchData } from '../batch.ts';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/**
 * Gzip JSON of a batch. Deterministic: fields in one fixed order, a fixed compression level
 * and no timestamp in the gzip header, so a re-run writes the same bytes.
 */
export async function encodeBatch(batch: BatchData): Promise<Buffer> {
  const ordered: BatchData = {
    format: batch.format,
    batchId: batch.batchId,
    fileId: batch.fileId,
    file: {
      bucket: batch.file.bucket,
      key: batch.file.key,
      versionId: batch.file.versionId,
      etag: batch.file.etag,
      eventTime: batch.file.eventTime,
    },
    table: batch.table,
    partition: batch.partition,
    chunk: batch.chunk,
    arrival: batch.arrival,
    columns: batch.columns,
    rowNumbers: batch.rowNumbers,
    values: batch.values,
  };
  return gzipAsync(JSON.stringify(ordered), { level: 6 });
}

/** Reads a batch object written by `encodeBatch`. */
export async function decodeBatch(bytes: Uint8Array): Promise<BatchData> {
  const json = await gunzipAsync(bytes);
  return JSON.parse(json.toString('utf8')) as BatchData;
}
