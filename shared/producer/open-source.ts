import type { FileIdentity } from '../core/batch.ts';
import { DEFAULT_FORMAT, escapeOf, textOnlyFieldsSet, type FormatConfig } from '../core/format-config.ts';
import { UnreadableFileError, UnreadableReason } from '../core/read/errors.ts';
import { compressionOf, fileTypeOfKey, isParquetMagic, jsonShapeOf, type FileFormat } from '../core/read/file-format.ts';
import type { ObjectRef, ObjectStore } from './ports.ts';
import { rebaseEvents, resumedReadOf, sliceBytes, type FileProgress, type TextFormat } from '../core/progress.ts';
import { encodingOfBom, readCsvEvents, resolveEncoding, type CsvDialect, type TextEncoding } from '../core/read/read-csv.ts';
import { readJsonArray } from '../core/read/read-json-array.ts';
import { readNdjson } from '../core/read/read-ndjson.ts';
import { readParquet } from '../core/read/read-parquet.ts';
import type { SourceEvent } from '../core/read/records.ts';
import { chooseDelimiter } from '../core/read/sniff.ts';
import { decompressStream, openTextStream, peekBytes } from './source.ts';
import type { RawText } from './parallel-csv.ts';
import { spillToTempFile } from './temp-file.ts';

export interface OpenedSource {
  format: FileFormat;
  compressed: boolean;
  /** Delimited text: the delimiter and encoding it is read with (`"auto"` resolved). */
  textFormat: TextFormat | null;
  /** In file order; a reader may yield several at once (CSV yields those of each piece read). */
  events: AsyncIterable<SourceEvent | readonly SourceEvent[]>;
  /** Delimited text: its bytes and dialect, to read in blocks instead of `events` (`parallelCsvEvents`); read one or the other. */
  raw?: RawText;
  close(): Promise<void>;
}

export interface SourceOptions {
  /** The table's format profile. */
  format?: FormatConfig;
  /** Whether a header name is a column the table knows (after the `columns` mapping), for `"delimiter": "auto"`. */
  known?: (name: string) => boolean;
  /** A delimited text file's delimiter and encoding as an earlier run of it chose them (its opening manifest). */
  textFormat?: TextFormat;
  tmpDir?: string;
}

export function refOf(file: FileIdentity): ObjectRef {
  return { bucket: file.bucket, key: file.key, versionId: file.versionId, etag: file.etag };
}

/** The CSV dialect of a profile with its delimiter and encoding resolved. */
function dialectOf(format: FormatConfig, text: TextFormat): Partial<CsvDialect> & { encoding: TextEncoding } {
  return {
    delimiter: text.delimiter,
    encoding: text.encoding,
    quote: format.quote,
    escape: escapeOf(format),
    trim: format.trim,
    nullValues: format.nullValues,
    header: format.header,
    ...(format.fields ? { fields: format.fields } : {}),
  };
}

function readerOf(format: FileFormat, bytes: AsyncIterable<Uint8Array>, profile: FormatConfig, text: TextFormat | null, from: FileProgress | null = null): AsyncIterable<SourceEvent | readonly SourceEvent[]> {
  if (format === 'csv') return readCsvEvents(bytes, { dialect: dialectOf(profile, text!), ...(from ? { resumed: resumedReadOf(from) } : {}) });
  if (format === 'json') return readJsonArray(bytes, from ? { resumed: { columns: from.plan.objectKeys ?? [] } } : {});
  return readNdjson(bytes, from?.plan.objectKeys ? { columns: from.plan.objectKeys } : {});
}

/** The first bytes of a text file as text, to choose a delimiter from. */
function headText(head: Buffer, encoding: TextEncoding): string {
  const bom = encodingOfBom(head);
  const body = bom === encoding ? head.subarray(bom === 'utf-8' ? 3 : 2) : head;
  if (encoding === 'utf-8') return body.toString('utf8');
  if (encoding === 'utf-16le') return body.subarray(0, body.length & ~1).toString('utf16le');
  if (encoding === 'utf-16be') return Buffer.from(body.subarray(0, body.length & ~1)).swap16().toString('utf16le');
  return body.toString('latin1');
}

/**
 * How a delimited text file is read: the profile's encoding (`"auto"`: its BOM, else UTF-8) and
 * delimiter (`"auto"`: the one whose split of the header gives columns the table knows, else the
 * one the first lines agree on; see `chooseDelimiter`).
 */
export function textFormatOf(head: Buffer, format: FormatConfig, options: { known?: (name: string) => boolean; delimiterHint?: string }): TextFormat {
  const encoding = resolveEncoding(format.encoding, head);
  if (format.delimiter !== 'auto') return { delimiter: format.delimiter, encoding };
  const choice = chooseDelimiter(headText(head, encoding), {
    quote: format.quote,
    ...(options.known ? { known: options.known } : {}),
    ...(options.delimiterHint ? { preferred: options.delimiterHint } : {}),
    ...(typeof format.header === 'object' ? { skip: format.header.skip } : {}),
    ...(format.header === false && format.fields ? { fieldCount: format.fields.length } : {}),
  });
  return { delimiter: choice.delimiter, encoding };
}

/** NDJSON, JSON and Parquet files have no delimiter, header, quoting, encoding or number format: a profile that sets one refuses them. */
function refuseTextOptions(format: FormatConfig, kind: string): void {
  const set = textOnlyFieldsSet(format);
  if (set.length === 0) return;
  throw new UnreadableFileError(
    UnreadableReason.formatOption,
    `the table's "format" sets ${set.map((f) => `"${f}"`).join(', ')}, which ${set.length > 1 ? 'mean' : 'means'} nothing for ${kind} file (only "dates" applies to it): ` +
      'drop it under a table whose "format" leaves them out, or export it as delimited text',
  );
}

