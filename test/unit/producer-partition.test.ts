import { describe, expect, test } from 'vitest';
import { PartitionChunker, type ChunkerLimits } from '../../shared/core/chunker.ts';
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
