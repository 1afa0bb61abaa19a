import type { TextValue } from './read/values.ts';

const FIRST_SEGMENT = 1024;
const MAX_SEGMENT = 64 * 1024;
const COMMA_BYTE = new Uint8Array([0x2c]);

/** A column's values as JSON text (`"a",null,"b"`, without the brackets), in pieces: what a batch object holds. */
export interface JsonText {
  parts(): Buffer[];
  /** The values back (tests, and readers of a chunk). */
  values(): TextValue[];
}

/**
 * The JSON text of one column's values (`"a",null,"b\"c"`, as `JSON.stringify` writes them),
 * built as rows arrive, in buffers outside the JavaScript heap: a buffered row then costs the
 * garbage collector nothing, where its strings would be copied and promoted until the chunk is
 * cut.
 */
export class JsonColumn implements JsonText {
  readonly #segments: Buffer[] = [];
  #buffer: Buffer = Buffer.alloc(0);
  #pos = 0;
  /** Bytes in `#segments`. */
  #flushed = 0;
  #count = 0;
  #next = FIRST_SEGMENT;

  /** Room for `bytes` more in the current segment, else a new one (what is written is never moved). */
  #ensure(bytes: number): void {
    if (this.#pos + bytes <= this.#buffer.length) return;
    if (this.#pos > 0) {
      this.#segments.push(this.#buffer.subarray(0, this.#pos));
      this.#flushed += this.#pos;
    }
    this.#buffer = Buffer.allocUnsafe(Math.max(this.#next, bytes));
    this.#next = Math.min(MAX_SEGMENT, this.#next * 2);
    this.#pos = 0;
  }

  push(value: TextValue): void {
    const comma = this.#count++ > 0;
    if (value === null) {
      this.#ensure(5);
      const b = this.#buffer;
      let p = this.#pos;
      if (comma) b[p++] = 0x2c;
      b[p] = 0x6e;
      b[p + 1] = 0x75;
      b[p + 2] = 0x6c;
      b[p + 3] = 0x6c;
      this.#pos = p + 4;
      return;
    }
    const n = value.length;
    this.#ensure(n + 3);
    const b = this.#buffer;
    let p = this.#pos;
    if (comma) b[p++] = 0x2c;
    b[p++] = 0x22;
    let i = 0;
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) break;
      b[p++] = c;
    }
    if (i === n) {
      b[p++] = 0x22;
      this.#pos = p;
      return;
    }
    // An escape or a non-ASCII character: JSON.stringify's own text, written anew.
    const json = JSON.stringify(value);
    this.#ensure(Buffer.byteLength(json) + 1);
    let q = this.#pos;
    if (comma) this.#buffer[q++] = 0x2c;
    this.#pos = q + this.#buffer.write(json, q, 'utf8');
  }

  /**
   * Appends `count` values already written as JSON text (`"a",null`, without a leading comma, as
   * an encoded block holds them): the same text as pushing those values. Fills the current
   * segment before it starts a new one, so copied runs leave no gaps behind.
   */
  pushText(text: Uint8Array, count: number): void {
    if (count === 0) return;
    if (this.#count > 0) this.#write(COMMA_BYTE);
    this.#count += count;
    this.#write(text);
  }

  /** Appends another column's values (the same text as pushing them here). */
  append(other: JsonColumn): void {
    if (other.#count === 0) return;
    if (this.#count > 0) this.#write(COMMA_BYTE);
    this.#count += other.#count;
    for (const part of other.parts()) this.#write(part);
  }

  /** Raw bytes after what is written, across segments. */
  #write(text: Uint8Array): void {
    let from = 0;
    while (from < text.length) {
      if (this.#pos === this.#buffer.length) this.#ensure(Math.min(text.length - from, MAX_SEGMENT));
      const n = Math.min(this.#buffer.length - this.#pos, text.length - from);
      this.#buffer.set(n === text.length ? text : text.subarray(from, from + n), this.#pos);
      this.#pos += n;
      from += n;
    }
  }

  /**
   * Empties the column to be written again, keeping its current buffer: a block worker writes
   * one block after another into the same columns instead of leaving each block's buffers to the
   * garbage collector (what `parts()` returned before is overwritten).
   */
  reset(): void {
    this.#segments.length = 0;
    this.#flushed = 0;
    this.#pos = 0;
    this.#count = 0;
  }

  /** Bytes written so far (the text's length, commas included). */
  get byteLength(): number {
    return this.#flushed + this.#pos;
  }

  /** The text so far, in pieces. */
  parts(): Buffer[] {
    return this.#pos > 0 ? [...this.#segments, this.#buffer.subarray(0, this.#pos)] : [...this.#segments];
  }

  /** The values back (tests, and readers of a chunk). */
  values(): TextValue[] {
    return JSON.parse(`[${Buffer.concat(this.parts()).toString('utf8')}]`) as TextValue[];
  }
}

