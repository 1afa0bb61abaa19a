import type { FileIdentity } from '../core/batch.ts';
import { UnreadableFileError, UnreadableReason } from '../core/read/errors.ts';
import { fileTypeOfKey, isGzip, isParquetMagic, type FileFormat } from '../core/read/file-format.ts';
import type { ObjectRef, ObjectStore } from './ports.ts';
import { rebaseEvents, resumedReadOf, sliceBytes, type FileProgress } from '../core/progress.ts';
import { readCsvEvents } from '../core/read/read-csv.ts';
import { readNdjson } from '../core/read/read-ndjson.ts';
import { readParquet } from '../core/read/read-parquet.ts';
import type { SourceEvent } from '../core/read/records.ts';
import { gunzipStream, openTextStream } from './source.ts';
import { spillToTempFile } from './temp-file.ts';

export interface OpenedSource {
  format: FileFormat;
  compressed: boolean;
  /** In file order; a reader may yield several at once (CSV yields those of each piece read). */
  events: AsyncIterable<SourceEvent | readonly SourceEvent[]>;
  close(): Promise<void>;
}

export function refOf(file: FileIdentity): ObjectRef {
  return { bucket: file.bucket, key: file.key, versionId: file.versionId, etag: file.etag };
}

function readerOf(format: FileFormat, bytes: AsyncIterable<Uint8Array>, from: FileProgress | null = null): AsyncIterable<SourceEvent | readonly SourceEvent[]> {
  if (format === 'csv') return readCsvEvents(bytes, from ? { resumed: resumedReadOf(from) } : {});
  return readNdjson(bytes, from?.plan.objectKeys ? { columns: from.plan.objectKeys } : {});
}

/**
 * Opens a dropped file for reading: from its start, or, with `from`, where an earlier
 * invocation stopped. CSV and NDJSON resume with two ranged reads (the bytes that hold the
 * columns, then the rest from the position); gzip has no random access, so a resumed gzip file
 * is inflated from its start and only those bytes are parsed; Parquet resumes at a row group.
 */
export async function openSource(store: ObjectStore, file: FileIdentity, from: FileProgress | null, tmpDir?: string): Promise<OpenedSource | 'gone'> {
  const type = fileTypeOfKey(file.key);
  const ref = refOf(file);
  const none = async () => {};
  if (type.format !== 'parquet') {
    if (from === null) {
      const stream = await store.stream(ref);
      if (stream === 'gone') return stream;
      const { stream: text, compressed } = await openTextStream(stream, type);
      return { format: type.format, compressed, events: readerOf(type.format, text), close: none };
    }
    // An empty prefix (JSON objects: the plan holds their keys) is no read at all.
    const ranges = [...(from.prefix && from.prefix.end > from.prefix.start ? [{ start: from.prefix.start, end: from.prefix.end }] : []), { start: from.position.at, end: Infinity }];
    let bytes: AsyncIterable<Uint8Array>;
    if (from.compressed) {
      const stream = await store.stream(ref);
      if (stream === 'gone') return stream;
      bytes = sliceBytes(gunzipStream(stream), ranges);
    } else {
      const streams: AsyncIterable<Uint8Array>[] = [];
      for (const range of ranges) {
        const stream = await store.stream(ref, { start: range.start, ...(Number.isFinite(range.end) ? { end: range.end } : {}) });
        if (stream === 'gone') return stream;
        streams.push(stream);
      }
      bytes = (async function* () {
        for (const stream of streams) yield* stream;
      })();
    }
    return { format: type.format, compressed: from.compressed, events: rebaseEvents(readerOf(type.format, bytes, from), from), close: none };
  }
  const fromRowGroup = from?.position.at ?? 0;
  const resumed = (events: AsyncIterable<SourceEvent | readonly SourceEvent[]>) => (from ? rebaseEvents(events, from) : events);
  const object = await store.randomAccess(ref);
  if (object === 'gone') return object;
  const head = new Uint8Array(await object.slice(0, Math.min(4, object.byteLength)));
  if (isGzip(head)) {
    const stream = await store.stream(ref);
    if (stream === 'gone') return stream;
    const spilled = await spillToTempFile(gunzipStream(stream), tmpDir);
    const inner = new Uint8Array(await spilled.slice(0, Math.min(4, spilled.byteLength)));
    if (!isParquetMagic(inner)) {
      await spilled.close();
      throw new UnreadableFileError(UnreadableReason.wrongFormat, 'named .parquet but the data is not Parquet');
    }
    return { format: 'parquet', compressed: true, events: resumed(readParquet(spilled, { fromRowGroup })), close: () => spilled.close() };
  }
  if (type.gzipByName && head.length > 0) throw new UnreadableFileError(UnreadableReason.corruptGzip, 'named .gz but the data is not gzip');
  if (object.byteLength === 0) throw new UnreadableFileError(UnreadableReason.empty, 'empty file');
  if (!isParquetMagic(head)) throw new UnreadableFileError(UnreadableReason.wrongFormat, 'named .parquet but the data is not Parquet');
  return { format: 'parquet', compressed: false, events: resumed(readParquet(object, { fromRowGroup })), close: none };
}
