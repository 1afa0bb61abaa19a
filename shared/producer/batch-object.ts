import { promisify } from 'node:util';
import { constants, createZstdCompress, gunzip, zstdDecompress } from 'node:zlib';
import type { BatchData } from '../core/batch.ts';
import type { JsonText } from '../core/json-column.ts';

const gunzipAsync = promisify(gunzip);
const zstdDecompressAsync = promisify(zstdDecompress);

/**
 * Pinned so that a re-run writes the same bytes: zstd's default level, which compresses these
 * JSON batches to about 5% of their size at several hundred MB/s (gzip -1: 13%, three times
 * slower).
 */
const ZSTD_LEVEL = 3;

/** A batch as the producer hands it over: its values already JSON, one `JsonText` (a `JsonColumn`) per column. */
export type BatchToEncode = Omit<BatchData, 'values'> & { values: BatchData['values'] | readonly JsonText[] };

/** The JSON of a batch, in pieces: fields in one fixed order, so a re-run writes the same bytes. */
function jsonPartsOf(batch: BatchToEncode): Buffer[] {
  const head = {
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
  };
  const parts: Buffer[] = [Buffer.from(`${JSON.stringify(head).slice(0, -1)},"values":[`)];
  batch.values.forEach((column, c) => {
    const open = Buffer.from(c === 0 ? '[' : ',[');
    if (Array.isArray(column)) parts.push(Buffer.from(`${c === 0 ? '' : ','}${JSON.stringify(column)}`));
    else parts.push(open, ...(column as JsonText).parts(), Buffer.from(']'));
  });
  // Only a batch of JSON objects that differ in their keys has absent values: every other batch's bytes are as before.
  const absent = Object.entries(batch.absent ?? {}).filter(([, rows]) => rows.length > 0);
  parts.push(Buffer.from(absent.length > 0 ? `],"absent":${JSON.stringify(Object.fromEntries(absent))}}` : ']}'));
  return parts;
}

/**
 * Memory the batches' JSON is put together in before compression, used again from one batch to
 * the next (at most one per batch being compressed at once, kept up to `BODIES_KEPT`): a fresh
 * buffer of several megabytes per batch is memory outside the heap that makes V8 run a full
 * collection every few batches, whatever little the heap holds. Two: the producer compresses
 * `uploadConcurrency` (2) batches at once.
 */
const bodies: Buffer[] = [];
const BODIES_KEPT = 2;

function takeBody(length: number): Buffer {
  const i = bodies.findIndex((b) => b.length >= length);
  if (i >= 0) return bodies.splice(i, 1)[0]!;
  // Room to grow: the next batch of the file is about as large.
  return Buffer.allocUnsafeSlow(Math.ceil(length * 1.25));
}

function giveBody(body: Buffer): void {
  if (bodies.length < BODIES_KEPT) bodies.push(body);
  else {
    // Keep the largest: a smaller one would be dropped for the next large batch anyway.
    const smallest = bodies.reduce((m, b, i) => (b.length < bodies[m]!.length ? i : m), 0);
    if (bodies[smallest]!.length < body.length) bodies[smallest] = body;
  }
}

/**
 * Compresses through a stream that is closed at once: the one-shot functions leave their native
 * state to the garbage collector, which lets the producer's RSS climb far above its heap.
 * Runs on libuv's thread pool, beside the thread that reads the file.
 */
async function zstdClosed(parts: readonly Uint8Array[]): Promise<Buffer> {
  // Output in 128 KiB pieces, about a batch's whole output: with the default 16 KiB each piece
  // is a round trip to the main thread, and a larger buffer is memory allocated per batch.
  const z = createZstdCompress({ chunkSize: 128 * 1024, params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } });
  const chunks: Buffer[] = [];
  z.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    z.once('end', resolve);
    z.once('error', reject);
  });
  let length = 0;
  for (const part of parts) length += part.length;
  const body = takeBody(length);
  let at = 0;
  for (const part of parts) {
    body.set(part, at);
    at += part.length;
  }
  // One write: each is a round trip to the thread pool.
  z.end(body.subarray(0, length));
  try {
    await done;
  } finally {
    z.close();
  }
  // Read to its end by the compressor: free for the next batch (not after a failure, when it may still be read).
  giveBody(body);
  return Buffer.concat(chunks);
}

/**
 * A batch object: the batch's JSON, zstd-compressed. Deterministic: fields in one fixed order,
 * a pinned compression level, so a re-run writes the same bytes. The compression is told by its
 * magic bytes when read (`decodeBatch`), so objects written as gzip JSON by earlier versions
 * still read.
 */
export async function encodeBatch(batch: BatchToEncode): Promise<Buffer> {
  return zstdClosed(jsonPartsOf(batch));
}

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
const isZstd = (b: Uint8Array) => b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd;

/** A batch object's JSON bytes: zstd (this version), gzip (earlier ones) or plain, told by the magic bytes. */
export async function batchJsonOf(bytes: Uint8Array): Promise<Buffer> {
  if (isZstd(bytes)) return zstdDecompressAsync(bytes);
  if (isGzip(bytes)) return gunzipAsync(bytes);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Reads a batch object written by `encodeBatch` (or by an earlier version, as gzip JSON; plain
 * JSON too), for the consumer, replay, the CLI and the tests alike. Errors name `where` and never
 * carry the bytes (they are row values).
 */
export async function decodeBatch(bytes: Uint8Array, where = 'batch object'): Promise<BatchData> {
  const json = await batchJsonOf(bytes);
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
