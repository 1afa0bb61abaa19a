import type { CsvBlockJob } from '../core/block-encoder.ts';
import type { EncodedHolder } from '../core/chunker.ts';
import type { EncodedBlock } from '../core/encoded-block.ts';
import { rebaseEvents } from '../core/progress.ts';
import { lastCutOf, readCsvEvents, type CsvDialect, type TextEncoding } from '../core/read/read-csv.ts';
import type { SourceEvent } from '../core/read/records.ts';
import type { BlockWorkers } from './block-workers.ts';

/** Where a record starts: the byte offset, the rows and the lines before it. */
export interface Position {
  at: number;
  row: number;
  lines: number;
}

/** A block read by a worker, and where it starts in the file (its numbers count from there). */
export interface BlockItem {
  kind: 'block';
  block: EncodedBlock;
  start: Position;
  /**
   * Who owns the block's memory: the reader holds it while it reads the block's records, and
   * each run of its rows in a chunk holds it until that chunk was encoded (`Chunk.holders`) or the
   * chunker copied the rows of its open chunks out (`PartitionChunker.settleEncoded`, once the
   * block's records were read); the reader releases it (`holder.release()`) then. When nothing
   * holds it any more its buffers go back to the worker that wrote them.
   */
  holder: EncodedHolder;
}

/** Holds a block for its reader and the chunks that read its rows; gives its buffers back when the last lets go. */
class BlockHolder implements EncodedHolder {
  #holds = 1;
  constructor(
    readonly block: EncodedBlock,
    readonly workers: BlockWorkers,
  ) {}

  hold(): void {
    this.#holds++;
  }

  release(): void {
    if (--this.#holds === 0) this.workers.recycle(this.block);
  }
}

export const isBlockItem = (item: unknown): item is BlockItem => (item as BlockItem).kind === 'block';

/** A delimited text file's bytes as the producer reads them, for `parallelCsvEvents`. */
export interface RawText {
  /** The text (decompressed): from the file's start, or, resumed, the header's bytes and then the file from `resumed.position`. */
  stream: AsyncIterable<Uint8Array>;
  dialect: Partial<CsvDialect> & { encoding: TextEncoding };
  /** A read resumed where an earlier invocation stopped: the bytes of the header that come first, and where the rest starts. */
  resumed: { prefixBytes: number; prefixRows: number; prefixLines: number; position: Position } | null;
}

export interface ParallelOptions {
  workers: BlockWorkers;
  /** Bytes per block (a block ends at the last line break before it). */
  blockBytes: number;
  /** What the producer planned from the header; null before it has. Asked after the columns event was handed on. */
  plan: () => Omit<CsvBlockJob, 'dialect' | 'prefix' | 'prefixLines'> | null;
}

/** A block of the text, in shared memory (the workers read it where it lies). */
interface Block {
  index: number;
  start: number;
  end: number;
  bytes: Buffer;
  /** The code unit after it (null: the block ends the file). */
  lookahead: Buffer | null;
  final: boolean;
  task?: Promise<{ block: EncodedBlock } | { error: unknown }>;
}

/**
 * Shared memory for blocks, used again once a block is behind the read and its worker is done
 * with it: the memory of a SharedArrayBuffer is outside what makes the garbage collector run, so
 * a fresh one per block would pile up (about a megabyte per block of the file) until a collection
 * happened to free them.
 */
class BlockMemory {
  readonly #free: SharedArrayBuffer[] = [];
  constructor(readonly size: number) {}

  take(length: number): Buffer {
    const memory = length <= this.size ? (this.#free.pop() ?? new SharedArrayBuffer(this.size)) : new SharedArrayBuffer(length);
    return Buffer.from(memory, 0, length);
  }

  give(bytes: Buffer): void {
    const memory = bytes.buffer as SharedArrayBuffer;
    if (memory.byteLength === this.size) this.#free.push(memory);
  }
}

/** Cuts the text into blocks that end at a line break (or, in a line longer than a block, anywhere), in shared memory. */
class Splitter {
  #rest: Buffer = Buffer.alloc(0);
  #done = false;
  #index = 0;
  readonly #unit: number;
  constructor(
    readonly input: AsyncIterator<Uint8Array>,
    private at: number,
    readonly blockBytes: number,
    readonly encoding: TextEncoding,
    readonly memory: BlockMemory,
  ) {
    this.#unit = encoding === 'utf-16le' || encoding === 'utf-16be' ? 2 : 1;
  }

