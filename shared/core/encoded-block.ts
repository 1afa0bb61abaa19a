import { JsonColumn, type JsonText } from './json-column.ts';
import type { TextValue } from './read/values.ts';

/**
 * One partition's rows of a block, as the batch objects hold them: each column's values as JSON
 * text (`"a",null,"b"`, written by `JsonColumn`), the columns one after another in `bytes`.
 */
export interface EncodedPartition {
  rows: number;
  bytes: Uint8Array;
  /** Where each column's text starts in `bytes` (one entry per column, and one past the last column's end). */
  columnStarts: number[];
  /** `ends[c * rows + r]`: where row r's value ends in column c's text (an offset into that text). */
  ends: Uint32Array;
}

export const RecordKind = { row: 0, reject: 1 } as const;

/**
 * A block of a delimited text file read, partitioned and JSON-encoded (by a worker thread): its
 * records (rows and rejects) in file order. Numbers are counted from the block's start: row 1 is
 * its first record, an offset is from its first byte, lines are those after its start; the reader
 * of the block adds where the block starts in the file.
 */
export interface EncodedBlock {
  count: number;
  kinds: Uint8Array;
  rows: Int32Array;
  /** A row's partition (0 for a reject). */
  partitions: Uint16Array;
  /** A row's estimated JSON bytes, as the chunker counts them (`estimateRowBytes`). */
  rowBytes: Uint32Array;
  /** A record's resume point (NaN: none) and the lines read through it. */
  resumeAt: Float64Array;
  resumeLines: Float64Array;
  rejects: { index: number; line: number; reason: string; raw: string }[];
  /** Each partition's rows, or null when the block has none. */
  parts: (EncodedPartition | null)[];
  /** Whether the block's bytes are the end of the file (its last record was read as the file's last). */
  final: boolean;
}

/** Estimated JSON size of one row: quotes and comma per value, a row number. */
export function estimateRowBytes(values: readonly TextValue[]): number {
  let bytes = 8;
  for (const value of values) bytes += value === null ? 5 : value.length + 3;
  return bytes;
}

/** Bytes of given-back buffers a worker keeps for the blocks it writes next (a block of 1 MiB of text takes about 2.5 MB). */
const SCRATCH_FREE_BYTES = 4 * 1024 * 1024;

/** A block's buffers, to hand back to the worker that wrote it (`BlockScratch.giveBack`) once nothing reads it. */
export function buffersOf(block: EncodedBlock): ArrayBuffer[] {
  const buffers = [block.kinds, block.rows, block.partitions, block.rowBytes, block.resumeAt, block.resumeLines].map((a) => a.buffer as ArrayBuffer);
  for (const part of block.parts) if (part) buffers.push(part.bytes.buffer as ArrayBuffer, part.ends.buffer as ArrayBuffer);
  return buffers;
}

/**
 * What a block worker writes blocks into, kept from one block to the next: each partition's
 * columns and value ends, and the records' numbers, in typed arrays that are written from their
 * start again, so that a block leaves the garbage collector little that lives through a
 * collection but its strings. Each array is its own field, written at its own site (one kind of
 * typed array per site keeps the stores monomorphic).
 */
export class BlockScratch {
  /** Each partition's columns (`columns[partition][column]`). */
  readonly columns: JsonColumn[][] = [];
  /** Each partition's value ends, row after row. */
  readonly ends: Uint32Array[] = [];
  /** The number of columns `columns` were made for. */
  columnCount = -1;
  capacity = 4096;
  kinds = new Uint8Array(4096);
  rows = new Int32Array(4096);
  partitions = new Uint16Array(4096);
  rowBytes = new Uint32Array(4096);
  resumeAt = new Float64Array(4096);
  resumeLines = new Float64Array(4096);
  /**
   * Memory of blocks handed over before and given back by their reader (`giveBack`), for the
   * next blocks' arrays: a block's buffers then do not become garbage of the reader's heap, whose
   * collector a fresh few megabytes of them per block would run in full every few blocks.
   */
  readonly #free: ArrayBuffer[] = [];
  #freeBytes = 0;

