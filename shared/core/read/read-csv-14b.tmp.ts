import { isUtf8 } from 'node:buffer';
import { UnreadableFileError, UnreadableReason } from './errors.ts';
import type { SourceEvent } from './records.ts';
import type { TextValue } from './values.ts';

export interface CsvOptions {
  /** Bytes read without a record ending before the file is given up (an unclosed quote). */
  maxRecordBytes?: number;
}

const INVALID_UTF8: unique symbol = Symbol('invalid UTF-8');
type Field = TextValue | typeof INVALID_UTF8;
type Reject = Extract<SourceEvent, { kind: 'reject' }>;
const NON_ASCII = /[^\x00-\x7f]/;

const COMMA = 0x2c;
const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/**
 * A piece of a field read from a region that is not valid UTF-8 as a whole, so was decoded as
 * latin1 (one char per byte, lossless): valid UTF-8 pieces are decoded again, the others are
 * marked, so invalid UTF-8 is found per field instead of being replaced silently.
 */
function fromLatin1(piece: string): string | typeof INVALID_UTF8 {
  if (!NON_ASCII.test(piece)) return piece;
  const bytes = Buffer.from(piece, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : INVALID_UTF8;
}

/** A record's raw text as the rejects object shows it (invalid UTF-8 replaced). */
function rawFromLatin1(piece: string): string {
  return NON_ASCII.test(piece) ? Buffer.from(piece, 'latin1').toString('utf8') : piece;
}

function countLineBreaks(text: string): number {
  return text.split(/\r\n|\n|\r/).length - 1;
}

/**
 * Where the quote that is never closed opened in a record's raw text: its offset and field
 * index, or null. The reader's rules: a quote opens a field only at the field's start; inside,
 * `""` is a quote and a single `"` closes it.
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
 * A quoted field that is never closed swallows every line after it into one field, so a parser
 * sees one broken record where the file holds many. Each of those lines becomes a counted reject
 * of its own (the line where the quote opens names the field and the fix), so `read` counts
 * every line the file holds and the rows before the quote still land. The file is not refused
 * whole: its batches may already be on their way while it is read (they only hold rows from
 * before the quote), and nothing after the quote is applied.
 */
function unterminatedQuoteRejects(raw: string, startLine: number, firstRow: number, header: readonly string[] | undefined): Reject[] {
  const open = unclosedQuoteOf(raw);
  const quoteLine = startLine + (open ? countLineBreaks(raw.slice(0, open.offset)) : 0);
  const name = open ? (header?.[open.field] ?? `#${open.field + 1}`) : undefined;
  const where = `line ${quoteLine} (row ${firstRow}${name !== undefined ? `, field "${name}"` : ''})`;
  // Blank lines are skipped, as everywhere else in a CSV file; the others keep their line numbers.
  const lines = raw
    .split(/\r\n|\n|\r/)
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
    raw: text,
  }));
}

/**
 * The record scanner. It is fed regions of the file that end at a line break (so a region never
 * splits a character, a CRLF's meaning or a doubled quote, except at the file's end), each
 * decoded once, and keeps its state across them: a record, or a quoted field, may span regions.
 * Every value is a slice of the region's string; only a field that spans regions or holds a
 * doubled quote is built up.
 */
class CsvScanner {
  /** The line the scan is on, from 1. */
  line = 1;
  header: string[] | undefined;
  #row = 0;
  readonly #out: SourceEvent[] = [];
  // The record being read.
  #fields: Field[] = [];
  #recordLine = 1;
  /** Raw text of the record from earlier regions (decoded for display). */
  #rawBefore = '';
  #spans = false;
  // The field being read.
  #atFieldStart = true;
  #inQuotes = false;
  #quoted = false;
  /** Its text so far when it spans regions or holds a doubled quote, else null. */
  #built: string | null = null;
  #builtInvalid = false;
  /** A CR ended the previous region: a LF that starts this one belongs to it. */
  #afterCr = false;
  // The region being scanned.
  #s = '';
  #latin1 = false;

