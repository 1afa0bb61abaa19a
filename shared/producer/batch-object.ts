import { promisify } from 'node:util';
import { constants, createZstdCompress, gunzip, zstdDecompress } from 'node:zlib';
import type { BatchData } from '../batch.ts';
import type { TextValue } from './values.ts';

const gunzipAsync = promisify(gunzip);
const zstdDecompressAsync = promisify(zstdDecompress);

/**
 * Pinned so that a re-run writes the same bytes: zstd's default level, which compresses these
 * JSON batches to about 5% of their size at several hundred MB/s (gzip -1: 13%, three times
 * slower).
 */
const ZSTD_LEVEL = 3;
const FIRST_SEGMENT = 1024;
const MAX_SEGMENT = 64 * 1024;

/**
 * The JSON text of one column's values (`"a",null,"b\"c"`, as `JSON.stringify` writes them),
 * built as rows arrive, in buffers outside the JavaScript heap: a buffered row then costs the
 * garbage collector nothing, where its strings would be copied and promoted until the chunk is
 * cut.
 */
export class JsonColumn {
  readonly #segments: Buffer[] = [];
  #buffer: Buffer = Buffer.alloc(0);
  #pos = 0;
  #count = 0;
  #next = FIRST_SEGMENT;

  /** Room for `bytes` more in the current segment, else a new one (what is written is never moved). */
  #ensure(bytes: number): void {
    if (this.#pos + bytes <= this.#buffer.length) return;
    if (this.#pos > 0) this.#segments.push(this.#buffer.subarray(0, this.#pos));
    this.#buffer = Buffer.allocUnsafe(Math.max(this.#next, bytes));
    this.#next = Math.min(MAX_SEGMENT, this.#next * 2);
    this.#pos = 0;
  }

  push(value: TextValue): void {
    const comma = this.#count++ > 0;
    if (value === null) {
      this.#ensure(5);
      const b = this.#buffer;
      let p = this.#pos;
      if (comma) b[p++] = 0x2c;
      b[p] = 0x6e;
      b[p + 1] = 0x75;
      b[p + 2] = 0x6c;
      b[p + 3] = 0x6c;
      this.#pos = p + 4;
      return;
    }
    const n = value.length;
    this.#ensure(n + 3);
    const b = this.#buffer;
    let p = this.#pos;
    if (comma) b[p++] = 0x2c;
    b[p++] = 0x22;
    let i = 0;
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) break;
      b[p++] = c;
    }
    if (i === n) {
      b[p++] = 0x22;
      this.#pos = p;
      return;
    }
    // An escape or a non-ASCII character: JSON.stringify's own text, written anew.
    const json = JSON.stringify(value);
    this.#ensure(Buffer.byteLength(json) + 1);
    let q = this.#pos;
    if (comma) this.#buffer[q++] = 0x2c;
    this.#pos = q + this.#buffer.write(json, q, 'utf8');
  }

  get byteLength(): number {
    let bytes = this.#pos;
    for (const s of this.#segments) bytes += s.length;
    return bytes;
  }

  /** The text so far, in pieces. */
  parts(): Buffer[] {
    return this.#pos > 0 ? [...this.#segments, this.#buffer.subarray(0, this.#pos)] : [...this.#segments];
  }

  /** The values back (tests, and readers of a chunk). */
  values(): TextValue[] {
    return JSON.parse(`[${Buffer.concat(this.parts()).toString('utf8')}]`) as TextValue[];
  }
}

/** A batch as the producer hands it over: its values already JSON, one `JsonColumn` per column. */
export type BatchToEncode = Omit<BatchData, 'values'> & { values: BatchData['values'] | readonly JsonColumn[] };

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
    if (column instanceof JsonColumn) parts.push(open, ...column.parts(), Buffer.from(']'));
    else parts.push(Buffer.from(`${c === 0 ? '' : ','}${JSON.stringify(column)}`));
  });
  parts.push(Buffer.from(']}'));
  return parts;
}

/**
 * Compresses through a stream that is closed at once: the one-shot functions leave their native
 * state to the garbage collector, which lets the producer's RSS climb far above its heap.
 * Runs on libuv's thread pool, beside the thread that reads the file.
 */
async function zstdClosed(parts: readonly Uint8Array[]): Promise<Buffer> {
  // Output in 1 MiB pieces: with the default 16 KiB, each piece is a round trip to the main thread.
  const z = createZstdCompress({ chunkSize: 1024 * 1024, params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } });
  const chunks: Buffer[] = [];
  z.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    z.once('end', resolve);
    z.once('error', reject);
  });
  // One write: each is a round trip to the thread pool.
  z.end(Buffer.concat(parts));
  try {
    await done;
  } finally {
    z.close();
  }
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

/** Reads a batch object written by `encodeBatch` (or by an earlier version, as gzip JSON). */
export async function decodeBatch(bytes: Uint8Array): Promise<BatchData> {
  const json = await batchJsonOf(bytes);
  return JSON.parse(json.toString('utf8')) as BatchData;
}
