import { promisify } from 'node:util';
import { createGzip, gunzip } from 'node:zlib';
import type { BatchData } from '../core/batch.ts';

const gunzipAsync = promisify(gunzip);

/**
 * Gzip through a stream that is closed at once: the one-shot `zlib.gzip` leaves its native
 * state to the garbage collector, which lets the producer's RSS climb far above its heap.
 */
async function gzipClosed(input: string): Promise<Buffer> {
  // Level 1: batch objects are internal and live for days; the producer's CPU is the scarcer
  // thing (a 256 MB function gets a fraction of a vCPU).
  const gz = createGzip({ level: 1 });
  const chunks: Buffer[] = [];
  gz.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    gz.once('end', resolve);
    gz.once('error', reject);
  });
  gz.end(input);
  try {
    await done;
  } finally {
    gz.close();
  }
  return Buffer.concat(chunks);
}

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
  return gzipClosed(JSON.stringify(ordered));
}

/** Reads a batch object written by `encodeBatch`. */
export async function decodeBatch(bytes: Uint8Array): Promise<BatchData> {
  const json = await gunzipAsync(bytes);
  return JSON.parse(json.toString('utf8')) as BatchData;
}
