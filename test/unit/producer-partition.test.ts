import { describe, expect, test } from 'vitest';
import { PartitionChunker, type Chunk, type ChunkerLimits, type EncodedHolder } from '../../shared/core/chunker.ts';
import { EncodedBlockBuilder, type EncodedBlock } from '../../shared/core/encoded-block.ts';
import { JsonColumn } from '../../shared/core/json-column.ts';
import type { TextValue } from '../../shared/core/read/values.ts';
import { partitionOf } from '../../shared/core/partition.ts';

const limits = (overrides: Partial<ChunkerLimits> = {}): ChunkerLimits => ({
  partitions: 2,
  maxRows: 3,
  maxBytes: 1_000_000,
  maxBufferedBytes: 10_000_000,
  ...overrides,
});

describe('partitionOf', () => {
  test('is pinned: these values never change', () => {
    // Changing them would send a key's rows to another FIFO group than earlier files did.
    const keys = [['1'], ['42'], ['customer-42', '2026-01-01'], [null], ['Zoë']];
    expect(keys.map((key) => partitionOf(key, 1000))).toEqual([380, 629, 710, 88, 971]);
  });

  test('spreads keys over all partitions', () => {
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[partitionOf([String(i)], 8)]++;
    expect(Math.min(...counts)).toBeGreaterThan(800);
  });

  test('NULL and the empty string are different keys', () => {
    const differ = Array.from({ length: 50 }, (_, p) => p + 2).some((n) => partitionOf([null], n) !== partitionOf([''], n));
    expect(differ).toBe(true);
  });

  test('the split between key columns matters', () => {
    const differ = Array.from({ length: 50 }, (_, p) => p + 2).some((n) => partitionOf(['ab', 'c'], n) !== partitionOf(['a', 'bc'], n));
    expect(differ).toBe(true);
  });

  test('one partition puts everything in partition 0', () => {
    expect(partitionOf(['x'], 1)).toBe(0);
  });
});

describe('PartitionChunker', () => {
  test('cuts a partition at maxRows', () => {
    const chunker = new PartitionChunker(1, limits());
    const ready = [1, 2, 3, 4].flatMap((row) => chunker.add(0, row, [String(row)]));
    expect(ready.map((c) => [c.partition, c.chunk, c.rowNumbers])).toEqual([[0, 0, [1, 2, 3]]]);
  });

  test('finish returns the rest, numbered after the full chunks', () => {
    const chunker = new PartitionChunker(1, limits());
    [1, 2, 3, 4].forEach((row) => chunker.add(0, row, [String(row)]));
    expect(chunker.finish().map((c) => [c.partition, c.chunk, c.rowNumbers])).toEqual([[0, 1, [4]]]);
  });

  test('cuts before a row that would pass maxBytes', () => {
    const chunker = new PartitionChunker(1, limits({ maxRows: 100, maxBytes: 45 }));
    const ready = [1, 2, 3].flatMap((row) => chunker.add(0, row, ['x'.repeat(10)]));
    expect(ready.map((c) => c.rowNumbers)).toEqual([[1, 2]]);
  });

  test('a single row larger than maxBytes is a chunk of its own', () => {
    const chunker = new PartitionChunker(1, limits({ maxRows: 100, maxBytes: 40 }));
    const ready = chunker.add(0, 1, ['x'.repeat(100)]);
    expect(ready.map((c) => c.rowNumbers)).toEqual([[1]]);
  });

  test('keeps values columnar', () => {
    const chunker = new PartitionChunker(2, limits({ maxRows: 2 }));
    chunker.add(1, 1, ['a', null]);
    expect(chunker.add(1, 2, ['b', 'y'])[0]!.values).toEqual([
      ['a', 'b'],
      [null, 'y'],
    ]);
  });

  test('past maxBufferedBytes the largest partition is cut early', () => {
    const chunker = new PartitionChunker(1, limits({ maxRows: 100, maxBufferedBytes: 60 }));
    chunker.add(1, 1, ['x']);
    chunker.add(0, 2, ['x'.repeat(20)]);
    const ready = chunker.add(1, 3, ['x'.repeat(30)]);
    expect(ready.map((c) => [c.partition, c.rowNumbers])).toEqual([[1, [1, 3]]]);
  });

  test('the same rows always give the same chunks', () => {
    const run = () => {
      const chunker = new PartitionChunker(1, limits({ partitions: 4, maxRows: 5 }));
      const out = Array.from({ length: 50 }, (_, i) => chunker.add(partitionOf([String(i)], 4), i + 1, [String(i)])).flat();
      return [...out, ...chunker.finish()];
    };
    expect(run()).toEqual(run());
  });
});

