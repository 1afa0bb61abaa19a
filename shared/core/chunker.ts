import { encodedRowsText, estimateRowBytes, PiecedColumn, type EncodedPartition } from './encoded-block.ts';
import { JsonColumn, type JsonText } from './json-column.ts';
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
  columns: readonly JsonText[];
  /**
   * The file column of each of `columns` (a fixed chunker: every file column, in order; a chunker
   * of JSON objects: the columns its rows carry, in the order first carried in the chunk).
   */
  columnIndexes: readonly number[];
  /** Per chunk column (index into `columns`), the rows (indexes into the chunk) that did not carry it; none in a fixed chunker. */
  absent: ReadonlyMap<number, readonly number[]>;
  /** values[c][r], decoded from `columns` (for tests and inspection; the producer never needs them). */
  readonly values: TextValue[][];
  estimatedBytes: number;
  /**
   * The holders of the encoded rows the chunk's columns read (one per run of them, see
   * `addEncoded`) when it was cut before `settleEncoded` copied them: release each once the
   * chunk's bytes were copied out (encoded), and not before.
   */
  holders: readonly EncodedHolder[];
}

/**
 * Who owns the memory of an encoded partition a chunk reads from (a block's buffers, given back
 * to the worker that wrote them): held once per run of its rows in a chunk, released once that
 * chunk was encoded.
 */
export interface EncodedHolder {
  hold(): void;
  release(): void;
}

/** Consecutive rows of one partition of an encoded block, in a chunk. */
interface EncodedRun {
  part: EncodedPartition;
  from: number;
  to: number;
  holder: EncodedHolder | undefined;
}

interface Buffered {
  rowNumbers: number[];
  /** The values of the rows added as values (a chunker of JSON objects: every row). */
  columns: JsonColumn[];
  /**
   * A fixed chunker's rows in order when some came encoded: runs of encoded rows, and the
   * `columns` of rows added as values between them (`columns` then holds the rows after the last run).
   */
  pieces: (EncodedRun | JsonColumn[])[];
  /** Rows in `columns` (a fixed chunker). */
  valueRows: number;
  /** The file column of each of `columns`, and each chunk column by file column (-1: none yet), for a chunker of JSON objects. */
  columnIndexes: number[];
  slotOf: number[];
  absent: Map<number, number[]>;
  bytes: number;
  next: number;
}

const NONE: readonly Chunk[] = Object.freeze([]);
const NO_HOLDERS: readonly EncodedHolder[] = Object.freeze([]);
const NO_ABSENT: ReadonlyMap<number, readonly number[]> = new Map();

export { estimateRowBytes } from './encoded-block.ts';

/**
 * Cuts each partition's rows into chunks by `maxRows` / `maxBytes`, in row order. Where the
 * cuts fall depends only on the rows and the limits, so the same file always gives the same
 * chunks. Memory is bounded by `maxBufferedBytes` (plus one row).
 */
export class PartitionChunker {
  readonly #limits: ChunkerLimits;
  readonly #columnCount: number;
  readonly #buffers: Buffered[];
  readonly #fixed: boolean;
  #buffered = 0;

  /**
   * `nextChunks`: each partition's next chunk index, where a resumed read goes on (default all 0).
   * `columnCount` null: the rows are JSON objects that may differ in their keys; each chunk's
   * columns are the union of what its rows carry, and a row that does not carry one of them is
   * absent there (a column first carried mid-chunk is absent in the chunk's earlier rows).
   */
  constructor(columnCount: number | null, limits: ChunkerLimits, nextChunks: readonly number[] = []) {
    this.#limits = limits;
    this.#fixed = columnCount !== null;
    this.#columnCount = columnCount ?? 0;
    this.#buffers = Array.from({ length: limits.partitions }, (_, p) => this.#empty(nextChunks[p] ?? 0));
  }

