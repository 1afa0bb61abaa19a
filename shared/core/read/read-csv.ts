import { isUtf8 } from 'node:buffer';
import { UnreadableFileError, UnreadableReason } from './errors.ts';
import type { ResumePoint, SourceEvent } from './records.ts';
import type { TextValue } from './values.ts';

/** A text encoding the scanner reads (`"auto"` is resolved before: a BOM decides, else UTF-8). */
export type TextEncoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252' | 'latin1';

/** How a delimited text file is read, with the profile's `"auto"` resolved (kept so that every invocation reads it alike). */
export interface TextFormat {
  delimiter: string;
  encoding: TextEncoding;
}

/**
 * How a delimited text file is written (the table's `format`, resolved: a delimiter, not
 * `"auto"`). The defaults read RFC 4180 CSV as PostgreSQL's COPY does.
 */
export interface CsvDialect {
  delimiter: string;
  quote: string;
  /** Inside a quoted field: the quote itself (a doubled quote is one), or another character that makes the next one a character. */
  escape: string;
  /** Strip whitespace around unquoted fields, and around a quoted field's quotes. */
  trim: boolean;
  /** Unquoted texts (after trimming) that are NULL; an empty unquoted field always is. */
  nullValues: readonly string[];
  encoding: TextEncoding | 'auto';
  /** true: the first line is the header; { skip: N }: after N lines; false: `fields` names the columns. */
  header: boolean | { skip: number };
  fields?: readonly string[];
}

export const DEFAULT_DIALECT: CsvDialect = { delimiter: ',', quote: '"', escape: '"', trim: false, nullValues: [''], encoding: 'auto', header: true };

export interface CsvOptions {
  /** Bytes read without a record ending before the file is given up (an unclosed quote). */
  maxRecordBytes?: number;
  dialect?: Partial<CsvDialect>;
  /**
   * A resumed read (see `rebaseEvents`): the input is the header's `prefixBytes` bytes, then the
   * file from a resume point. A CR that ends the prefix and a LF after it are two line ends, as
   * in the file; `rows` and `lines` (those between the header and the resume point) are added to
   * the numbers its messages quote, so that they name the file's lines.
   */
  resumed?: { prefixBytes: number; rows: number; lines: number };
  /**
   * The input ends before the file does (a worker's block of it): what follows its last line
   * break is not the file's last record, so it is left unread instead of taken as one, and no
   * quote is "never closed" at its end. The records read are exactly those a read of the whole
   * file yields for these bytes.
   */
  partial?: boolean;
}

/** Rows and lines to add to the numbers a message quotes. */
interface Numbering {
  rows: number;
  lines: number;
}

const INVALID_UTF8: unique symbol = Symbol('invalid UTF-8');
type Field = TextValue | typeof INVALID_UTF8;
type Reject = Extract<SourceEvent, { kind: 'reject' }>;
const NON_ASCII = /[^\x00-\x7f]/;

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;

/** Windows-1252's characters for the bytes 0x80–0x9f (latin1 has C1 controls there; the five holes stay so). */
const CP1252_HIGH = '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';
const C1 = /[\x80-\x9f]/;
const C1_ALL = /[\x80-\x9f]/g;
const fromCp1252 = (text: string) => (C1.test(text) ? text.replace(C1_ALL, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80]!) : text);

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

/** Bytes per character of an encoding's scanning string (0: UTF-8, variable). */
const widthOf = (encoding: TextEncoding) => (encoding === 'utf-16le' || encoding === 'utf-16be' ? 2 : encoding === 'utf-8' ? 0 : 1);

/** A region's bytes as the scanner's string: UTF-16 code units, or one char per byte. */
function decodeRegion(region: Buffer, encoding: TextEncoding): string {
  if (encoding === 'utf-16le') return region.toString('utf16le');
  if (encoding === 'utf-16be') return Buffer.from(region).swap16().toString('utf16le');
  // Windows-1252 maps each byte to one UTF-16 unit too: indexes stay byte offsets.
  return encoding === 'windows-1252' ? fromCp1252(region.toString('latin1')) : region.toString('latin1');
}

/** Bytes as text to show (a reject's raw), never failing: invalid UTF-8 replaced. */
function displayOf(bytes: Buffer, encoding: TextEncoding): string {
  if (encoding === 'utf-8') return bytes.toString('utf8');
  return decodeRegion(bytes.length % 2 && widthOf(encoding) === 2 ? bytes.subarray(0, bytes.length - 1) : bytes, encoding);
}

