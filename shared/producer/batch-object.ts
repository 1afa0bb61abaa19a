import { promisify } from 'node:util';
import { constants, createZstdCompress, gunzip, zstdDecompress, type ZstdCompress } from 'node:zlib';
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

/** Bytes handed to the compressor per write: each write is a round trip to the thread pool. */
const WRITE_BYTES = 1024 * 1024;

/** A zstd compressor kept for the next batch, the output of the frame it is writing, and the memory its input is put together in. */
interface Compressor {
  stream: ZstdCompress;
  chunks: Buffer[];
  input: Buffer;
}

/**
 * Compressors used again from one batch to the next (at most one per batch being compressed at
 * once, kept up to `COMPRESSORS_KEPT`: the producer compresses `uploadConcurrency` (2) batches at
 * once). A compressor's native state (a few MB of window and tables) is allocated on the thread
 * pool's thread that first runs it: made for each batch and freed after it, it left that much in
 * the malloc arena of each of the pool's threads (about 7 MB each, measured), which the process
 * kept as RSS. Its input goes through 1 MiB of memory of its own, written again for each MiB of
 * the batch: no buffer of the batch's whole size (several MB per batch outside the heap, which
 * made V8 run a full collection every few batches, or kept for the next batch as RSS).
 */
const compressors: Compressor[] = [];
const COMPRESSORS_KEPT = 2;

function takeCompressor(): Compressor {
  const kept = compressors.pop();
  if (kept) return kept;
  // Output in 128 KiB pieces, about a batch's whole output: with the default 16 KiB each piece
  // is a round trip to the main thread, and a larger buffer is memory allocated per batch.
  const stream = createZstdCompress({ chunkSize: 128 * 1024, params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } });
  const compressor: Compressor = { stream, chunks: [], input: Buffer.allocUnsafeSlow(WRITE_BYTES) };
  stream.on('data', (chunk: Buffer) => compressor.chunks.push(chunk));
  // A failure reaches the write's or the flush's callback too; this listener only keeps it from being thrown.
  stream.on('error', () => {});
  return compressor;
}

/** Writes to the compressor; resolves once it has taken the bytes in (their memory may be written again). */
const written = (compressor: Compressor, bytes: Buffer) =>
  new Promise<void>((resolve, reject) => compressor.stream.write(bytes, (error?: Error | null) => (error ? reject(error) : resolve())));

/**
 * One zstd frame of the parts, through a compressor kept from batch to batch: the input a MiB at a
 * time, then the frame's end. zstd compresses its input in blocks of its own whatever the writes,
 * so the bytes are those of one write of the whole input followed by the frame's end, as before.
 * Runs on libuv's thread pool, beside the thread that reads the file.
 */
async function zstdFrame(parts: readonly Uint8Array[]): Promise<Buffer> {
  const compressor = takeCompressor();
  const { input } = compressor;
  try {
    let filled = 0;
    for (const part of parts) {
      for (let from = 0; from < part.length; ) {
        const n = Math.min(part.length - from, input.length - filled);
        input.set(n === part.length ? part : part.subarray(from, from + n), filled);
        filled += n;
        from += n;
        if (filled === input.length) {
          await written(compressor, input);
          filled = 0;
        }
      }
    }
    if (filled > 0) await written(compressor, input.subarray(0, filled));
    await new Promise<void>((resolve, reject) =>
      // The frame's output is pushed before the flush's callback; what is pushed while the
      // stream's buffer is not empty is emitted on the next tick, before this resolves.
      compressor.stream.flush(constants.ZSTD_e_end, (error?: Error | null) => (error ? reject(error) : setImmediate(resolve))),
    );
  } catch (error) {
    // Not used again.
    compressor.stream.destroy();
    throw error;
  }
  const frame = Buffer.concat(compressor.chunks);
  compressor.chunks = [];
  if (compressors.length < COMPRESSORS_KEPT) compressors.push(compressor);
  else compressor.stream.close();
  return frame;
}

/**
 * A batch object: the batch's JSON, zstd-compressed. Deterministic: fields in one fixed order,
 * a pinned compression level, so a re-run writes the same bytes. The compression is told by its
 * magic bytes when read (`decodeBatch`), so objects written as gzip JSON by earlier versions
 * still read.
 */
export async function encodeBatch(batch: BatchToEncode): Promise<Buffer> {
  return zstdFrame(jsonPartsOf(batch));
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
