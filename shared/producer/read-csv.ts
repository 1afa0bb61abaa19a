import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { parse, type CastingContext, type Options } from 'csv-parse';
import { UnreadableFileError, UnreadableReason } from './errors.ts';
import type { SourceEvent } from './records.ts';
import type { TextValue } from './values.ts';

export interface CsvOptions {
  /** Bytes read without a record ending before the file is given up (an unclosed quote). */
  maxRecordBytes?: number;
}

const INVALID_UTF8: unique symbol = Symbol('invalid UTF-8');
type Field = TextValue | typeof INVALID_UTF8;
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Parsed as latin1 (one char per byte, lossless), so that invalid UTF-8 is found per field
 * instead of being replaced silently; CSV's structural characters are all ASCII.
 */
function castField(value: string, context: CastingContext): Field {
  let text = value;
  if (NON_ASCII.test(value)) {
    const bytes = Buffer.from(value, 'latin1');
    if (!isUtf8(bytes)) return INVALID_UTF8;
    text = bytes.toString('utf8');
  }
  // PostgreSQL COPY CSV: an unquoted empty field is NULL, a quoted one the empty string.
  return text === '' && !context.quoting ? null : text;
}

function rawText(raw: string | undefined): string {
  return raw === undefined ? '' : Buffer.from(raw.replace(/\r?\n?$/, ''), 'latin1').toString('utf8');
}

function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

async function* withoutBom(input: AsyncIterable<Uint8Array>, watch: { bytes: number; limit: number }): AsyncGenerator<Buffer> {
  let head: Buffer | undefined = Buffer.alloc(0);
  for await (const chunk of input) {
    let buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (head !== undefined) {
      head = Buffer.concat([head, buffer]);
      if (head.length < 3) continue;
      buffer = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? head.subarray(3) : head;
      head = undefined;
    }
    watch.bytes += buffer.length;
    if (watch.bytes > watch.limit) {
      throw new UnreadableFileError(
        UnreadableReason.wrongFormat,
        `no end of record within ${watch.limit} bytes: an unclosed quote or not a CSV file`,
      );
    }
    yield buffer;
  }
  if (head !== undefined && head.length > 0) {
    yield head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? head.subarray(3) : head;
  }
}

/**
 * Streams a CSV file (RFC 4180 with a header row, as PostgreSQL's COPY CSV reads it): quoted
 * fields with newlines and doubled quotes, CRLF or LF, a UTF-8 BOM, blank lines skipped.
 * A row with the wrong number of fields, invalid UTF-8 or broken quoting is yielded as a
 * reject and the file goes on. No header at all is an unreadable file.
 */
export async function* readCsv(input: AsyncIterable<Uint8Array>, options: CsvOptions = {}): AsyncGenerator<SourceEvent> {
  const watch = { bytes: 0, limit: options.maxRecordBytes ?? 64 * 1024 * 1024 };
  let row = 0;
  let header: string[] | undefined;
  // The parser runs ahead of the loop below; these are its own view of the file so far.
  let headerParsed = false;
  let headerError: string | undefined;
  const skipped: SourceEvent[] = [];
  type Parsed = { header: true; fields: Field[]; line: number } | { header: false; row: number; line: number; fields: Field[]; raw?: string };
  const parserOptions: Options<Parsed, { record: Field[]; raw: string } | Field[]> = {
    encoding: 'latin1',
    bom: false,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    raw: true,
    cast: castField,
    on_record: (record, info) => {
      watch.bytes = 0;
      const fields = Array.isArray(record) ? record : record.record;
      const raw = info.raw ?? (Array.isArray(record) ? undefined : record.raw);
      const line = info.lines - countNewlines((raw ?? '').replace(/\r?\n?$/, ''));
      if (!headerParsed) {
        headerParsed = true;
        return { header: true as const, fields, line };
      }
      return { header: false as const, row: ++row, line, fields, raw };
    },
    on_skip: (error, raw) => {
      watch.bytes = 0;
      if (!headerParsed) {
        headerParsed = true;
        headerError = error?.message ?? 'unparseable header';
        return undefined;
      }
      const line = (error as { lines?: number } | undefined)?.lines ?? 0;
      skipped.push({ kind: 'reject', row: ++row, line, reason: error?.message ?? 'unparseable row', raw: rawText(raw) });
      return undefined;
    },
  };
  const parser = parse(parserOptions as unknown as Options);
  const source = Readable.from(withoutBom(input, watch));
  source.on('error', (error) => parser.destroy(error));
  source.pipe(parser);
  for await (const parsed of parser as AsyncIterable<Parsed>) {
    if (headerError !== undefined) throw new UnreadableFileError(UnreadableReason.badHeader, `header: ${headerError}`, { line: 1 });
    while (skipped.length > 0) yield skipped.shift()!;
    if (parsed.header) {
      const names = parsed.fields.map((name, i) => {
        if (name === INVALID_UTF8) {
          throw new UnreadableFileError(UnreadableReason.badHeader, `header line ${parsed.line}: column ${i + 1} is not valid UTF-8`, {
            line: parsed.line,
            field: `#${i + 1}`,
          });
        }
        return name ?? '';
      });
      header = names;
      yield { kind: 'columns', names };
      continue;
    }
    const { fields } = parsed;
    if (fields.length !== header!.length) {
      yield {
        kind: 'reject',
        row: parsed.row,
        line: parsed.line,
        reason: `expected ${header!.length} fields (as the header), got ${fields.length}`,
        raw: rawText(parsed.raw),
      };
      continue;
    }
    const bad = fields.indexOf(INVALID_UTF8);
    if (bad >= 0) {
      yield { kind: 'reject', row: parsed.row, line: parsed.line, reason: `field "${header![bad]}" is not valid UTF-8`, raw: rawText(parsed.raw) };
      continue;
    }
    yield { kind: 'row', row: parsed.row, line: parsed.line, values: fields as TextValue[] };
  }
  if (headerError !== undefined) throw new UnreadableFileError(UnreadableReason.badHeader, `header: ${headerError}`, { line: 1 });
  while (skipped.length > 0) yield skipped.shift()!;
  if (header === undefined) {
    throw new UnreadableFileError(UnreadableReason.empty, 'empty file: no header row');
  }
}