function countLineBreaks(text: string): number {
  return text.split(/\r\n|\n|\r/).length - 1;
}

/**
 * Where the quote that is never closed opened in a record's raw text: its offset and field
 * index, or null. The reader's rules: a quote opens a field only at the field's start (after
 * whitespace, when trimming); inside, the escape before a quote (or before any character, when it
 * is not the quote itself) makes it a character, and a single quote closes it.
 */
export function unclosedQuoteOf(raw: string, dialect: Pick<CsvDialect, 'delimiter' | 'quote' | 'escape' | 'trim'> = DEFAULT_DIALECT): { offset: number; field: number } | null {
  const { delimiter, quote, escape, trim } = dialect;
  let inQuote = false;
  let fieldStart = true;
  let field = 0;
  let open = { offset: -1, field: 0 };
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (inQuote) {
      if (escape !== quote && c === escape) {
        i++;
        continue;
      }
      if (c !== quote) continue;
      if (escape === quote && raw[i + 1] === quote) i++;
      else inQuote = false;
      continue;
    }
    if (c === quote && fieldStart) {
      inQuote = true;
      open = { offset: i, field };
    } else if (c === delimiter) {
      field++;
      fieldStart = true;
      continue;
    } else if (c === '\n' || c === '\r') {
      field = 0;
      fieldStart = true;
      continue;
    } else if (trim && fieldStart && (c === ' ' || c === '\t')) continue;
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
function unterminatedQuoteRejects(raw: string, startLine: number, firstRow: number, header: readonly string[] | undefined, quoted: Numbering, dialect: CsvDialect): Reject[] {
  const open = unclosedQuoteOf(raw, dialect);
  const quoteLine = startLine + (open ? countLineBreaks(raw.slice(0, open.offset)) : 0);
  const name = open ? (header?.[open.field] ?? `#${open.field + 1}`) : undefined;
  const where = `line ${quoteLine + quoted.lines} (row ${firstRow + quoted.rows}${name !== undefined ? `, field "${name}"` : ''})`;
  const q = dialect.quote;
  const inside = dialect.escape === q ? `${q}${q}` : `${dialect.escape}${q}`;
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
          `(PostgreSQL's COPY refuses such a file: "unterminated CSV quoted field"). Close the quote (a quote inside a quoted field is written ${inside}) and drop the file again`
        : `inside the quoted field that opens at ${where} and is never closed`,
    raw: text,
  }));
}

/**
 * The record scanner. It is fed regions of the file that end at a line break and never between a
 * CR and its LF (so a region never splits a character, a CRLF or a doubled quote, except at the
 * file's end), each decoded once, and keeps its state across them: a record, or a quoted field,
 * may span regions. Every value is a slice of the region's string; only a field that spans
 * regions or holds an escaped quote is built up. Every record carries its resume point: the byte
 * offset of the input just past its line break, and the lines read through it.
 *
 * A record that spans lines because of a quoted field and then has the wrong number of fields
 * (a stray quote that a later line happens to close) is the quote's line alone: that line is one
 * reject, and the bytes after it are scanned again as records (`replay`), so no line is swallowed.
 */
class CsvScanner {
  /** The line the scan is on, from 1. */
  line = 1;
  header: string[] | undefined;
  /** Bytes to scan again before the rest of the input (after a stray quote's line); the driver takes them. */
  replay: Buffer | null = null;
  #row = 0;
  readonly #out: SourceEvent[] = [];
  readonly #dialect: CsvDialect;
  readonly #encoding: TextEncoding;
  /** Bytes per char of the scanning string; 0: UTF-8 (one per byte where the region is ASCII or read as latin1). */
  readonly #width: number;
  readonly #delimiter: number;
  readonly #quote: number;
  readonly #escape: number;
  readonly #trim: boolean;
  readonly #nulls: ReadonlySet<string> | null;
  /** Neither trimming nor null markers: an unquoted field is its text. */
  readonly #plain: boolean;
  /** Lines still to skip before the header line. */
  #skip: number;
  // The record being read.
  #fields: Field[] = [];
  #recordLine = 1;
  /** Input offset where the record being read starts. */
  #recordStartByte = 0;
  /** Bytes of the record read in earlier regions (it spans them). */
  #held: Buffer[] = [];
  #spans = false;
  // The field being read.
  #atFieldStart = true;
  #inQuotes = false;
  #quoted = false;
  /** Its text so far when it spans regions or holds an escaped quote, else null. */
  #built: string | null = null;
  #builtInvalid = false;
  // The region being scanned.
  #region: Buffer = Buffer.alloc(0);
  #s = '';
  #latin1 = false;
  /** Its chars are its bytes (latin1, or UTF-8 that is all ASCII). */
  #charsAreBytes = true;
  /** A char index of it and the byte index where that char starts, for the next resume point. */
  #mappedChar = 0;
  #mappedByte = 0;

