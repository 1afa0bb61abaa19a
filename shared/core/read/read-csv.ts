import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { parse, type CastingContext, type Options } from 'csv-parse';
import { UnreadableFileError, UnreadableReason } from './errors.ts';
import type { ResumePoint, SourceEvent } from './records.ts';
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

/**
 * Where the quote that is never closed opened in a record's raw text: its offset and field
 * index, or null. Follows the parser's rules: a quote opens a field only at the field's start;
 * inside, `""` is a quote and a single `"` closes it.
 */
export function unclosedQuoteOf(raw: string): { offset: number; field: number } | null {
  let inQuote = false;
  let fieldStart = true;
  let field = 0;
  let open = { offset: -1, field: 0 };
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (inQuote) {
      if (c !== '"') continue;
      if (raw[i + 1] === '"') i++;
      else inQuote = false;
      continue;
    }
    if (c === '"' && fieldStart) {
      inQuote = true;
      open = { offset: i, field };
    } else if (c === ',') {
      field++;
      fieldStart = true;
      continue;
    } else if (c === '\n' || c === '\r') {
      field = 0;
      fieldStart = true;
      continue;
    }
    fieldStart = false;
  }
  return inQuote ? open : null;
}

/**
 * A quoted field that is never closed swallows every line after it into one field, so the
 * parser sees one broken record where the file holds many. Each of those lines becomes a
 * counted reject of its own (the line where the quote opens names the field and the fix), so
 * `read` counts every line the file holds and the rows before the quote still land. The file is
 * not refused whole: its batches may already be on their way while it is read (they only hold
 * rows from before the quote), and nothing after the quote is applied.
 */
function unterminatedQuoteRejects(raw: string, startLine: number, firstRow: number, header: readonly string[] | undefined): Extract<SourceEvent, { kind: 'reject' }>[] {
  const open = unclosedQuoteOf(raw);
  const quoteLine = startLine + (open ? countNewlines(raw.slice(0, open.offset)) : 0);
  const name = open ? (header?.[open.field] ?? `#${open.field + 1}`) : undefined;
  const where = `line ${quoteLine} (row ${firstRow}${name !== undefined ? `, field "${name}"` : ''})`;
  // Blank lines are skipped, as everywhere else in a CSV file; the others keep their line numbers.
  const lines = raw
    .replace(/\r?\n$/, '')
    .split(/\r?\n/)
    .map((text, k) => ({ text, line: startLine + k }))
    .filter((l) => l.text !== '');
  return lines.map(({ text, line }, k) => ({
    kind: 'reject' as const,
    row: firstRow + k,
    line,
    reason:
      line === quoteLine
        ? `${where}: a quoted field opens here and is never closed, so this line and every line after it are rejected, one each ` +
          '(PostgreSQL\'s COPY refuses such a file: "unterminated CSV quoted field"). Close the quote (a quote inside a quoted field is written "") and drop the file again'
        : `inside the quoted field that opens at ${where} and is never closed`,
    raw: rawText(text),
  }));
}

async function* withoutBom(input: AsyncIterable<Uint8Array>, watch: { bytes: number; limit: number; line: number; bom: number }): AsyncGenerator<Buffer> {
  let head: Buffer | undefined = Buffer.alloc(0);
  for await (const chunk of input) {
    let buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (head !== undefined) {
      head = Buffer.concat([head, buffer]);
      if (head.length < 3) continue;
      watch.bom = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
      buffer = head.subarray(watch.bom);
      head = undefined;
    }
    watch.bytes += buffer.length;
    if (watch.bytes > watch.limit) {
      throw new UnreadableFileError(
        UnreadableReason.wrongFormat,
        `no end of record within ${watch.limit} bytes from line ${watch.line}: a quoted field that opens there and is never closed, or not a CSV file`,
        { line: watch.line },
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
 * A row with the wrong number of fields or invalid UTF-8 is yielded as a reject and the file
 * goes on, and so is each line after a quoted field that is never closed. No header at all is
 * an unreadable file.
 */
export async function* readCsv(input: AsyncIterable<Uint8Array>, options: CsvOptions = {}): AsyncGenerator<SourceEvent> {
  const watch = { bytes: 0, limit: options.maxRecordBytes ?? 64 * 1024 * 1024, line: 1, bom: 0 };
  let row = 0;
  let header: string[] | undefined;
  // The parser runs ahead of the loop below; these are its own view of the file so far.
  let headerParsed = false;
  let headerError: string | undefined;
  let headerNames: string[] | undefined;
  const skipped: SourceEvent[] = [];
  // Each record carries the skipped records parsed before it: the parser runs ahead of the loop,
  // and a skip it found after a record must not be yielded before that record (a resumed read
  // starts after a record and would count such a skip twice).
  type Parsed = ({ header: true; fields: Field[]; line: number; resume: ResumePoint } | { header: false; row: number; line: number; fields: Field[]; raw?: string; resume: ResumePoint }) & {
    skippedBefore: SourceEvent[];
  };
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
      watch.line = info.lines + 1;
      const fields = Array.isArray(record) ? record : record.record;
      const raw = info.raw ?? (Array.isArray(record) ? undefined : record.raw);
      const line = info.lines - countNewlines((raw ?? '').replace(/\r?\n?$/, ''));
      // The parser counts bytes after the BOM; a resumed read starts at a byte offset of the input.
      const at = info.bytes + watch.bom;
      const resume = { at, bytes: at, lines: info.lines };
      if (!headerParsed) {
        headerParsed = true;
        headerNames = fields.map((f) => (typeof f === 'string' ? f : ''));
        return { header: true as const, fields, line, resume, skippedBefore: skipped.splice(0) };
      }
      return { header: false as const, row: ++row, line, fields, raw, resume, skippedBefore: skipped.splice(0) };
    },
    on_skip: (error, raw) => {
      watch.bytes = 0;
      if (!headerParsed) {
        headerParsed = true;
        headerError = error?.message ?? 'unparseable header';
        return undefined;
      }
      const line = (error as { lines?: number } | undefined)?.lines ?? 0;
      if ((error as { code?: string } | undefined)?.code === 'CSV_QUOTE_NOT_CLOSED') {
        const text = raw ?? '';
        const rejects = unterminatedQuoteRejects(text, line - countNewlines(text.replace(/\r?\n?$/, '')), row + 1, headerNames);
        row += rejects.length;
        skipped.push(...rejects);
        return undefined;
      }
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
    yield* parsed.skippedBefore;
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
      yield { kind: 'columns', names, resume: parsed.resume };
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
        resume: parsed.resume,
      };
      continue;
    }
    const bad = fields.indexOf(INVALID_UTF8);
    if (bad >= 0) {
      yield { kind: 'reject', row: parsed.row, line: parsed.line, reason: `field "${header![bad]}" is not valid UTF-8`, raw: rawText(parsed.raw), resume: parsed.resume };
      continue;
    }
    yield { kind: 'row', row: parsed.row, line: parsed.line, values: fields as TextValue[], resume: parsed.resume };
  }
  if (headerError !== undefined) throw new UnreadableFileError(UnreadableReason.badHeader, `header: ${headerError}`, { line: 1 });
  while (skipped.length > 0) yield skipped.shift()!;
  if (header === undefined) {
    throw new UnreadableFileError(UnreadableReason.empty, 'empty file: no header row');
  }
}
