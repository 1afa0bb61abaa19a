import { createWriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RandomAccessObject } from './ports.ts';

/**
 * Writes a stream to a temporary file and opens it for random access (a gzip-compressed
 * Parquet file must be whole before it can be read). `close` removes the file.
 */
export async function spillToTempFile(
  input: AsyncIterable<Uint8Array>,
  dir = tmpdir(),
): Promise<RandomAccessObject & { close(): Promise<void> }> {
  const folder = await mkdtemp(join(dir, 'landfall-'));
  const path = join(folder, 'file');
  try {
    await pipeline(Readable.from(input), createWriteStream(path));
    const handle = await open(path, 'r');
    const { size } = await handle.stat();
    return {
      byteLength: size,
      async slice(start, end = size) {
        const buffer = Buffer.alloc(Math.max(0, end - start));
        await handle.read(buffer, 0, buffer.length, start);
        return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.length) as ArrayBuffer;
      },
      async close() {
        await handle.close();
        await rm(folder, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(folder, { recursive: true, force: true });
    throw error;
  }
}
