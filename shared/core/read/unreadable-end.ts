import { UnreadableFileError, UnreadableReason } from './errors.ts';
import type { SourceEvent } from './records.ts';

/**
 * Where a compressed or Parquet file stopped being readable after some of its rows were read:
 * the decompressor's or the Parquet reader's message (never row values), and the last record
 * read before it. The rows before it are good rows and apply (their batches may be applied
 * already: every file streams its batches); the file is then complete, with its end unreadable.
 */
export interface UnreadableEnd {
  code: UnreadableReason;
  /** What the reader said and where it found the damage (bytes of the file and decompressed, a Parquet row group), and the rows read before it. */
  message: string;
  /** The last row read before the damage (0: none in this file), and its line. */
  afterRow: number;
  afterLine: number;
}

/** Damage a reader finds while reading: corrupt or truncated gzip, zstd or bzip2 data, a Parquet row group that does not decode. */
export function isReadDamage(error: unknown): error is UnreadableFileError {
  return error instanceof UnreadableFileError && (error.code === UnreadableReason.corruptGzip || error.code === UnreadableReason.corruptCompressed || error.code === UnreadableReason.corruptParquet);
}

/**
 * Watches a reader's events for damage in the file: the events pass through unchanged; damage
 * found after a row was read (in this read, or in an earlier invocation of the file) ends the events instead of failing them, and `end` then says where and why. Damage
 * before any row (a corrupt header, a Parquet footer) is thrown as before: the whole file is
 * unreadable and is moved aside.
 *
 * @example const watch = new EndWatch(from && from.position); for await (const e of watch.events(opened.events)) …; if (watch.end) …
 */
export class EndWatch {
  #row: number;
  #line: number;
  #sawRow: boolean;
  #end: UnreadableEnd | null = null;
  /** `before`: where an earlier invocation of the file stopped (a continued read), else null. */
  constructor(before: { row: number; lines: number } | null) {
    this.#row = before?.row ?? 0;
    this.#line = before?.lines ?? 0;
    this.#sawRow = this.#row > 0;
  }

  /** Set once the events ended at damage. */
  get end(): UnreadableEnd | null {
    return this.#end;
  }

  async *events(input: AsyncIterable<SourceEvent | readonly SourceEvent[]>): AsyncGenerator<SourceEvent | readonly SourceEvent[]> {
    try {
      for await (const item of input) {
        for (const event of Array.isArray(item) ? (item as readonly SourceEvent[]) : [item as SourceEvent]) {
          if (event.kind === 'columns') continue;
          this.#sawRow = true;
          this.#row = event.row;
          this.#line = event.line;
        }
        yield item;
      }
    } catch (error) {
      if (!isReadDamage(error) || !this.#sawRow) throw error;
      this.#end = { code: error.code, message: unreadableEndMessage(error.message, this.#row, this.#line), afterRow: this.#row, afterLine: this.#line };
    }
  }
}

/**
 * The receipt's reason for a file whose end is unreadable; the reader's message carries no row
 * values. A compressed file cut short (the common case: an upload or copy that did not finish)
 * decodes exactly up to the cut, so the rows before it are the file's own. A compressed file
 * corrupt inside is another matter: gzip and zstd check their data only at its end (a checksum)
 * or where the damage breaks the coding, so rows decoded from the damaged bytes before that may
 * have been read as rows, and the reason says so. A Parquet row group decodes on its own: the
 * row groups before a corrupt one are the file's own rows.
 */
export function unreadableEndMessage(readerMessage: string, afterRow: number, afterLine: number): string {
  const loaded = afterRow > 0 ? `rows 1 to ${afterRow} (through line ${afterLine}) were read and loaded` : 'no row of it was read';
  if (/unexpected end|premature end|truncated/i.test(readerMessage)) return `the file is cut short: ${readerMessage}; ${loaded}, the rest of the file was not`;
  if (/^row group \d+/.test(readerMessage)) return `the end of the file is unreadable: ${readerMessage}; ${loaded}, the rest of the file was not`;
  return (
    `the file's data is corrupt: ${readerMessage}; ${loaded}, the rest of the file was not. ` +
    'The damage can lie before where it was found (a checksum is checked at the end of the data): rows decoded from damaged bytes that still looked like rows were loaded too'
  );
}

/** What to do about a file whose end is unreadable (status, receipts, docs/operations.md). */
export function fixForUnreadableEnd(): string {
  return (
    'get the file again whole (re-export or re-copy it; gzip -t, zstd -t or bzip2 -t checks a compressed one) and drop it: the rows already loaded come out unchanged, the rest load. ' +
    'When the reason says the data is corrupt (not cut short), also check the rows this copy loaded against the good one'
  );
}