/** Rows as a block worker encodes them: partition = row % partitions, two columns. */
function blockOf(rows: number[], partitions: number): EncodedBlock {
  const builder = new EncodedBlockBuilder(partitions, 2);
  for (const row of rows) builder.addRow(row % partitions, row, valuesOf(row));
  return builder.finish(false).block;
}
const valuesOf = (row: number): TextValue[] => [String(row), row % 5 === 0 ? null : `v "${row}" é`];
/** Counts its holds; `released` once every hold was let go. */
class CountingHolder implements EncodedHolder {
  holds = 0;
  hold() {
    this.holds++;
  }
  release() {
    this.holds--;
  }
}
/** Adds a block's rows as the producer does (in order, each partition's rows by their index in its part). */
function addBlock(chunker: PartitionChunker, block: EncodedBlock, holder: EncodedHolder, partitions: number): Chunk[] {
  const taken = new Array<number>(partitions).fill(0);
  const out: Chunk[] = [];
  for (let i = 0; i < block.count; i++) {
    const p = block.partitions[i]!;
    out.push(...chunker.addEncoded(p, block.rows[i]!, block.rowBytes[i]!, block.parts[p]!, taken[p]!++, holder));
  }
  return out;
}
const bytesOf = (chunk: Chunk) => chunk.columns.map((c) => Buffer.concat(c.parts()).toString('utf8'));

describe('PartitionChunker with encoded blocks', () => {
  const rowsOf = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

  test('settled blocks: the same chunks, byte for byte, as rows added as values', () => {
    const lim = limits({ partitions: 3, maxRows: 7 });
    const plain = new PartitionChunker(2, lim);
    const settled = new PartitionChunker(2, lim);
    const fromPlain: Chunk[] = [];
    const fromSettled: Chunk[] = [];
    // Blocks, with rows the producer reads itself (as values) between them.
    for (const [kind, from, to] of [['block', 1, 12], ['values', 12, 15], ['block', 15, 30], ['block', 30, 31], ['values', 31, 33], ['block', 33, 50]] as const) {
      const rows = rowsOf(from, to);
      for (const row of rows) fromPlain.push(...plain.add(row % 3, row, valuesOf(row)));
      if (kind === 'values') for (const row of rows) fromSettled.push(...settled.add(row % 3, row, valuesOf(row)));
      else {
        fromSettled.push(...addBlock(settled, blockOf(rows, 3), new CountingHolder(), 3));
        settled.settleEncoded();
      }
    }
    fromPlain.push(...plain.finish());
    fromSettled.push(...settled.finish());
    expect(fromSettled.map((c) => [c.partition, c.chunk, c.rowNumbers, bytesOf(c)])).toEqual(fromPlain.map((c) => [c.partition, c.chunk, c.rowNumbers, bytesOf(c)]));
  });

  test('settling lets a block go at once: only the chunks cut from it and not encoded hold it', () => {
    const chunker = new PartitionChunker(2, limits({ partitions: 2, maxRows: 4 }));
    const holder = new CountingHolder();
    const cut = addBlock(chunker, blockOf(rowsOf(1, 12), 2), holder, 2);
    // Rows 1–11: partition 1 cut at 4 rows (1,3,5,7), partition 0 too (2,4,6,8); 9,11 and 10 stay open.
    expect(cut.map((c) => c.rowNumbers)).toEqual([[1, 3, 5, 7], [2, 4, 6, 8]]);
    const openHolds = holder.holds - cut.flatMap((c) => c.holders).length;
    expect(openHolds).toBe(2);
    chunker.settleEncoded();
    expect(holder.holds).toBe(cut.flatMap((c) => c.holders).length);
    for (const chunk of cut) for (const h of chunk.holders) h.release();
    expect(holder.holds).toBe(0);
    // The open rows were copied: the next chunk reads none of the block.
    const rest = chunker.finish();
    expect(rest.map((c) => [c.rowNumbers, c.holders.length, c.values])).toEqual([
      [[10], 0, [['10'], [null]]],
      [[9, 11], 0, [['9', '11'], ['v "9" é', 'v "11" é']]],
    ]);
  });
});

describe('JsonColumn', () => {
  test('pushText and append write the text pushing the values would', () => {
    const values: TextValue[] = Array.from({ length: 3000 }, (_, i) => (i % 7 === 0 ? null : `value ${i} "q" ü`));
    const pushed = new JsonColumn();
    for (const v of values) pushed.push(v);
    const copied = new JsonColumn();
    const part = new JsonColumn();
    for (const v of values.slice(0, 1000)) part.push(v);
    copied.append(part);
    const text = new JsonColumn();
    for (const v of values.slice(1000, 2500)) text.push(v);
    copied.pushText(Buffer.concat(text.parts()), 1500);
    copied.pushText(Buffer.alloc(0), 0);
    for (const v of values.slice(2500)) copied.push(v);
    expect(Buffer.concat(copied.parts()).equals(Buffer.concat(pushed.parts()))).toBe(true);
    expect(copied.byteLength).toBe(pushed.byteLength);
    expect(copied.values()).toEqual(values);
  });
});
