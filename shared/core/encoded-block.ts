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

interface PartitionBuffer {
  columns: JsonColumn[];
  /** Each row's value ends, row after row (`columns.length` per row); made column by column at the end. */
  ends: number[];
  rows: number;
}

/** Builds an `EncodedBlock` record by record (the worker's side). Plain arrays while building (one element kind each), typed at the end. */
export class EncodedBlockBuilder {
  readonly #kinds: number[] = [];
  readonly #rows: number[] = [];
  readonly #partitions: number[] = [];
  readonly #rowBytes: number[] = [];
  readonly #resumeAt: number[] = [];
  readonly #resumeLines: number[] = [];
  readonly #rejects: EncodedBlock['rejects'] = [];
  readonly #parts: (PartitionBuffer | null)[];

  /** `columns`: each partition's columns, to write into again (emptied first), kept by the caller from block to block. */
  constructor(
    partitions: number,
    readonly columnCount: number,
    readonly columns: JsonColumn[][] = [],
  ) {
    this.#parts = Array.from({ length: partitions }, () => null);
  }

  #record(kind: number, row: number, partition: number, rowBytes: number, resume: { at: number; lines: number } | undefined): void {
    this.#kinds.push(kind);
    this.#rows.push(row);
    this.#partitions.push(partition);
    this.#rowBytes.push(rowBytes);
    this.#resumeAt.push(resume ? resume.at : NaN);
    this.#resumeLines.push(resume ? resume.lines : NaN);
  }

  addRow(partition: number, row: number, values: readonly TextValue[], resume?: { at: number; lines: number }): void {
    let part = this.#parts[partition];
    if (!part) {
      const kept = (this.columns[partition] ??= Array.from({ length: this.columnCount }, () => new JsonColumn()));
      for (const column of kept) column.reset();
      part = this.#parts[partition] = { columns: kept, ends: [], rows: 0 };
    }
    const { columns, ends } = part;
    for (let c = 0; c < columns.length; c++) {
      const column = columns[c]!;
      column.push(values[c] ?? null);
      ends.push(column.byteLength);
    }
    part.rows++;
    this.#record(RecordKind.row, row, partition, estimateRowBytes(values), resume);
  }

  addReject(row: number, line: number, reason: string, raw: string, resume?: { at: number; lines: number }): void {
    this.#rejects.push({ index: this.#kinds.length, line, reason, raw });
    this.#record(RecordKind.reject, row, 0, 0, resume);
  }

  get count(): number {
    return this.#kinds.length;
  }

  /** The block, and the buffers to transfer with it (each its own, none of Node's pool). */
  finish(final: boolean): { block: EncodedBlock; transfer: ArrayBuffer[] } {
    const transfer: ArrayBuffer[] = [];
    const n = this.columnCount;
    const parts = this.#parts.map((part): EncodedPartition | null => {
      if (!part) return null;
      const columnStarts: number[] = [0];
      for (const column of part.columns) columnStarts.push(columnStarts.at(-1)! + column.byteLength);
      const bytes = new Uint8Array(new ArrayBuffer(columnStarts.at(-1)!));
      part.columns.forEach((column, c) => {
        let at = columnStarts[c]!;
        for (const piece of column.parts()) {
          bytes.set(piece, at);
          at += piece.length;
        }
      });
      const rows = part.rows;
      const ends = new Uint32Array(new ArrayBuffer(4 * n * rows));
      for (let r = 0; r < rows; r++) for (let c = 0; c < n; c++) ends[c * rows + r] = part.ends[r * n + c]!;
      transfer.push(bytes.buffer, ends.buffer);
      return { rows, bytes, columnStarts, ends };
    });
    const block: EncodedBlock = {
      count: this.#kinds.length,
      kinds: Uint8Array.from(this.#kinds),
      rows: Int32Array.from(this.#rows),
      partitions: Uint16Array.from(this.#partitions),
      rowBytes: Uint32Array.from(this.#rowBytes),
      resumeAt: Float64Array.from(this.#resumeAt),
      resumeLines: Float64Array.from(this.#resumeLines),
      rejects: this.#rejects,
      parts,
      final,
    };
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
