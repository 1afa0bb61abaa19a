import { JsonColumn } from './json-column.ts';
import type { TextValue } from './read/values.ts';

export interface ChunkerLimits {
  partitions: number;
  /** Rows per chunk at most. */
  maxRows: number;
  /** Estimated JSON bytes of a chunk's values at most (a single larger row is a chunk alone). */
  maxBytes: number;
  /**
   * Estimated bytes buffered across all partitions at most; past it the largest buffer is
   * cut early. Keeps memory bounded for tables with many partitions.
   */
  maxBufferedBytes: number;
}

/** One cut chunk: columnar values of consecutive rows of one partition. */
export interface Chunk {
  partition: number;
  /** Index within the partition, from 0. */
  chunk: number;
  rowNumbers: number[];
  /** Each column's values as JSON text, as the batch object holds them. */
  columns: readonly JsonColumn[];
  /** values[c][r], decoded from `columns` (for tests and inspection; the producer never needs them). */
  readonly values: TextValue[][];
  estimatedBytes: number;
}

interface Buffered {
  rowNumbers: number[];
  columns: JsonColumn[];
  bytes: number;
  next: number;
}

const NONE: readonly Chunk[] = Object.freeze([]);

/** Estimated JSON size of one row: quotes and comma per value, a row number. */
function estimateRowBytes(values: readonly TextValue[]): number {
  let bytes = 8;
  for (const value of values) bytes += value === null ? 5 : value.length + 3;
  return bytes;
}

/**
 * Cuts each partition's rows into chunks by `maxRows` / `maxBytes`, in row order. Where the
 * cuts fall depends only on the rows and the limits, so the same file always gives the same
 * chunks. Memory is bounded by `maxBufferedBytes` (plus one row).
 */
export class PartitionChunker {
  readonly #limits: ChunkerLimits;
  readonly #columnCount: number;
  readonly #buffers: Buffered[];
  #buffered = 0;

  /** `nextChunks`: each partition's next chunk index, where a resumed read goes on (default all 0). */
  constructor(columnCount: number, limits: ChunkerLimits, nextChunks: readonly number[] = []) {
    this.#limits = limits;
    this.#columnCount = columnCount;
    this.#buffers = Array.from({ length: limits.partitions }, (_, p) => this.#empty(nextChunks[p] ?? 0));
  }

  #empty(next: number): Buffered {
    return { rowNumbers: [], columns: Array.from({ length: this.#columnCount }, () => new JsonColumn()), bytes: 0, next };
  }

  #cut(partition: number): Chunk {
    const buffer = this.#buffers[partition]!;
    this.#buffers[partition] = this.#empty(buffer.next + 1);
    this.#buffered -= buffer.bytes;
    const { columns } = buffer;
    return {
      partition,
      chunk: buffer.next,
      rowNumbers: buffer.rowNumbers,
      columns,
      get values() {
        return columns.map((c) => c.values());
      },
      estimatedBytes: buffer.bytes,
    };
  }

  /** Adds a row; returns the chunks that are complete (often none). */
  add(partition: number, rowNumber: number, values: readonly TextValue[]): readonly Chunk[] {
    const rowBytes = estimateRowBytes(values);
    let buffer = this.#buffers[partition]!;
    let ready: Chunk[] | undefined;
    if (buffer.rowNumbers.length > 0 && buffer.bytes + rowBytes > this.#limits.maxBytes) {
      ready = [this.#cut(partition)];
      buffer = this.#buffers[partition]!;
    }
    buffer.rowNumbers.push(rowNumber);
    for (let c = 0; c < this.#columnCount; c++) buffer.columns[c]!.push(values[c] ?? null);
    buffer.bytes += rowBytes;
    this.#buffered += rowBytes;
    if (buffer.rowNumbers.length >= this.#limits.maxRows || buffer.bytes >= this.#limits.maxBytes) {
      (ready ??= []).push(this.#cut(partition));
    }
    while (this.#buffered > this.#limits.maxBufferedBytes) {
      let largest = 0;
      for (let p = 1; p < this.#buffers.length; p++) if (this.#buffers[p]!.bytes > this.#buffers[largest]!.bytes) largest = p;
      (ready ??= []).push(this.#cut(largest));
    }
    // Most rows complete no chunk: no array for them.
    return ready ?? NONE;
  }

  /** The remaining non-empty buffers, in partition order. */
  finish(): Chunk[] {
    const ready: Chunk[] = [];
    for (let p = 0; p < this.#buffers.length; p++) if (this.#buffers[p]!.rowNumbers.length > 0) ready.push(this.#cut(p));
    return ready;
  }

  /** Each partition's next chunk index (after `finish`, where a resumed read must go on). */
  get nextChunks(): number[] {
    return this.#buffers.map((b) => b.next);
  }

  /** Estimated bytes buffered right now. */
  get bufferedBytes(): number {
    return this.#buffered;
  }
}