  #empty(next: number): Buffered {
    const n = this.#columnCount;
    return {
      rowNumbers: [],
      columns: Array.from({ length: n }, () => new JsonColumn()),
      pieces: [],
      valueRows: 0,
      columnIndexes: Array.from({ length: n }, (_, i) => i),
      slotOf: [],
      absent: new Map(),
      bytes: 0,
      next,
    };
  }

  #cut(partition: number): Chunk {
    const buffer = this.#buffers[partition]!;
    this.#buffers[partition] = this.#empty(buffer.next + 1);
    this.#buffered -= buffer.bytes;
    const columns = buffer.pieces.length === 0 ? buffer.columns : this.#piecedColumns(buffer);
    return {
      partition,
      chunk: buffer.next,
      rowNumbers: buffer.rowNumbers,
      columns,
      columnIndexes: buffer.columnIndexes,
      absent: buffer.absent.size > 0 ? buffer.absent : NO_ABSENT,
      get values() {
        return columns.map((c) => c.values());
      },
      estimatedBytes: buffer.bytes,
      holders: buffer.pieces.length === 0 ? NO_HOLDERS : buffer.pieces.flatMap((piece) => (!Array.isArray(piece) && piece.holder ? [piece.holder] : [])),
    };
  }

  /** A chunk's columns when some of its rows came encoded: its pieces joined, in row order. */
  #piecedColumns(buffer: Buffered): JsonText[] {
    const pieces = buffer.valueRows > 0 ? [...buffer.pieces, buffer.columns] : buffer.pieces;
    return Array.from({ length: this.#columnCount }, (_, c) => new PiecedColumn(pieces.map((piece) => (Array.isArray(piece) ? piece[c]!.parts() : [encodedRowsText(piece.part, c, piece.from, piece.to)]))));
  }

  /** Adds a row; returns the chunks that are complete (often none). `absent`: see `SourceEvent`'s row. */
  add(partition: number, rowNumber: number, values: readonly TextValue[], absent?: readonly number[]): readonly Chunk[] {
    const rowBytes = estimateRowBytes(values);
    const ready = this.#makeRoom(partition, rowBytes);
    const buffer = this.#buffers[partition]!;
    if (this.#fixed) {
      for (let c = 0; c < this.#columnCount; c++) buffer.columns[c]!.push(values[c] ?? null);
      buffer.valueRows++;
    } else this.#pushObject(buffer, values, absent);
    return this.#added(partition, buffer, rowNumber, rowBytes, ready);
  }

  /**
   * Adds a row that a block encoded already (row `index` of `part`, of `rowBytes` estimated
   * bytes, a fixed chunker only); returns the chunks that are complete. Cuts where `add` of its
   * values would, and the chunk's bytes are those `add` would give. `holder`: who owns `part`'s
   * memory, held for each run of its rows in a chunk (see `Chunk.holders`).
   */
  addEncoded(partition: number, rowNumber: number, rowBytes: number, part: EncodedPartition, index: number, holder?: EncodedHolder): readonly Chunk[] {
    const ready = this.#makeRoom(partition, rowBytes);
    const buffer = this.#buffers[partition]!;
    const last = buffer.pieces.at(-1);
    if (buffer.valueRows === 0 && last && !Array.isArray(last) && last.part === part && last.to === index) last.to++;
    else {
      // Rows added as values since the last run are a piece of their own, before this run.
      if (buffer.valueRows > 0) {
        buffer.pieces.push(buffer.columns);
        buffer.columns = Array.from({ length: this.#columnCount }, () => new JsonColumn());
        buffer.valueRows = 0;
      }
      holder?.hold();
      buffer.pieces.push({ part, from: index, to: index + 1, holder });
    }
    return this.#added(partition, buffer, rowNumber, rowBytes, ready);
  }

  /**
   * Copies the rows every partition still buffers from encoded blocks into the chunker's own
   * memory, and releases their holders: call it once a block's records were all added, and the
   * block's memory goes back at once instead of staying until each partition's chunk that reads
   * it is cut (with many partitions and large chunks, most of the blocks read since the oldest
   * open chunk began). The chunks and their bytes are the same either way.
   */
  settleEncoded(): void {
    for (const buffer of this.#buffers) {
      if (buffer.pieces.length === 0) continue;
      // In row order: the first piece is the chunker's own when rows came before the first run
      // (then the rest append to it), and the rows added as values since the last run come last.
      const first = buffer.pieces[0]!;
      const owned = Array.isArray(first) ? first : Array.from({ length: this.#columnCount }, () => new JsonColumn());
      for (const piece of buffer.valueRows > 0 ? [...buffer.pieces, buffer.columns] : buffer.pieces) {
        if (piece === owned) continue;
        if (Array.isArray(piece)) {
          for (let c = 0; c < this.#columnCount; c++) owned[c]!.append(piece[c]!);
          continue;
        }
        for (let c = 0; c < this.#columnCount; c++) owned[c]!.pushText(encodedRowsText(piece.part, c, piece.from, piece.to), piece.to - piece.from);
        piece.holder?.release();
      }
      buffer.pieces = [];
      buffer.columns = owned;
      buffer.valueRows = buffer.rowNumbers.length;
    }
  }

  /** Cuts the partition's chunk when the row would take it past `maxBytes`. */
  #makeRoom(partition: number, rowBytes: number): Chunk[] | undefined {
    const buffer = this.#buffers[partition]!;
    return buffer.rowNumbers.length > 0 && buffer.bytes + rowBytes > this.#limits.maxBytes ? [this.#cut(partition)] : undefined;
  }

  #added(partition: number, buffer: Buffered, rowNumber: number, rowBytes: number, ready: Chunk[] | undefined): readonly Chunk[] {
    buffer.rowNumbers.push(rowNumber);
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

  /** A row of a JSON object into a chunk whose columns are the union of its rows' keys. */
  #pushObject(buffer: Buffered, values: readonly TextValue[], absent: readonly number[] | undefined): void {
    const r = buffer.rowNumbers.length;
    let carried: Uint8Array | undefined;
    if (absent && absent.length > 0) {
      carried = new Uint8Array(values.length).fill(1);
      for (const i of absent) if (i < values.length) carried[i] = 0;
    }
    // Columns the row carries first: a column new to the chunk is absent in its earlier rows.
    for (let c = 0; c < values.length; c++) {
      if ((carried && carried[c] === 0) || (buffer.slotOf[c] ?? -1) >= 0) continue;
      const column = new JsonColumn();
      for (let k = 0; k < r; k++) column.push(null);
      const slot = buffer.columns.length;
      buffer.columns.push(column);
      buffer.columnIndexes.push(c);
      buffer.slotOf[c] = slot;
      if (r > 0) buffer.absent.set(slot, Array.from({ length: r }, (_, k) => k));
    }
    for (let slot = 0; slot < buffer.columns.length; slot++) {
      const c = buffer.columnIndexes[slot]!;
      if (c < values.length && (!carried || carried[c] === 1)) {
        buffer.columns[slot]!.push(values[c] ?? null);
        continue;
      }
      buffer.columns[slot]!.push(null);
      const rows = buffer.absent.get(slot);
      if (rows) rows.push(r);
      else buffer.absent.set(slot, [r]);
    }
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
