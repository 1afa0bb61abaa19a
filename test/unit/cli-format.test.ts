import { expect, test } from 'vitest';
import { alignedTable, fileBalance } from '../../cli/format.ts';
import type { FileReceipt } from '../../shared/postgres/ledger/files.ts';

function receipt(fields: Partial<FileReceipt>): FileReceipt {
  return {
    file: 'a.csv', bucket: 'inbox', fileId: 'f1', table: 't', status: 'complete', batches: 1, batchesApplied: 1,
    read: 10, rejected: 1, collapsed: 1, inserted: 5, updated: 1, unchanged: 0, stale: 0, deleted: 0, quarantined: 2,
    registeredAt: '2026-01-01T00:00:00Z', reason: null, reasonCode: null, movedTo: null, previousOutcome: null, state: 'complete with rejects', loaded: 7, removed: 0, ...fields,
  };
}

test('a complete file adds up when read = rejected + collapsed + inserted + updated + unchanged + stale + deleted + quarantined', () => {
  expect(fileBalance(receipt({}))).toEqual({ accounted: 10, missing: 0, addsUp: true });
});

test('a complete file with a row unaccounted for does not add up; missing counts it', () => {
  expect(fileBalance(receipt({ inserted: 4 }))).toEqual({ accounted: 9, missing: 1, addsUp: false });
});

test('a complete file with a row counted twice does not add up; missing is negative', () => {
  expect(fileBalance(receipt({ stale: 1 }))).toEqual({ accounted: 11, missing: -1, addsUp: false });
});

test('a file not complete yet is not judged', () => {
  expect(fileBalance(receipt({ status: 'pending', inserted: 0 })).addsUp).toBeNull();
});

test('alignedTable pads columns, right-aligns the named ones and leaves the last column unpadded', () => {
  expect(alignedTable([['A', 'N', 'NOTE'], ['xyz', '5', 'short'], ['b', '1,000', 'longer note']], new Set([1]))).toBe(
    ['A        N  NOTE', 'xyz      5  short', 'b    1,000  longer note'].join('\n'),
  );
});
