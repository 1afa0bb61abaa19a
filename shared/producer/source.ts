import { PassThrough, Readable, type Transform } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import bz2 from 'unbzip2-stream';
import { UnreadableFileError, UnreadableReason } from '../core/read/errors.ts';
import { compressionOf, isParquetMagic, type Compression, type FileType } from '../core/read/file-format.ts';

/** The first `n` bytes of a stream (fewer at its end) and the whole stream, head included. */
export async function peekBytes(
  input: AsyncIterable<Uint8Array>,
  n: number,
): Promise<{ head: Buffer; stream: AsyncIterable<Uint8Array> }> {
  const iterator = input[Symbol.asyncIterator]();
  const seen: Buffer[] = [];
  let length = 0;
  let done = false;
  while (length < n) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    seen.push(chunk);
    length += chunk.length;
  }
  const head = Buffer.concat(seen).subarray(0, n);
  async function* replay(): AsyncGenerator<Uint8Array> {
    yield* seen;
    if (done) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { head, stream: replay() };
}

/** Gunzips a stream; a corrupt or truncated stream is an unreadable file. */
export function gunzipStream(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  return decompressStream(input, 'gzip');
}

/**
 * Decompresses a stream (gzip and zstd with Node's zlib, bzip2 with unbzip2-stream); corrupt or
 * truncated data is an unreadable file.
 */
export async function* decompressStream(input: AsyncIterable<Uint8Array>, compression: Compression): AsyncGenerator<Uint8Array> {
  // Where damage was found, for the reason: the file's bytes handed to the decoder, and what it gave.
  let fed = 0;
  let given = 0;
  const source = Readable.from(
    (async function* () {
      for await (const chunk of input) {
        fed += chunk.byteLength;
        yield chunk;
      }
    })(),
  );
  let output: Transform;
  if (compression === 'bzip2') {
    // unbzip2-stream is a classic stream: piped into a PassThrough, which async iteration reads.
    const decoder = bz2();
    output = new PassThrough();
    decoder.on('error', (error: Error) => output.destroy(Object.assign(error, { code: 'BZIP2' })));
    source.on('error', (error) => output.destroy(error));
    (source.pipe(decoder as unknown as NodeJS.WritableStream) as unknown as NodeJS.ReadableStream).pipe(output);
  } else {
    output = compression === 'gzip' ? createGunzip() : createZstdDecompress();
    source.on('error', (error) => output.destroy(error));
    source.pipe(output);
  }
  try {
    for await (const chunk of output as AsyncIterable<Buffer>) {
      given += chunk.length;
      yield chunk;
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_') || code.startsWith('ERR_ZSTD') || code === 'BZIP2' || /bzip|zstd/i.test(code)) {
      const what = compression === 'gzip' ? 'gzip' : compression;
      throw new UnreadableFileError(compression === 'gzip' ? UnreadableReason.corruptGzip : UnreadableReason.corruptCompressed, `corrupt ${what} data (found with ${fed} bytes of the file read, ${given} bytes decompressed): ${(error as Error).message}`, {}, { cause: error });
    }
    throw error;
  } finally {
    source.destroy();
  }
}

/**
 * A text file's bytes, decompressed when its bytes are gzip, zstd or bzip2 (by their magic
 * bytes, whatever the name says). A name that says compressed over bytes that are not, or a
 * Parquet file named `.csv`, is the wrong format.
 */
export async function openTextStream(
  input: AsyncIterable<Uint8Array>,
  type: FileType,
): Promise<{ stream: AsyncIterable<Uint8Array>; compressed: boolean; compression: Compression | null; head: Buffer }> {
  const first = await peekBytes(input, 10);
  let stream = first.stream;
  const compression = compressionOf(first.head);
  if (compression) stream = decompressStream(stream, compression);
  else if (type.compressionByName && first.head.length > 0) {
    throw new UnreadableFileError(
      type.compressionByName === 'gzip' ? UnreadableReason.corruptGzip : UnreadableReason.corruptCompressed,
      type.compressionByName === 'gzip' ? 'named .gz but the data is not gzip' : `named .${type.compressionByName === 'zstd' ? 'zst' : 'bz2'} but the data is not ${type.compressionByName}`,
    );
  }
  // Enough of the text to choose a delimiter and an encoding (a BOM) from.
  const second = await peekBytes(stream, 64 * 1024);
  if (isParquetMagic(second.head)) {
    throw new UnreadableFileError(UnreadableReason.wrongFormat, `named .${type.format} but the data is Parquet`);
  }
  return { stream: second.stream, compressed: compression !== null, compression, head: second.head };
}