  /** Whether a record is open (read in part), and how many bytes of it were read. */
  openRecordBytes = 0;

  scan(region: Buffer, final: boolean): SourceEvent[] {
    this.#latin1 = !isUtf8(region);
    const s = (this.#s = region.toString(this.#latin1 ? 'latin1' : 'utf8'));
    const n = s.length;
    let i = 0;
    let recordStart = 0;
    if (this.#afterCr && n > 0 && s.charCodeAt(0) === LF) {
      // The LF of a CRLF split between regions: data inside quotes, else the end already seen.
      i = 1;
      if (this.#inQuotes) this.#append(0, 1);
      else recordStart = 1;
    }
    this.#afterCr = false;
    let fieldStart = i;
    while (i < n) {
      if (this.#inQuotes) {
        const j = s.indexOf('"', i);
        if (j < 0) {
          this.#countBreaks(i, n);
          this.#append(i, n);
          i = n;
          break;
        }
        this.#countBreaks(i, j);
        if (j + 1 < n && s.charCodeAt(j + 1) === QUOTE) {
          this.#append(i, j + 1);
          i = j + 2;
          continue;
        }
        // Closed: the text up to the quote is the field so far; what follows, up to the
        // delimiter, is taken as written.
        this.#append(i, j);
        this.#inQuotes = false;
        i = j + 1;
        fieldStart = i;
        if (this.#built === null) this.#built = '';
        continue;
      }
      if (this.#atFieldStart && s.charCodeAt(i) === QUOTE) {
        this.#atFieldStart = false;
        this.#inQuotes = true;
        this.#quoted = true;
        if (this.#built === null) this.#built = '';
        i++;
        continue;
      }
      this.#atFieldStart = false;
      let k = i;
      let c = 0;
      for (; k < n; k++) {
        c = s.charCodeAt(k);
        if (c === COMMA || c === LF || c === CR) break;
      }
      if (k === n) {
        // Only the file's last line can end without a line break: its field is taken below.
        i = n;
        break;
      }
      this.#fields.push(this.#take(fieldStart, k));
      if (c === COMMA) {
        this.#atFieldStart = true;
        i = fieldStart = k + 1;
        continue;
      }
      // A line break ends the record.
      let end = k + 1;
      if (c === CR) {
        if (k + 1 < n && s.charCodeAt(k + 1) === LF) end++;
        else if (k + 1 === n) this.#afterCr = true;
      }
      this.#endRecord(recordStart, k);
      this.line++;
      i = recordStart = fieldStart = end;
    }
    if (final) {
      if (this.#inQuotes) this.#unclosedAtEnd(recordStart, n);
      else if (this.#spans || recordStart < n || this.#fields.length > 0 || this.#built !== null) {
        this.#fields.push(this.#take(fieldStart, n));
        this.#endRecord(recordStart, n);
      }
      this.openRecordBytes = 0;
    } else if (recordStart < n || this.#spans) {
      // The record goes on in the next region (inside a quoted field): keep what was read of it.
      if (!this.#inQuotes && fieldStart < n) this.#append(fieldStart, n);
      this.#rawBefore += this.#rawOf(recordStart, n);
      this.#spans = true;
      this.openRecordBytes += this.#latin1 ? n - recordStart : Buffer.byteLength(s.slice(recordStart));
    }
    const out = this.#out.splice(0);
    return out;
  }

  /** Appends s[from, to) to the field being built. */
  #append(from: number, to: number): void {
    if (from >= to) {
      if (this.#built === null) this.#built = '';
      return;
    }
    const piece = this.#s.slice(from, to);
    if (this.#latin1) {
      const text = fromLatin1(piece);
      if (text === INVALID_UTF8) this.#builtInvalid = true;
      else this.#built = (this.#built ?? '') + text;
    } else this.#built = (this.#built ?? '') + piece;
  }

  /** The field that ends at s[to): its text, NULL when unquoted and empty (as COPY reads it). */
  #take(from: number, to: number): Field {
    let value: Field;
    if (this.#built === null) {
      if (from === to) value = null;
      else value = this.#latin1 ? fromLatin1(this.#s.slice(from, to)) : this.#s.slice(from, to);
    } else {
      this.#append(from, to);
      value = this.#builtInvalid ? INVALID_UTF8 : this.#built;
      if (value === '' && !this.#quoted) value = null;
    }
    this.#built = null;
    this.#builtInvalid = false;
    this.#quoted = false;
    this.#atFieldStart = true;
    return value;
  }

  #rawOf(from: number, to: number): string {
    const piece = this.#s.slice(from, to);
    return this.#latin1 ? rawFromLatin1(piece) : piece;
  }

  #countBreaks(from: number, to: number): void {
    const s = this.#s;
    for (let k = from; k < to; k++) {
      const c = s.charCodeAt(k);
      if (c === LF) this.line++;
      else if (c === CR && !(k + 1 < s.length && s.charCodeAt(k + 1) === LF)) {
        this.line++;
        if (k + 1 === s.length) this.#afterCr = true;
      }
    }
  }

  #endRecord(recordStart: number, end: number): void {
    const fields = this.#fields;
    const recordLine = this.#recordLine;
    const spans = this.#spans;
    const before = this.#rawBefore;
    this.#fields = [];
    this.#spans = false;
    this.#rawBefore = '';
    this.openRecordBytes = 0;
    this.#recordLine = this.line + 1;
    // A blank line (one unquoted empty field) is skipped.
    if (fields.length === 1 && fields[0] === null && !spans && recordStart === end) return;
    if (this.header === undefined) {
      const bad = fields.indexOf(INVALID_UTF8);
      if (bad >= 0) {
        throw new UnreadableFileError(UnreadableReason.badHeader, `header line ${recordLine}: column ${bad + 1} is not valid UTF-8`, {
          line: recordLine,
          field: `#${bad + 1}`,
        });
      }
      this.header = fields.map((name) => (name as TextValue) ?? '');
      this.#out.push({ kind: 'columns', names: this.header });
      return;
    }
    const row = ++this.#row;
    if (fields.length !== this.header.length) {
      this.#out.push({ kind: 'reject', row, line: recordLine, reason: `expected ${this.header.length} fields (as the header), got ${fields.length}`, raw: before + this.#rawOf(recordStart, end) });
      return;
    }
    const bad = fields.indexOf(INVALID_UTF8);
    if (bad >= 0) {
      this.#out.push({ kind: 'reject', row, line: recordLine, reason: `field "${this.header[bad]}" is not valid UTF-8`, raw: before + this.#rawOf(recordStart, end) });
      return;
    }
    this.#out.push({ kind: 'row', row, line: recordLine, values: fields as TextValue[] });
  }

  #unclosedAtEnd(recordStart: number, end: number): void {
    const raw = this.#rawBefore + this.#rawOf(recordStart, end);
    this.#rawBefore = '';
    if (this.header === undefined) {
      throw new UnreadableFileError(UnreadableReason.badHeader, `header: a quoted field opens at line ${this.#recordLine} and is never closed`, { line: this.#recordLine });
    }
    const rejects = unterminatedQuoteRejects(raw.replace(/(?:\r\n|\n|\r)$/, ''), this.#recordLine, this.#row + 1, this.header);
    this.#row += rejects.length;
    this.#out.push(...rejects);
  }

  /** The line where the record being read starts (or the next one starts). */
  get recordLine(): number {
    return this.#spans || !this.#atFieldStart || this.#fields.length > 0 ? this.#recordLine : this.line;
  }
}

const BOM = [0xef, 0xbb, 0xbf] as const;
const hasBom = (b: Buffer) => b.length >= 3 && b[0] === BOM[0] && b[1] === BOM[1] && b[2] === BOM[2];

/** Index of the last LF or CR in the buffer at or before `at`, or -1. */
function lastLineBreak(buffer: Buffer, at = buffer.length - 1): number {
  return Math.max(buffer.lastIndexOf(LF, at), buffer.lastIndexOf(CR, at));
}

/**
 * Bytes scanned at once at most. A piece's string and events are handed on before the next piece
 * is scanned, so they die young; a 256 KiB chunk scanned whole outlived a scavenge, was
 * promoted, and the old generation filled again and again (measured on 100 MB: 38 full
 * collections while only parsing, none in pieces).
 */
const REGION_BYTES = 32 * 1024;

/**
 * Scans a region that ends at a line break, in pieces of about `REGION_BYTES` cut at line
 * breaks; the events of each piece, handed on before the next is scanned (so that they too die young).
 */
function* scanInPieces(scanner: CsvScanner, region: Buffer): Generator<SourceEvent[]> {
  for (let from = 0; from < region.length; ) {
    let to = region.length;
    if (to - from > REGION_BYTES) {
      const cut = lastLineBreak(region, from + REGION_BYTES - 1);
      // No line break in the window (a long record): up to the next one.
      to = cut >= from ? cut + 1 : Math.min(...[region.indexOf(LF, from), region.indexOf(CR, from)].filter((i) => i >= 0)) + 1;
    }
    const events = scanner.scan(region.subarray(from, to), false);
    if (events.length > 0) yield events;
    from = to;
  }
}

/**
 * Streams a CSV file (RFC 4180 with a header row, as PostgreSQL's COPY CSV reads it): quoted
 * fields with newlines and doubled quotes, CRLF, LF or CR line ends, a UTF-8 BOM, blank lines
 * skipped. A row with the wrong number of fields or invalid UTF-8 is yielded as a reject and the
 * file goes on, and so is each line after a quoted field that is never closed. No header at all
 * is an unreadable file. Yields the events of each piece of the file read, in file order.
 *
 * @example for await (const events of readCsvEvents(stream)) for (const e of events) …
 */
export async function* readCsvEvents(input: AsyncIterable<Uint8Array>, options: CsvOptions = {}): AsyncGenerator<SourceEvent[]> {
  const limit = options.maxRecordBytes ?? 64 * 1024 * 1024;
  const scanner = new CsvScanner();
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let first = true;
  const regionOf = (parts: Buffer[]) => {
    let region = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (first) {
      first = false;
      if (hasBom(region)) region = region.subarray(3);
    }
    return region;
  };
  for await (const chunk of input) {
    const buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const last = lastLineBreak(buffer);
    if (last < 0 || (first && pendingBytes + last + 1 < 3)) {
      pending.push(buffer);
      pendingBytes += buffer.length;
    } else {
      pending.push(buffer.subarray(0, last + 1));
      const region = regionOf(pending);
      pending = last + 1 < buffer.length ? [buffer.subarray(last + 1)] : [];
      pendingBytes = buffer.length - last - 1;
      yield* scanInPieces(scanner, region);
    }
    if (scanner.openRecordBytes + pendingBytes > limit) {
      throw new UnreadableFileError(
        UnreadableReason.wrongFormat,
        `no end of record within ${limit} bytes from line ${scanner.recordLine}: a quoted field that opens there and is never closed, or not a CSV file`,
        { line: scanner.recordLine },
      );
    }
  }
  const events = scanner.scan(regionOf(pending.length > 0 ? pending : [Buffer.alloc(0)]), true);
  if (events.length > 0) yield events;
  if (scanner.header === undefined) throw new UnreadableFileError(UnreadableReason.empty, 'empty file: no header row');
}

/** `readCsvEvents`, one event at a time. */
export async function* readCsv(input: AsyncIterable<Uint8Array>, options: CsvOptions = {}): AsyncGenerator<SourceEvent> {
  for await (const events of readCsvEvents(input, options)) yield* events;
}
