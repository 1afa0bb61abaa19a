import { isUtf8 } from 'node:buffer';
import type { SourceEvent } from './records.ts';
import { MAX_REJECT_RAW_CHARS } from './records.ts';
import { jsonKindOf, keepNumberText } from './values.ts';
import { JsonObjectColumns } from './json-objects.ts';

export interface NdjsonOptions {
  /** A longer line is rejected without being held in memory. */
  maxLineBytes?: number;
  /** A resumed read: the keys the earlier invocations saw, in their order (the columns keep their indexes). */
  columns?: readonly string[];
}

interface Line {
  bytes: Buffer;
  line: number;
  /** Set when the line was longer than the limit; `bytes` then holds only its start. */
  tooLong: boolean;
  /** Input bytes consumed through the line's LF. */
  end: number;
}

/** Splits a byte stream on LF without decoding it; memory is bounded by `maxLineBytes`. */
async function* splitLines(input: AsyncIterable<Uint8Array>, maxLineBytes: number): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let tooLong = false;
  let line = 0;
  let consumed = 0;
  const take = (tail: Buffer, end: number): Line => {
    const bytes = parts.length === 0 ? tail : Buffer.concat([...parts, tail]);
    const result = { bytes, line: ++line, tooLong, end };
    parts = [];
    partBytes = 0;
    tooLong = false;
    return result;
  };
  for await (const chunk of input) {
    const buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    for (let end = buffer.indexOf(10, start); end >= 0; end = buffer.indexOf(10, start)) {
      const piece = buffer.subarray(start, end);
      yield take(tooLong ? Buffer.alloc(0) : piece, consumed + end + 1);
      start = end + 1;
    }
    consumed += buffer.length;
    if (start < buffer.length) {
      const rest = buffer.subarray(start);
      if (!tooLong) {
        if (partBytes + rest.length > maxLineBytes) {
          tooLong = true;
          parts = [Buffer.from(Buffer.concat([...parts, rest]).subarray(0, MAX_REJECT_RAW_CHARS))];
        } else {
          // Copy: the source may reuse its chunk buffers.
          parts.push(Buffer.from(rest));
          partBytes += rest.length;
        }
      }
    }
  }
  if (parts.length > 0 || tooLong) yield take(Buffer.alloc(0), consumed);
}

function rawOf(bytes: Buffer): string {
  return bytes.subarray(0, MAX_REJECT_RAW_CHARS * 4).toString('utf8');
}

function isBlank(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return false;
  return true;
}

/**
 * Streams NDJSON / JSON Lines: one JSON object per line, blank lines skipped, CRLF accepted.
 * Objects may differ in their keys: the columns are every key seen so far (a `columns` event
 * with `extends` announces new ones), and a row marks the keys its object did not carry as
 * absent, which is not NULL (an explicit `null` is). Invalid JSON, non-objects and invalid
 * UTF-8 are rejected, one line each.
 */
export async function* readNdjson(input: AsyncIterable<Uint8Array>, options: NdjsonOptions = {}): AsyncGenerator<SourceEvent> {
  const maxLineBytes = options.maxLineBytes ?? 64 * 1024 * 1024;
  let row = 0;
  const columns = new JsonObjectColumns(options.columns);
  for await (const { bytes: lineBytes, line, tooLong, end } of splitLines(input, maxLineBytes)) {
    let bytes = lineBytes;
    if (line === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    if (!tooLong && isBlank(bytes)) continue;
    row++;
    const resume = { at: end, bytes: end, lines: line };
    const reject = (reason: string): SourceEvent => ({ kind: 'reject', row, line, reason, raw: rawOf(bytes), resume });
    if (tooLong) {
      yield reject(`line longer than ${maxLineBytes} bytes`);
      continue;
    }
    if (!isUtf8(bytes)) {
      yield reject('not valid UTF-8');
      continue;
    }
    let value: unknown;
    const text = bytes.toString('utf8');
    try {
      value = JSON.parse(text, keepNumberText);
    } catch (error) {
      yield reject(`invalid JSON: ${(error as Error).message}`);
      continue;
    }
    if (jsonKindOf(value) !== 'object') {
      yield reject(`not a JSON object (got ${jsonKindOf(value)})`);
      continue;
    }
    yield* columns.eventsOf(value as Record<string, unknown>, row, line, resume, text);
  }
}