  /** Input bytes before the region being scanned (a BOM that was cut off included). */
  offset = 0;

  /** Whether a record is open (read in part), and how many bytes of it were read. */
  openRecordBytes = 0;

  constructor(
    dialect: CsvDialect,
    encoding: TextEncoding,
    readonly quoted: Numbering = { rows: 0, lines: 0 },
  ) {
    this.#dialect = dialect;
    this.#encoding = encoding;
    this.#width = widthOf(encoding);
    this.#delimiter = dialect.delimiter.charCodeAt(0);
    this.#quote = dialect.quote.charCodeAt(0);
    this.#escape = dialect.escape.charCodeAt(0);
    this.#trim = dialect.trim;
    const nulls = dialect.nullValues.filter((v) => v !== '');
    this.#nulls = nulls.length > 0 ? new Set(nulls) : null;
    this.#plain = !this.#trim && this.#nulls === null;
    this.#skip = typeof dialect.header === 'object' ? dialect.header.skip : 0;
    if (dialect.header === false) this.header = [...(dialect.fields ?? [])];
  }

  /** The columns event of a file without a header line, before anything is scanned. */
  start(): SourceEvent[] {
    return this.header !== undefined ? [{ kind: 'columns', names: this.header, resume: { at: this.offset, bytes: this.offset, lines: 0 } }] : [];
  }