/** A stream decompressed when its first bytes are gzip, zstd or bzip2. */
async function decompressed(stream: AsyncIterable<Uint8Array>): Promise<{ stream: AsyncIterable<Uint8Array>; compressed: boolean }> {
  const peeked = await peekBytes(stream, 10);
  const compression = compressionOf(peeked.head);
  return compression ? { stream: decompressStream(peeked.stream, compression), compressed: true } : { stream: peeked.stream, compressed: false };
}

/**
 * Opens a dropped file for reading: from its start, or, with `from`, where an earlier
 * invocation stopped. Delimited text and JSON resume with ranged reads (the bytes that hold the
 * header, then the rest from the position); a compressed file has no random access, so a resumed
 * one is decompressed from its start and only those bytes are parsed; Parquet resumes at a row
 * group. Compression and the JSON shape are told by the bytes, whatever the name says.
 */
export async function openSource(store: ObjectStore, file: FileIdentity, from: FileProgress | null, options: SourceOptions = {}): Promise<OpenedSource | 'gone'> {
  const type = fileTypeOfKey(file.key);
  const profile = options.format ?? DEFAULT_FORMAT;
  const ref = refOf(file);
  const none = async () => {};
  if (type.format !== 'parquet') {
    if (from === null) {
      const stream = await store.stream(ref);
      if (stream === 'gone') return stream;
      const text = await openTextStream(stream, type);
      if (type.format === 'ndjson') {
        const shape = jsonShapeOf(text.head);
        refuseTextOptions(profile, shape === 'json' ? 'a JSON' : 'an NDJSON');
        return { format: shape, compressed: text.compressed, textFormat: null, events: readerOf(shape, text.stream, profile, null), close: none };
      }
      const textFormat = options.textFormat ?? textFormatOf(text.head, profile, { ...(options.known ? { known: options.known } : {}), ...(type.delimiterHint ? { delimiterHint: type.delimiterHint } : {}) });
      const raw: RawText = { stream: text.stream, dialect: { ...dialectOf(profile, textFormat), encoding: textFormat.encoding }, resumed: null };
      return { format: 'csv', compressed: text.compressed, textFormat, events: readerOf('csv', text.stream, profile, textFormat), raw, close: none };
    }
    // An empty prefix (JSON objects: the plan holds their keys) is no read at all.
    const ranges = [...(from.prefix && from.prefix.end > from.prefix.start ? [{ start: from.prefix.start, end: from.prefix.end }] : []), { start: from.position.at, end: Infinity }];
    let bytes: AsyncIterable<Uint8Array>;
    if (from.compressed) {
      const stream = await store.stream(ref);
      if (stream === 'gone') return stream;
      bytes = sliceBytes((await decompressed(stream)).stream, ranges);
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
    // Progress objects of earlier versions: CSV was read as comma-separated UTF-8.
    const textFormat = from.fileFormat === 'csv' ? (from.textFormat ?? { delimiter: ',', encoding: 'utf-8' }) : null;
    const prefix = from.prefix && from.prefix.end > from.prefix.start ? from.prefix : null;
    const raw: RawText | undefined = textFormat
      ? {
          stream: bytes,
          dialect: { ...dialectOf(profile, textFormat), encoding: textFormat.encoding },
          resumed: { prefixBytes: prefix ? prefix.end - prefix.start : 0, prefixRows: from.prefix?.rows ?? 0, prefixLines: from.prefix?.lines ?? 0, position: { at: from.position.at, row: from.position.row, lines: from.position.lines } },
        }
      : undefined;
    return { format: from.fileFormat, compressed: from.compressed, textFormat, events: rebaseEvents(readerOf(from.fileFormat, bytes, profile, textFormat, from), from), ...(raw ? { raw } : {}), close: none };
  }
  refuseTextOptions(profile, 'a Parquet');
  const fromRowGroup = from?.position.at ?? 0;
  const resumed = (events: AsyncIterable<SourceEvent | readonly SourceEvent[]>) => (from ? rebaseEvents(events, from) : events);
  const object = await store.randomAccess(ref);
  if (object === 'gone') return object;
  const head = new Uint8Array(await object.slice(0, Math.min(10, object.byteLength)));
  const compression = compressionOf(head);
  if (compression) {
    const stream = await store.stream(ref);
    if (stream === 'gone') return stream;
    const spilled = await spillToTempFile(decompressStream(stream, compression), options.tmpDir);
    const inner = new Uint8Array(await spilled.slice(0, Math.min(4, spilled.byteLength)));
    if (!isParquetMagic(inner)) {
      await spilled.close();
      throw new UnreadableFileError(UnreadableReason.wrongFormat, 'named .parquet but the data is not Parquet');
    }
    return { format: 'parquet', compressed: true, textFormat: null, events: resumed(readParquet(spilled, { fromRowGroup })), close: () => spilled.close() };
  }
  if (type.compressionByName && head.length > 0) {
    throw new UnreadableFileError(type.compressionByName === 'gzip' ? UnreadableReason.corruptGzip : UnreadableReason.corruptCompressed, type.compressionByName === 'gzip' ? 'named .gz but the data is not gzip' : `named .${type.compressionByName === 'zstd' ? 'zst' : 'bz2'} but the data is not ${type.compressionByName}`);
  }
  if (object.byteLength === 0) throw new UnreadableFileError(UnreadableReason.empty, 'empty file');
  if (!isParquetMagic(head)) throw new UnreadableFileError(UnreadableReason.wrongFormat, 'named .parquet but the data is not Parquet');
  return { format: 'parquet', compressed: false, textFormat: null, events: resumed(readParquet(object, { fromRowGroup })), close: none };
}
