import { isUtf8 } from 'node:buffer';
import { UnreadableFileError, UnreadableReason } from './errors.ts';
import { JsonObjectColumns } from './json-objects.ts';
import { MAX_REJECT_RAW_CHARS, type SourceEvent } from './records.ts';
import { jsonKindOf, keepNumberText } from './values.ts';

export interface JsonArrayOptions {
  /** A longer element is rejected without being held in memory. */
  maxElementBytes?: number;
  /**
   * A resumed read: the input starts just after an element of the array (at a resume point), and
   * these are the keys the earlier invocations saw, in their order.
   */
  resumed?: { columns: readonly string[] };
}

const LF = 0x0a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const isSpace = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;

/**
 * Streams a JSON file that is one top-level array of objects (what APIs export), one element at
 * a time: never parsed whole, memory bounded by the largest element. Each element is a row, the
 * columns the keys of the objects (they may differ, as in NDJSON: see `JsonObjectColumns`); an
 * element that is not an object, not valid JSON or not UTF-8 is a counted reject. Rows are
 * numbered by element, lines by where the element starts. Every element's resume point is just
 * after it, where a resumed read starts (`resumed`).
 */
export async function* readJsonArray(input: AsyncIterable<Uint8Array>, options: JsonArrayOptions = {}): AsyncGenerator<SourceEvent[]> {
  const maxBytes = options.maxElementBytes ?? 64 * 1024 * 1024;
  const columns = new JsonObjectColumns(options.resumed?.columns);
  // before: before the '['; element: an element or ']' next; after: ',' or ']' next; end: after ']'.
  let state: 'before' | 'element' | 'after' | 'end' = options.resumed ? 'after' : 'before';
  let offset = 0;
  let line = 1;
  let row = 0;
  // The element being read.
  let parts: Buffer[] = [];
  let partBytes = 0;
  let tooLong = false;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let startLine = 0;
  let scalar = false;
  let trailing = false;
  const events: SourceEvent[] = [];

  const finish = (endOffset: number) => {
    row++;
    const resume = { at: endOffset, bytes: endOffset, lines: line - 1 };
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    parts = [];
    partBytes = 0;
    const raw = () => bytes.subarray(0, MAX_REJECT_RAW_CHARS * 4).toString('utf8');
    const reject = (reason: string) => events.push({ kind: 'reject', row, line: startLine, reason, raw: raw(), resume });
    if (tooLong) {
      tooLong = false;
      return reject(`array element ${row} is longer than ${maxBytes} bytes`);
    }
    if (!isUtf8(bytes)) return reject('not valid UTF-8');
    const text = bytes.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text, keepNumberText);
    } catch (error) {
      return reject(`invalid JSON: ${(error as Error).message}`);
    }
    if (jsonKindOf(value) !== 'object') {
      return reject(`array element ${row} is not a JSON object (got ${jsonKindOf(value)})`);
    }
    events.push(...columns.eventsOf(value as Record<string, unknown>, row, startLine, resume, text));
  };

  for await (const chunk of input) {
    const buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let i = 0;
    let elementStart = -1;
    const keep = (to: number) => {
      if (elementStart < 0 || to <= elementStart) return;
      const piece = buffer.subarray(elementStart, to);
      if (tooLong) return;
      if (partBytes + piece.length > maxBytes) {
        tooLong = true;
        parts = [Buffer.from(Buffer.concat([...parts, piece]).subarray(0, MAX_REJECT_RAW_CHARS))];
        return;
      }
      parts.push(Buffer.from(piece));
      partBytes += piece.length;
    };
    if (state === 'element' && (depth > 0 || scalar)) elementStart = 0;
    while (i < buffer.length) {
      const b = buffer[i]!;
      if (depth > 0 || scalar) {
        // Inside an element: find where it ends.
        if (inString) {
          if (escaped) escaped = false;
          else if (b === BACKSLASH) escaped = true;
          else if (b === QUOTE) inString = false;
          else if (b === LF) line++;
          i++;
          continue;
        }
        if (b === QUOTE) inString = true;
        else if (b === 0x7b || b === 0x5b) depth++;
        else if (b === 0x7d || b === 0x5d) {
          if (depth === 0) {
            // A scalar ended by the array's ']'.
            keep(i);
            scalar = false;
            elementStart = -1;
            finish(offset + i);
            state = 'after';
            continue;
          }
          depth--;
        } else if (depth === 0 && (b === 0x2c || isSpace(b))) {
          keep(i);
          scalar = false;
          elementStart = -1;
          finish(offset + i);
          state = 'after';
          continue;
        } else if (b === LF) line++;
        i++;
        if (depth === 0 && !scalar) {
          keep(i);
          elementStart = -1;
          finish(offset + i);
          state = 'after';
        }
        continue;
      }
      if (b === LF) line++;
      if (isSpace(b) || (state === 'before' && offset + i < 3 && (b === 0xef || b === 0xbb || b === 0xbf))) {
        i++;
        continue;
      }
      if (state === 'before') {
        if (b !== 0x5b) throw new UnreadableFileError(UnreadableReason.wrongFormat, 'not a JSON array: the file does not start with "["');
        state = 'element';
      } else if (state === 'after') {
        if (b === 0x2c) state = 'element';
        else if (b === 0x5d) state = 'end';
        else {
          // Junk between elements: it is read as an element of its own (and rejected).
          state = 'element';
          continue;
        }
      } else if (state === 'end') {
        trailing = true;
      } else if (b === 0x5d) state = 'end';
      else {
        elementStart = i;
        startLine = line;
        if (b === 0x7b || b === 0x5b) depth = 1;
        else {
          scalar = true;
          if (b === QUOTE) inString = true;
        }
      }
      i++;
    }
    keep(buffer.length);
    offset += buffer.length;
    if (events.length > 0) yield events.splice(0);
  }
  if (depth > 0 || scalar) {
    if (scalar && !inString) finish(offset);
    else {
      tooLong = false;
      row++;
      const bytes = Buffer.concat(parts);
      events.push({ kind: 'reject', row, line: startLine, reason: `array element ${row} is cut off: the file ends inside it (a truncated file?)`, raw: bytes.subarray(0, MAX_REJECT_RAW_CHARS * 4).toString('utf8') });
    }
  }
  if (trailing) {
    row++;
    events.push({ kind: 'reject', row, line, reason: 'text after the end of the array (the file holds more than one JSON value)', raw: '' });
  }
  if (events.length > 0) yield events.splice(0);
  if (state === 'before') throw new UnreadableFileError(UnreadableReason.empty, 'empty file: no JSON array');
}