  /** Memory of at least `bytes` for a block's array: given back before, or new. */
  take(bytes: number): ArrayBuffer {
    let best = -1;
    for (let i = 0; i < this.#free.length; i++) {
      const length = this.#free[i]!.byteLength;
      if (length >= bytes && (best < 0 || length < this.#free[best]!.byteLength)) best = i;
    }
    if (best < 0) return new ArrayBuffer(Math.ceil((bytes * 1.125) / 8) * 8);
    const memory = this.#free[best]!;
    this.#free[best] = this.#free.at(-1)!;
    this.#free.pop();
    this.#freeBytes -= memory.byteLength;
    return memory;
  }

  /** Buffers of earlier blocks, free again (up to `SCRATCH_FREE_BYTES`: about what the blocks in flight use). */
  giveBack(buffers: readonly ArrayBuffer[]): void {
    for (const memory of buffers) {
      if (memory.byteLength === 0 || this.#freeBytes + memory.byteLength > SCRATCH_FREE_BYTES) continue;
      this.#free.push(memory);
      this.#freeBytes += memory.byteLength;
    }
  }

  /** Room for one more record after `count`. */
  grow(count: number): void {
    if (count < this.capacity) return;
    const n = (this.capacity *= 2);
    const kinds = new Uint8Array(n);
    kinds.set(this.kinds);
    this.kinds = kinds;
    const rows = new Int32Array(n);
    rows.set(this.rows);
    this.rows = rows;
    const partitions = new Uint16Array(n);
    partitions.set(this.partitions);
    this.partitions = partitions;
    const rowBytes = new Uint32Array(n);
    rowBytes.set(this.rowBytes);
    this.rowBytes = rowBytes;
    const resumeAt = new Float64Array(n);
    resumeAt.set(this.resumeAt);
    this.resumeAt = resumeAt;
    const resumeLines = new Float64Array(n);
    resumeLines.set(this.resumeLines);
    this.resumeLines = resumeLines;
  }
}

interface PartitionBuffer {
  index: number;
  columns: JsonColumn[];
  /** Values written to `scratch.ends[index]` (row after row, `columns.length` per row). */
  endCount: number;
  rows: number;
}

/** Builds an `EncodedBlock` record by record (the worker's side), into a `BlockScratch` kept from block to block. */
export class EncodedBlockBuilder {
  readonly #rejects: EncodedBlock['rejects'] = [];
  readonly #parts: (PartitionBuffer | null)[];
  readonly #s: BlockScratch;
  #count = 0;

  constructor(
    partitions: number,
    readonly columnCount: number,
    scratch: BlockScratch = new BlockScratch(),
  ) {
    this.#parts = Array.from({ length: partitions }, () => null);
    this.#s = scratch;
    if (scratch.columnCount !== columnCount) {
      scratch.columns.length = 0;
      scratch.columnCount = columnCount;
    }
  }

  #record(kind: number, row: number, partition: number, rowBytes: number, resume: { at: number; lines: number } | undefined): void {
    const s = this.#s;
    const i = this.#count++;
    s.grow(i);
    s.kinds[i] = kind;
    s.rows[i] = row;
    s.partitions[i] = partition;
    s.rowBytes[i] = rowBytes;
    s.resumeAt[i] = resume ? resume.at : NaN;
    s.resumeLines[i] = resume ? resume.lines : NaN;
  }

  addRow(partition: number, row: number, values: readonly TextValue[], resume?: { at: number; lines: number }): void {
    const s = this.#s;
    let part = this.#parts[partition];
    if (!part) {
      const kept = (s.columns[partition] ??= Array.from({ length: this.columnCount }, () => new JsonColumn()));
      for (const column of kept) column.reset();
      s.ends[partition] ??= new Uint32Array(4096 * this.columnCount);
      part = this.#parts[partition] = { index: partition, columns: kept, endCount: 0, rows: 0 };
    }
    const columns = part.columns;
    const n = columns.length;
    let ends = s.ends[partition]!;
    if (part.endCount + n > ends.length) {
      const bigger = new Uint32Array(ends.length * 2);
      bigger.set(ends);
      ends = s.ends[partition] = bigger;
    }
    let e = part.endCount;
    for (let c = 0; c < n; c++) {
      const column = columns[c]!;
      column.push(values[c] ?? null);
      ends[e++] = column.byteLength;
    }
    part.endCount = e;
    part.rows++;
    this.#record(RecordKind.row, row, partition, estimateRowBytes(values), resume);
  }

  addReject(row: number, line: number, reason: string, raw: string, resume?: { at: number; lines: number }): void {
    this.#rejects.push({ index: this.#count, line, reason, raw });
    this.#record(RecordKind.reject, row, 0, 0, resume);
  }

  get count(): number {
    return this.#count;
  }

  /** The block, and the buffers to transfer with it (each its own, none of Node's pool). */
  finish(final: boolean): { block: EncodedBlock; transfer: ArrayBuffer[] } {
    const transfer: ArrayBuffer[] = [];
    const n = this.columnCount;
    const s = this.#s;
    const parts = this.#parts.map((part): EncodedPartition | null => {
      if (!part) return null;
      const columnStarts: number[] = [0];
      for (const column of part.columns) columnStarts.push(columnStarts.at(-1)! + column.byteLength);
      const bytes = new Uint8Array(s.take(columnStarts.at(-1)!), 0, columnStarts.at(-1)!);
      part.columns.forEach((column, c) => {
        let at = columnStarts[c]!;
        for (const piece of column.parts()) {
          bytes.set(piece, at);
          at += piece.length;
        }
      });
      const rows = part.rows;
      const ends = new Uint32Array(s.take(4 * n * rows), 0, n * rows);
      const rowMajor = s.ends[part.index]!;
      for (let r = 0; r < rows; r++) for (let c = 0; c < n; c++) ends[c * rows + r] = rowMajor[r * n + c]!;
      transfer.push(bytes.buffer, ends.buffer);
      return { rows, bytes, columnStarts, ends };
    });
    const count = this.#count;
    const block: EncodedBlock = {
      count,
      kinds: new Uint8Array(s.take(count), 0, count),
      rows: new Int32Array(s.take(4 * count), 0, count),
      partitions: new Uint16Array(s.take(2 * count), 0, count),
      rowBytes: new Uint32Array(s.take(4 * count), 0, count),
      resumeAt: new Float64Array(s.take(8 * count), 0, count),
      resumeLines: new Float64Array(s.take(8 * count), 0, count),
      rejects: this.#rejects,
      parts,
      final,
    };
    block.kinds.set(s.kinds.subarray(0, count));
    block.rows.set(s.rows.subarray(0, count));
    block.partitions.set(s.partitions.subarray(0, count));
    block.rowBytes.set(s.rowBytes.subarray(0, count));
    block.resumeAt.set(s.resumeAt.subarray(0, count));
    block.resumeLines.set(s.resumeLines.subarray(0, count));
    for (const array of [block.kinds, block.rows, block.partitions, block.rowBytes, block.resumeAt, block.resumeLines]) transfer.push(array.buffer as ArrayBuffer);
    return { block, transfer };
  }
}

const COMMA = Buffer.from(',');

/**
 * A column of a chunk made of pieces: rows pushed as values (`JsonColumn`) and runs of encoded
 * rows of blocks, joined with commas: the same text a single `JsonColumn` of those rows holds.
 */
export class PiecedColumn implements JsonText {
  constructor(readonly pieces: readonly Buffer[][]) {}

  parts(): Buffer[] {
    const out: Buffer[] = [];
    this.pieces.forEach((piece, i) => {
      if (i > 0) out.push(COMMA);
      out.push(...piece);
    });
    return out;
  }

  values(): TextValue[] {
    return JSON.parse(`[${Buffer.concat(this.parts()).toString('utf8')}]`) as TextValue[];
  }
}

/** The text of rows `from` to `to` (exclusive) of one column of an encoded partition, without a leading comma. */
export function encodedRowsText(part: EncodedPartition, column: number, from: number, to: number): Buffer {
  const base = part.columnStarts[column]!;
  const row0 = column * part.rows;
  const start = from === 0 ? 0 : part.ends[row0 + from - 1]! + 1;
  const end = part.ends[row0 + to - 1]!;
  return Buffer.from(part.bytes.buffer as ArrayBuffer, part.bytes.byteOffset + base + start, end - start);
}
