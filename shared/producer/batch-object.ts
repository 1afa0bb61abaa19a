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

/**
 * Reads a batch object written by `encodeBatch` (plain JSON too), for the consumer, replay, the
 * CLI and the tests alike. Errors name `where` and never carry the bytes (they are row values).
 */
export async function decodeBatch(bytes: Uint8Array, where = 'batch object'): Promise<BatchData> {
  const json = bytes[0] === 0x1f && bytes[1] === 0x8b ? await gunzipAsync(bytes) : Buffer.from(bytes);
  let batch: BatchData;
  try {
    batch = JSON.parse(json.toString('utf8')) as BatchData;
  } catch {
    // Neither the text nor the parser's message (V8 quotes the input): both carry row
    // values, and this error is logged.
    throw new Error(`${where}: not a batch object (${json.byteLength} bytes that are not JSON)`);
  }
  if (batch.format !== 1) throw new Error(`${where}: unknown batch format ${String(batch.format)}`);
  return batch;
}