  scan(region: Buffer, final: boolean): SourceEvent[] {
    this.#region = region;
    const width = this.#width;
    this.#latin1 = width === 0 && !isUtf8(region);
    const s = (this.#s = width === 0 ? region.toString(this.#latin1 ? 'latin1' : 'utf8') : decodeRegion(region, this.#encoding));
    const n = s.length;
    this.#charsAreBytes = width !== 0 || this.#latin1 || n === region.length;
    this.#mappedChar = this.#mappedByte = 0;
    const D = this.#delimiter;
    const Q = this.#quote;
    const E = this.#escape;
    let i = 0;
    let recordStart = 0;
    let fieldStart = 0;
    while (this.#skip > 0 && i < n) {
      // Lines before the header line: not records, only counted.
      let k = i;
      while (k < n && s.charCodeAt(k) !== LF && s.charCodeAt(k) !== CR) k++;
      if (k === n) {
        i = n;
        break;
      }
      i = recordStart = fieldStart = s.charCodeAt(k) === CR && k + 1 < n && s.charCodeAt(k + 1) === LF ? k + 2 : k + 1;
      this.line++;
      this.#recordLine = this.line;
      this.#skip--;
      this.#recordStartByte = this.#byteOffsetOf(i);
    }
    while (i < n) {
      if (this.#inQuotes) {
        const j = s.indexOf(this.#dialect.quote, i);
        if (E !== Q) {
          const e = s.indexOf(this.#dialect.escape, i);
          if (e >= 0 && (j < 0 || e < j)) {
            // The escape makes the next character a character, whatever it is.
            this.#countBreaks(i, Math.min(e + 2, n));
            this.#append(i, e);
            this.#append(e + 1, Math.min(e + 2, n));
            i = e + 2;
            continue;
          }
        }
        if (j < 0) {
          this.#countBreaks(i, n);
          this.#append(i, n);
          i = n;
          break;
        }
        this.#countBreaks(i, j);
        if (E === Q && j + 1 < n && s.charCodeAt(j + 1) === Q) {
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
      if (this.#atFieldStart) {
        let c0 = s.charCodeAt(i);
        if (this.#trim && (c0 === SPACE || c0 === TAB)) {
          // Whitespace before an opening quote is not part of the field.
          let k = i;
          while (k < n && (s.charCodeAt(k) === SPACE || s.charCodeAt(k) === TAB)) k++;
          if (k < n && s.charCodeAt(k) === Q) {
            i = k;
            c0 = Q;
          }
        }
        if (c0 === Q) {
          this.#atFieldStart = false;
          this.#inQuotes = true;
          this.#quoted = true;
          if (this.#built === null) this.#built = '';
          i++;
          continue;
        }
      }
      this.#atFieldStart = false;
      let k = i;
      let c = 0;
      for (; k < n; k++) {
        c = s.charCodeAt(k);
        if (c === D || c === LF || c === CR) break;
      }
      if (k === n) {
        // Only the file's last line can end without a line break: its field is taken below.
        i = n;
        break;
      }
      this.#fields.push(this.#take(fieldStart, k));
      if (c === D) {
        this.#atFieldStart = true;
        i = fieldStart = k + 1;
        continue;
      }
      // A line break ends the record.
      const end = c === CR && k + 1 < n && s.charCodeAt(k + 1) === LF ? k + 2 : k + 1;
      if (this.#endRecord(recordStart, k, end)) return this.#replayFrom(end);
      this.line++;
      i = recordStart = fieldStart = end;
    }
    if (final) {
      if (this.#inQuotes) this.#unclosedAtEnd(n);
      else if (this.#skip === 0 && (this.#spans || recordStart < n || this.#fields.length > 0 || this.#built !== null)) {
        this.#fields.push(this.#take(fieldStart, n));
        if (this.#endRecord(recordStart, n, n)) return this.#replayFrom(n);
      }
      this.openRecordBytes = 0;
    } else if (recordStart < n || this.#spans) {
      // The record goes on in the next region (inside a quoted field): keep what was read of it.
      if (!this.#inQuotes && fieldStart < n) this.#append(fieldStart, n);
      const from = Math.max(0, this.#recordStartByte - this.offset);
      // Copied: the region may be a view of a chunk the source reuses.
      const piece = Buffer.from(region.subarray(from));
      this.#held.push(piece);
      this.#spans = true;
      this.openRecordBytes += piece.length;
    }
    this.offset += region.length;
    return this.#out.splice(0);
  }

  /** After a stray quote's line: the rest of the record (in `replay`) and of the piece are scanned again. */
  #replayFrom(end: number): SourceEvent[] {
    const rest = this.#region.subarray(this.#byteOffsetOf(end) - this.offset);
    this.replay = Buffer.concat([this.replay!, rest]);
    this.offset = this.#recordStartByte;
    this.openRecordBytes = 0;
    return this.#out.splice(0);
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

  /** The field that ends at s[to): its text, NULL when unquoted and empty or a null marker (as COPY reads it). */
  #take(from: number, to: number): Field {
    let value: Field;
    if (this.#built === null) {
      if (from === to) value = null;
      else value = this.#latin1 ? fromLatin1(this.#s.slice(from, to)) : this.#s.slice(from, to);
      if (!this.#plain && typeof value === 'string') {
        if (this.#trim) value = value.trim();
        if (value === '' || this.#nulls?.has(value)) value = null;
      }
    } else {
      if (this.#trim && this.#quoted) {
        // After the closing quote: whitespace up to the delimiter is not part of the field.
        let end = to;
        while (end > from && (this.#s.charCodeAt(end - 1) === SPACE || this.#s.charCodeAt(end - 1) === TAB)) end--;
        let start = from;
        while (start < end && (this.#s.charCodeAt(start) === SPACE || this.#s.charCodeAt(start) === TAB)) start++;
        this.#append(start, end);
      } else this.#append(from, to);
      value = this.#builtInvalid ? INVALID_UTF8 : this.#built;
      if (!this.#quoted && typeof value === 'string') {
        if (this.#trim) value = value.trim();
        if (value === '' || this.#nulls?.has(value)) value = null;
      }
    }
    this.#built = null;
    this.#builtInvalid = false;
    this.#quoted = false;
    this.#atFieldStart = true;
    return value;
  }

  #countBreaks(from: number, to: number): void {
    const s = this.#s;
    for (let k = from; k < to; k++) {
      const c = s.charCodeAt(k);
      if (c === LF) this.line++;
      else if (c === CR && !(k + 1 < s.length && s.charCodeAt(k + 1) === LF)) this.line++;
    }
  }

  /** The input's byte offset at char `at` of the region (called with `at` ascending). */
  #byteOffsetOf(at: number): number {
    if (this.#width === 2) return this.offset + 2 * at;
    if (this.#charsAreBytes) return this.offset + at;
    this.#mappedByte += Buffer.byteLength(this.#s.slice(this.#mappedChar, at));
    this.#mappedChar = at;
    return this.offset + this.#mappedByte;
  }

  /**
   * Ends the record whose text is s[recordStart, end) and whose line break ends before `next`.
   * Returns true when the record was a stray quote's line: the scan goes on from `replay`.
   */
  #endRecord(recordStart: number, end: number, next: number): boolean {
    const fields = this.#fields;
    const recordLine = this.#recordLine;
    const spans = this.#spans;
    const held = this.#held;
    this.#fields = [];
    this.#spans = false;
    this.#held = [];
    this.openRecordBytes = 0;
    this.#recordLine = this.line + 1;
    const at = this.#byteOffsetOf(next);
    const start = this.#recordStartByte;
    this.#recordStartByte = at;
    // A blank line (one unquoted empty field) is skipped.
    if (fields.length === 1 && fields[0] === null && !spans && recordStart === end) return false;
    const resume: ResumePoint = { at, bytes: at, lines: this.line };
    if (this.header === undefined) {
      const bad = fields.indexOf(INVALID_UTF8);
      if (bad >= 0) {
        throw new UnreadableFileError(
          UnreadableReason.wrongEncoding,
          `header line ${recordLine}: column ${bad + 1} is not valid UTF-8: the file is read as UTF-8; if it is written in another encoding, set the table's "format": { "encoding": "windows-1252" } (or "latin1", "utf-16le", "utf-16be")`,
          { line: recordLine, field: `#${bad + 1}` },
        );
      }
      this.header = fields.map((name) => (name as TextValue) ?? '');
      this.#out.push({ kind: 'columns', names: this.header, resume });
      return false;
    }
    const row = ++this.#row;
    if (fields.length !== this.header.length) {
      if (this.line > recordLine) {
        // A quoted field took in line breaks and the record does not fit: the quote was stray.
        // Its line alone is the reject; the lines after it are read again as records.
        const bytes = this.#recordBytesOf(held, start, at);
        const lineEnd = firstLineEnd(bytes, this.#width);
        const quoteAt = start + lineEnd;
        this.#out.push({
          kind: 'reject',
          row,
          line: recordLine,
          reason: `expected ${this.header.length} fields (as the header), got ${fields.length}: a quote on this line opens a field that a later line closes; this line is rejected and the lines after it are read on their own`,
          raw: displayOf(bytes.subarray(0, lineEnd).subarray(0, trimLineBreak(bytes.subarray(0, lineEnd), this.#width)), this.#encoding),
          resume: { at: quoteAt, bytes: quoteAt, lines: recordLine },
        });
        this.line = recordLine + 1;
        this.#recordLine = this.line;
        this.#recordStartByte = quoteAt;
        this.replay = bytes.subarray(lineEnd);
        return true;
      }
      this.#out.push({ kind: 'reject', row, line: recordLine, reason: `expected ${this.header.length} fields (as the header), got ${fields.length}`, raw: this.#rawOf(held, start, at), resume });
      return false;
    }
    const bad = fields.indexOf(INVALID_UTF8);
    if (bad >= 0) {
      this.#out.push({
        kind: 'reject',
        row,
        line: recordLine,
        reason: `field "${this.header[bad]}" is not valid UTF-8 (the file is read as UTF-8; if it is written in another encoding, set the table's "format": { "encoding": "windows-1252" } or "latin1")`,
        raw: this.#rawOf(held, start, at),
        resume,
      });
      return false;
    }
    this.#out.push({ kind: 'row', row, line: recordLine, values: fields as TextValue[], resume });
    return false;
  }

  /** A record's text as a reject shows it, without its line break. */
  #rawOf(held: Buffer[], start: number, at: number): string {
    const bytes = this.#recordBytesOf(held, start, at);
    return displayOf(bytes.subarray(0, trimLineBreak(bytes, this.#width)), this.#encoding);
  }

  /** A whole record's bytes: `held` from earlier regions, then this region's up to input offset `to`. */
  #recordBytesOf(held: Buffer[], start: number, to: number): Buffer {
    const from = Math.max(0, start - this.offset);
    const here = this.#region.subarray(from, to - this.offset);
    return held.length > 0 ? Buffer.concat([...held, here]) : Buffer.from(here);
  }

  #unclosedAtEnd(end: number): void {
    const bytes = this.#recordBytesOf(this.#held, this.#recordStartByte, this.#byteOffsetOf(end));
    this.#held = [];
    const raw = displayOf(bytes, this.#encoding);
    if (this.header === undefined) {
      throw new UnreadableFileError(UnreadableReason.badHeader, `header: a quoted field opens at line ${this.#recordLine} and is never closed`, { line: this.#recordLine });
    }
    const rejects = unterminatedQuoteRejects(raw.replace(/(?:\r\n|\n|\r)$/, ''), this.#recordLine, this.#row + 1, this.header, this.quoted, this.#dialect);
    this.#row += rejects.length;
    this.#out.push(...rejects);
  }

  /** The line where the record being read starts (or the next one starts). */
  get recordLine(): number {
    return this.#spans || !this.#atFieldStart || this.#fields.length > 0 ? this.#recordLine : this.line;
  }
}

/** Code unit `u` of a buffer in an encoding of `width` bytes per unit (2: UTF-16, little-endian unless `be`). */
function unitAt(buffer: Buffer, i: number, width: number, be: boolean): number {
  if (width !== 2) return buffer[i]!;
  return be ? (buffer[i]! << 8) | buffer[i + 1]! : buffer[i]! | (buffer[i + 1]! << 8);
}

/** Just past the first line break of a record's bytes (CRLF as one). */
function firstLineEnd(bytes: Buffer, width: number, be = false): number {
  const w = width === 2 ? 2 : 1;
  for (let i = 0; i + w <= bytes.length; i += w) {
    const u = unitAt(bytes, i, width, be);
    if (u === LF) return i + w;
    if (u === CR) return i + w < bytes.length && unitAt(bytes, i + w, width, be) === LF ? i + 2 * w : i + w;
  }
  return bytes.length;
}

/** The length of a line's bytes without its line break. */
function trimLineBreak(line: Buffer, width: number): number {
  const w = width === 2 ? 2 : 1;
  let end = line.length;
  while (end >= w && (line[end - w] === LF || line[end - w] === CR || (w === 2 && (line[end - 1] === LF || line[end - 1] === CR)))) end -= w;
  return end;
}

const BOMS = {
  'utf-8': [0xef, 0xbb, 0xbf],
  'utf-16le': [0xff, 0xfe],
  'utf-16be': [0xfe, 0xff],
} as const;

/** The encoding a byte order mark at the start of `head` names, or null. */
export function encodingOfBom(head: Uint8Array): keyof typeof BOMS | null {
  for (const [encoding, bom] of Object.entries(BOMS) as [keyof typeof BOMS, readonly number[]][]) {
    if (head.length >= bom.length && bom.every((b, i) => head[i] === b)) return encoding;
  }
  return null;
}

/**
 * The encoding a file is read in: the configured one, or with `"auto"` the one its BOM names, else
 * UTF-8. A BOM that names another encoding than the configured one refuses the file.
 */
export function resolveEncoding(configured: TextEncoding | 'auto', head: Uint8Array): TextEncoding {
  const bom = encodingOfBom(head);
  if (configured === 'auto') return bom ?? 'utf-8';
  if (bom && bom !== configured) {
    throw new UnreadableFileError(
      UnreadableReason.wrongEncoding,
      `the file starts with a ${bom.toUpperCase()} byte order mark, but the table's "format" says "encoding": "${configured}": set "encoding": "${bom}" (or "auto", which follows the byte order mark)`,
    );
  }
  return configured;
}

/** A line break code unit (LF or CR) at `i`, in units of `width` (1, or 2 for UTF-16) aligned to the buffer's start. */
function isBreakAt(buffer: Buffer, i: number, width: number, be: boolean): boolean {
  const u = unitAt(buffer, i, width, be);
  return u === LF || u === CR;
}

/** Index of the last line break unit in the buffer at or before `at`, or -1. */
function lastLineBreak(buffer: Buffer, width: number, be: boolean, at = buffer.length - 1): number {
  if (at < 0) return -1;
  if (width !== 2) return Math.max(buffer.lastIndexOf(LF, at), buffer.lastIndexOf(CR, at));
  for (let i = at - (at % 2); i >= 0; i -= 2) if (isBreakAt(buffer, i, width, be)) return i;
  return -1;
}

/** Index of the first line break unit at or after `from`, or -1. */
function nextLineBreak(buffer: Buffer, width: number, be: boolean, from: number): number {
  if (width !== 2) {
    const candidates = [buffer.indexOf(LF, from), buffer.indexOf(CR, from)].filter((i) => i >= 0);
    return candidates.length ? Math.min(...candidates) : -1;
  }
  for (let i = from + (from % 2); i + 1 < buffer.length; i += 2) if (isBreakAt(buffer, i, width, be)) return i;
  return -1;
}

/** Index just past the line break at `i`: a CRLF is one line break, never cut in two. */
function pastLineBreak(buffer: Buffer, i: number, width: number, be: boolean): number {
  const w = width === 2 ? 2 : 1;
  return unitAt(buffer, i, width, be) === CR && i + w < buffer.length && unitAt(buffer, i + w, width, be) === LF ? i + 2 * w : i + w;
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
 * breaks; the events of each piece, handed on before the next is scanned (so that they too die
 * young). Bytes the scanner gives back to scan again (after a stray quote's line) come first.
 */
function* scanInPieces(scanner: CsvScanner, region: Buffer, width: number, be: boolean, final = false): Generator<SourceEvent[]> {
  for (let from = 0; from < region.length || (final && from === 0); ) {
    let to = region.length;
    if (to - from > REGION_BYTES) {
      const cut = lastLineBreak(region, width, be, from + REGION_BYTES - 1);
      // No line break in the window (a long record): up to the next one.
      const at = cut >= from ? cut : nextLineBreak(region, width, be, from);
      to = at < 0 ? region.length : pastLineBreak(region, at, width, be);
    }
    const events = scanner.scan(region.subarray(from, to), final && to === region.length);
    if (events.length > 0) yield events;
    if (scanner.replay) {
      const replay = scanner.replay;
      scanner.replay = null;
      yield* scanInPieces(scanner, Buffer.concat([replay, region.subarray(to)]), width, be, final);
      return;
    }
    if (to === region.length) return;
    from = to;
  }
}

/** The input in chunks of whole code units (UTF-16: an even number of bytes). */
async function* wholeUnits(input: AsyncIterable<Uint8Array>, width: number): AsyncGenerator<Buffer> {
  let odd: Buffer | null = null;
  for await (const chunk of input) {
    let buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (width !== 2) {
      yield buffer;
      continue;
    }
    if (odd) {
      buffer = Buffer.concat([odd, buffer]);
      odd = null;
    }
    if (buffer.length % 2) {
      odd = Buffer.from(buffer.subarray(buffer.length - 1));
      buffer = buffer.subarray(0, buffer.length - 1);
    }
    if (buffer.length > 0) yield buffer;
  }
  if (odd) yield odd;
}

/**
 * Streams a delimited text file (RFC 4180 CSV by default, as PostgreSQL's COPY CSV reads it;
 * the delimiter, quote, escape, null markers, trimming, header and encoding of `dialect`):
 * quoted fields with newlines and escaped quotes, CRLF, LF or CR line ends, a BOM, blank lines
 * skipped. A row with the wrong number of fields or invalid UTF-8 is yielded as a reject and the
 * file goes on, and so is each line after a quoted field that is never closed, and the line of
 * a stray quote that a later line closes (the lines after it are read as records). No header at
 * all is an unreadable file. Yields the events of each piece of the file read, in file order.
 *
 * @example for await (const events of readCsvEvents(stream)) for (const e of events) …
 */
export async function* readCsvEvents(input: AsyncIterable<Uint8Array>, options: CsvOptions = {}): AsyncGenerator<SourceEvent[]> {
  const limit = options.maxRecordBytes ?? 64 * 1024 * 1024;
  const dialect: CsvDialect = { ...DEFAULT_DIALECT, ...options.dialect };
  if (options.dialect?.quote !== undefined && options.dialect.escape === undefined) dialect.escape = dialect.quote;
  const resumed = options.resumed;
  // The encoding: the configured one, else what the first bytes' BOM says (a resumed read is told).
  const peeked: Buffer[] = [];
  const iterator = input[Symbol.asyncIterator]();
  let encoding: TextEncoding;
  if (dialect.encoding === 'auto' || !resumed) {
    let head = Buffer.alloc(0);
    while (head.length < 3) {
      const next = await iterator.next();
      if (next.done) break;
      const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      peeked.push(chunk);
      head = Buffer.concat([head, chunk]);
    }
    encoding = resumed && (resumed.prefixBytes === 0) ? (dialect.encoding === 'auto' ? 'utf-8' : dialect.encoding) : resolveEncoding(dialect.encoding, head);
  } else encoding = dialect.encoding;
  const rest = (async function* () {
    yield* peeked;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  })();
  const width = widthOf(encoding);
  const be = encoding === 'utf-16be';
  const unit = width === 2 ? 2 : 1;
  const scanner = new CsvScanner(dialect, encoding, resumed && { rows: resumed.rows, lines: resumed.lines });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let first = !(resumed && resumed.prefixBytes === 0);
  const started = scanner.start();
  if (started.length > 0) yield started;
  const regionOf = (parts: Buffer[]) => {
    let region = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (first) {
      first = false;
      const bom = encodingOfBom(region);
      if (bom === encoding) {
        const length = BOMS[bom].length;
        region = region.subarray(length);
        scanner.offset = length;
      }
    }
    return region;
  };
  /** Scans what of `buffer` ends at a line break and keeps the rest; `endsRecord`: a record ends at its end. */
  function* feed(buffer: Buffer, endsRecord: boolean): Generator<SourceEvent[]> {
    let last = lastLineBreak(buffer, width, be);
    // A CR that ends the chunk may be the first half of a CRLF: the region ends before it.
    if (!endsRecord && last === buffer.length - unit && unitAt(buffer, last, width, be) === CR) last = lastLineBreak(buffer, width, be, last - unit);
    if (last < 0 || (first && !endsRecord && pendingBytes + last + unit < 3)) {
      pending.push(buffer);
      pendingBytes += buffer.length;
    } else {
      const end = last + unit;
      pending.push(buffer.subarray(0, end));
      const region = regionOf(pending);
      pending = end < buffer.length ? [buffer.subarray(end)] : [];
      pendingBytes = buffer.length - end;
      yield* scanInPieces(scanner, region, width, be);
    }
  }
  // A resumed read's prefix is fed on its own, so that its last line break is not joined to the next byte.
  let prefixLeft = resumed?.prefixBytes ?? 0;
  for await (const chunk of wholeUnits(rest, width)) {
    let buffer = chunk;
    if (prefixLeft > 0) {
      const head = buffer.subarray(0, prefixLeft);
      prefixLeft -= head.length;
      buffer = buffer.subarray(head.length);
      yield* feed(head, prefixLeft === 0);
    }
    if (buffer.length > 0) yield* feed(buffer, false);
    if (scanner.openRecordBytes + pendingBytes > limit) {
      const line = scanner.recordLine + (resumed?.lines ?? 0);
      throw new UnreadableFileError(
        UnreadableReason.wrongFormat,
        `no end of record within ${limit} bytes from line ${line}: a quoted field that opens there and is never closed, or not a delimited text file`,
        { line },
      );
    }
  }
  if (options.partial) return;
  yield* scanInPieces(scanner, regionOf(pending.length > 0 ? pending : [Buffer.alloc(0)]), width, be, true);
  if (scanner.header === undefined) throw new UnreadableFileError(UnreadableReason.empty, 'empty file: no header row');
}

/**
 * Where a text in `encoding` may be cut into blocks: just past its last line break that has at
 * least one code unit after it (so a CR is never cut from its LF, and the unit after the cut is
 * known), or -1 when it has none. A cut is not always a record's end (a quoted field may hold
 * line breaks): whoever reads from it must check that a record ends there.
 */
export function lastCutOf(buffer: Buffer, encoding: TextEncoding): number {
  const width = widthOf(encoding);
  const be = encoding === 'utf-16be';
  const unit = width === 2 ? 2 : 1;
  for (let at = buffer.length - 2 * unit; at >= 0; ) {
    const i = lastLineBreak(buffer, width, be, at);
    if (i < 0) return -1;
    const past = pastLineBreak(buffer, i, width, be);
    if (past < buffer.length) return past;
    at = i - unit;
  }
  return -1;
}

/** `readCsvEvents`, one event at a time. */
export async function* readCsv(input: AsyncIterable<Uint8Array>, options: CsvOptions = {}): AsyncGenerator<SourceEvent> {
  for await (const events of readCsvEvents(input, options)) yield* events;
}
