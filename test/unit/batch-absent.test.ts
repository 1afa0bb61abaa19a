import { describe, expect, it } from 'vitest';
import { batchRowCount } from '../../shared/core/batch.ts';

const batch = (absent: Record<string, number[]> | undefined, email: (string | null)[] = [null, 'b@x', null]) => ({
  batchId: 'b1',
  columns: ['id', 'email'],
  rowNumbers: [1, 2, 3],
  values: [['1', '2', '3'], email],
  absent,
});

describe('a batch with absent values (keys an NDJSON object did not carry)', () => {
  it('counts its rows when the absent rows are ascending, in range and null', () => {
    expect(batchRowCount(batch({ email: [0, 2] }))).toBe(3);
    expect(batchRowCount(batch({}))).toBe(3);
    expect(batchRowCount(batch(undefined))).toBe(3);
  });

  it('refuses absent rows of a column the batch does not carry', () => {
    expect(() => batchRowCount(batch({ name: [0] }))).toThrow(/absent values of column "name"/);
  });

  it('refuses absent rows out of order or out of range', () => {
    expect(() => batchRowCount(batch({ email: [2, 0] }))).toThrow(/ascending row indexes below 3/);
    expect(() => batchRowCount(batch({ email: [3] }))).toThrow(/ascending row indexes below 3/);
  });

  it('refuses an absent row that holds a value', () => {
    expect(() => batchRowCount(batch({ email: [1] }))).toThrow(/row 1 is absent but has a value/);
  });
});