  /**
   * The next block. The text is read straight into the block's shared memory (a block's worth,
   * and one code unit to tell a CR from a CRLF): no window of it is put together in memory of
   * its own first, which the garbage collector would have to collect again for every block. Only
   * a block without a line break (a line longer than a block) is put together from its pieces.
   */
  async next(): Promise<Block | null> {
    const want = this.blockBytes + this.#unit;
    const shared = this.memory.take(this.memory.size);
    let filled = 0;
    let over: Buffer | null = null;
    if (this.#rest.length > 0) {
      const n = Math.min(this.#rest.length, shared.length);
      this.#rest.copy(shared, 0, 0, n);
      filled = n;
      if (n < this.#rest.length) over = this.#rest.subarray(n);
    }
    while (!over && !this.#done && filled < want) {
      const next = await this.input.next();
      if (next.done) this.#done = true;
      else {
        const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
        const n = Math.min(chunk.length, shared.length - filled);
        chunk.copy(shared, filled, 0, n);
        filled += n;
        if (n < chunk.length) over = chunk.subarray(n);
      }
    }
    const length = filled + (over?.length ?? 0);
    if (length === 0) {
      this.memory.give(shared);
      return null;
    }
    let cut = length;
    let bytes = shared;
    if (!this.#done || over || length > want) {
      // The last line break of the block's worth.
      const size = this.blockBytes + this.#unit - (this.blockBytes % this.#unit);
      cut = lastCutOf(shared.subarray(0, Math.min(size, filled)), this.encoding);
      if (cut < 0) {
        // A line longer than a block: all that was read, in memory of its own, cut at its last line break or anywhere.
        const window = Buffer.concat(over ? [shared.subarray(0, filled), over] : [shared.subarray(0, filled)], length);
        this.memory.give(shared);
        if (window.length > size) cut = lastCutOf(window, this.encoding);
        // No line break in a whole block (a very long line): cut anywhere, one unit before the end.
        if (cut < 0) cut = window.length - this.#unit - ((window.length - this.#unit) % this.#unit);
        bytes = this.memory.take(cut);
        window.copy(bytes, 0, 0, cut);
        over = Buffer.from(window.subarray(cut));
        filled = cut;
      }
    }
    // Copied: the rest may be a view of a chunk the source reuses.
    const tail = [...(filled > cut ? [bytes.subarray(cut, filled)] : []), ...(over && over.length > 0 ? [over] : [])];
    this.#rest = tail.length === 0 ? Buffer.alloc(0) : Buffer.concat(tail);
    const final = this.#done && this.#rest.length === 0;
    const block: Block = { index: this.#index++, start: this.at, end: this.at + cut, bytes: bytes.subarray(0, cut), lookahead: final ? null : Buffer.from(this.#rest.subarray(0, this.#unit)), final };
    this.at += cut;
    return block;
  }
}

/** The first `n` bytes of a stream, and the rest of it. */
async function splitPrefix(input: AsyncIterator<Uint8Array>, n: number): Promise<{ prefix: Buffer; rest: AsyncIterator<Uint8Array> }> {
  const seen: Buffer[] = [];
  let length = 0;
  let over: Buffer | null = null;
  while (length < n) {
    const next = await input.next();
    if (next.done) break;
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    if (length + chunk.length > n) {
      seen.push(chunk.subarray(0, n - length));
      over = chunk.subarray(n - length);
      length = n;
    } else {
      seen.push(chunk);
      length += chunk.length;
    }
  }
  const rest = (async function* () {
    if (over) yield over;
    for (let next = await input.next(); !next.done; next = await input.next()) yield next.value;
  })();
  return { prefix: Buffer.concat(seen), rest };
}

/**
 * A delimited text file's events, read with worker threads: the text is cut into blocks at line
 * breaks, each block is read, partitioned and encoded by a worker as a read of the whole file
 * would read it if a record starts there, and the blocks come back in file order. The producer
 * itself reads (with the one-thread reader, from a point where a record starts) the start of the
 * file up to the first block's end, and on from any block that does not end where a record does
 * (a quoted field that holds a line break across the cut) up to the next block end that is a
 * record's end; a block whose start turns out not to be a record's start is dropped, and so is
 * the last block when it has rejects (their reasons quote the file's line numbers): read again
 * by the producer. So every record is read exactly as the one-thread reader reads it, with the
 * same numbers, resume points and rejects, whatever the blocks.
 *
 * Yields the events of what the producer reads itself, and `BlockItem`s.
 */
export async function* parallelCsvEvents(text: RawText, options: ParallelOptions): AsyncGenerator<SourceEvent | readonly SourceEvent[] | BlockItem> {
  const { workers } = options;
  const window = workers.size * 2;
  let input = text.stream[Symbol.asyncIterator]();
  let prefix: Buffer | null = null;
  let prefixRows = 0;
  let prefixLines = 0;
  let position: Position = { at: 0, row: 0, lines: 0 };
  if (text.resumed) {
    const split = await splitPrefix(input, text.resumed.prefixBytes);
    prefix = split.prefix;
    input = split.rest;
    prefixRows = text.resumed.prefixRows;
    prefixLines = text.resumed.prefixLines;
    position = { ...text.resumed.position };
  }
  const memory = new BlockMemory(options.blockBytes + 4);
  const splitter = new Splitter(input, position.at, options.blockBytes, text.dialect.encoding, memory);
  /** Blocks not behind the read yet, in order. */
  const blocks: Block[] = [];
  const boundaries = new Set<number>();
  let eof = false;
  const pull = async (): Promise<Block | null> => {
    if (eof) return null;
    const block = await splitter.next();
    if (!block) {
      eof = true;
      return null;
    }
    blocks.push(block);
    if (!block.final) boundaries.add(block.end);
    return block;
  };
  let jobId: number | null = null;
  const job = (): number | null => {
    if (jobId !== null) return jobId;
    const plan = options.plan();
    if (!plan || !prefix) return null;
    return (jobId = workers.addJob({ ...plan, dialect: text.dialect, prefix, prefixLines }));
  };
  /** Tasks for the blocks from `index` on, up to the window (reading more of the text as needed). */
  const dispatch = async (index: number) => {
    const id = job();
    if (id === null) return;
    for (let i = index; i < index + window; i++) {
      let block = blocks.find((b) => b.index === i);
      if (!block) {
        // Behind the read already (dropped), or past the end of the file.
        if (blocks.length > 0 && blocks.at(-1)!.index >= i) continue;
        while (!eof && (blocks.length === 0 || blocks.at(-1)!.index < i)) await pull();
        block = blocks.find((b) => b.index === i);
        if (!block) return;
      }
      if (block.task) continue;
      block.task = workers.run(id, { bytes: block.bytes, lookahead: block.lookahead, final: block.final }).then(
        (encoded) => ({ block: encoded }),
        (error: unknown) => ({ error }),
      );
    }
  };
  /** Blocks behind the read: their memory is used again once their worker (if any) is done with it. */
  const drop = (before: number) => {
    while (blocks.length > 0 && blocks[0]!.index < before) {
      const block = blocks.shift()!;
      boundaries.delete(block.end);
      if (block.task) void block.task.then(() => memory.give(block.bytes));
      else memory.give(block.bytes);
    }
  };

  /**
   * Reads on by itself from `position` with the one-thread reader, until a record ends at a block's
   * end (then returns that block's successor's index) or the file ends (null).
   */
  async function* bridge(): AsyncGenerator<SourceEvent | readonly SourceEvent[], number | null> {
    const from = position.at;
    const atStart = !text.resumed && from === 0;
    let reading = 0;
    const bytes = async function* (): AsyncGenerator<Uint8Array> {
      if (!atStart) yield prefix!;
      let block = blocks.find((b) => b.start <= from && from < b.end) ?? (blocks.length === 0 ? await pull() : null);
      if (!block && blocks.at(-1)?.end === from) block = await pull();
      while (block) {
        reading = block.index;
        // Behind the read for good once the columns are known: a record ends at a block end past them, or nowhere.
        if (prefix) drop(block.index - 1);
        await dispatch(block.index + 1);
        // A copy: the reader may hold on to bytes of a record longer than a block after the block's memory is used again.
        yield Buffer.from(block.start < from ? block.bytes.subarray(from - block.start) : block.bytes);
        block = blocks.find((b) => b.index === reading + 1) ?? (await pull());
      }
    };
    const events = atStart
      ? readCsvEvents(bytes(), { dialect: text.dialect })
      : rebaseEvents(readCsvEvents(bytes(), { dialect: text.dialect, resumed: { prefixBytes: prefix!.length, rows: position.row - prefixRows, lines: position.lines - prefixLines } }), {
          fileFormat: 'csv',
          position: { ...position, bytes: position.at },
          prefix: { start: 0, end: prefix!.length, rows: prefixRows, lines: prefixLines },
        });
    try {
      for await (const batch of events) {
        for (let i = 0; i < batch.length; i++) {
          const event = batch[i]!;
          if (event.kind === 'columns') {
            // The file's columns: what the workers read again before each block.
            if (event.resume && !prefix) {
              prefix = Buffer.concat(blocks.filter((b) => b.start < event.resume!.at).map((b) => b.bytes.subarray(0, Math.min(b.end, event.resume!.at) - b.start)));
              prefixLines = event.resume.lines;
            }
            continue;
          }
          if (!event.resume) continue;
          position = { at: event.resume.at, row: event.row, lines: event.resume.lines };
          if (jobId !== null && event.resume.at > from && boundaries.has(event.resume.at)) {
            yield batch.slice(0, i + 1);
            const next = blocks.find((b) => b.start === event.resume!.at)!;
            drop(next.index);
            return next.index;
          }
        }
        yield batch;
        // The plan is made once the columns were handed on: the workers can start.
        if (jobId === null && job() !== null) await dispatch(reading + 1);
      }
      return null;
    } finally {
      await events.return?.(undefined);
    }
  }

  try {
    let next = yield* bridge();
    while (next !== null) {
      const block = blocks.find((b) => b.index === next)!;
      await dispatch(next);
      const outcome = await block.task!;
      // A worker's failure, or rejects at the file's end (their reasons quote line numbers): the producer reads it itself.
      if ('error' in outcome || (outcome.block.final && outcome.block.rejects.length > 0)) {
        next = yield* bridge();
        continue;
      }
      const encoded = outcome.block;
      workers.stats.taken++;
      // Read before the block is handed on: its arrays may be given back once read.
      const last = lastResume(encoded);
      const final = encoded.final;
      yield { kind: 'block', block: encoded, start: position, holder: new BlockHolder(encoded, workers) };
      if (last) position = { at: block.start + last.at, row: position.row + last.row, lines: position.lines + last.lines };
      if (final) return;
      if (position.at === block.end) {
        drop(block.index + 1);
        next = block.index + 1;
        if (!blocks.some((b) => b.index === next) && !(await pull())) return;
        continue;
      }
      // A record runs past the block's end: read on from its start.
      drop(block.index);
      next = yield* bridge();
    }
  } finally {
    if (jobId !== null) workers.forgetJob(jobId);
  }
}

/** The block's last resume point (from its start), with the rows and lines through it, or null. */
function lastResume(block: EncodedBlock): { at: number; row: number; lines: number } | null {
  for (let i = block.count - 1; i >= 0; i--) {
    const at = block.resumeAt[i]!;
    if (!Number.isNaN(at)) return { at, row: block.rows[i]!, lines: block.resumeLines[i]! };
  }
  return null;
}
