import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { UnreadableFileError, UnreadableReason } from '../core/read/errors.ts';
import { isGzip, isParquetMagic, type FileType } from '../core/read/file-format.ts';

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
export async function* gunzipStream(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const gunzip = createGunzip();
  const source = Readable.from(input);
  source.on('error', (error) => gunzip.destroy(error));
  source.pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) yield chunk;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code?.startsWith('Z_')) {
      throw new UnreadableFileError(UnreadableReason.corruptGzip, `corrupt gzip data: ${(error as Error).message}`, {}, { cause: error });
    }
    throw error;
  } finally {
    source.destroy();
  }
}

/**
 * A text file's bytes, decompressed when gzip (by its magic bytes, whatever the name says).
 * A name ending `.gz` over bytes that are not gzip, or a Parquet file named `.csv`, is the
 * wrong format.
 */
export async function openTextStream(
  input: AsyncIterable<Uint8Array>,
  type: FileType,
): Promise<{ stream: AsyncIterable<Uint8Array>; compressed: boolean }> {
  const first = await peekBytes(input, 4);
  let stream = first.stream;
  const compressed = isGzip(first.head);
  if (compressed) stream = gunzipStream(stream);
  else if (type.gzipByName && first.head.length > 0) {
    throw new UnreadableFileError(UnreadableReason.corruptGzip, 'named .gz but the data is not gzip');
  }
  const second = await peekBytes(stream, 4);
  if (isParquetMagic(second.head)) {
    throw new UnreadableFileError(UnreadableReason.wrongFormat, `named .${type.format} but the data is Parquet`);
  }
  return { stream: second.stream, compressed };
}
