import { expect, test } from 'vitest';
import { displayStateOf, loadedOf } from '../../shared/postgres/ledger/files.ts';

const counts = { read: 10, collapsed: 0, inserted: 10, updated: 0, unchanged: 0, stale: 0, deleted: 0, quarantined: 0 };

test.each([
  ['complete, every row loaded', { status: 'complete', rejected: 0, ...counts }, 'complete'],
  ['complete with a producer reject', { status: 'complete', rejected: 1, ...counts, read: 11 }, 'complete with rejects'],
  ['complete with a quarantined row', { status: 'complete', rejected: 0, ...counts, inserted: 9, quarantined: 1 }, 'complete with rejects'],
  ['complete, every row rejected', { status: 'complete', rejected: 3, ...counts, read: 3, inserted: 0 }, 'complete, 0 loaded'],
  ['complete, every row quarantined', { status: 'complete', rejected: 0, ...counts, inserted: 0, quarantined: 10 }, 'complete, 0 loaded'],
  ['complete, no row at all', { status: 'complete', rejected: 0, ...counts, read: 0, inserted: 0 }, 'complete, 0 loaded'],
  ['complete, every row unchanged (loaded: it reached the table)', { status: 'complete', rejected: 0, ...counts, inserted: 0, unchanged: 10 }, 'complete'],
  ['pending', { status: 'pending', rejected: 0, ...counts }, 'in progress'],
  ['moved aside', { status: 'moved-aside', rejected: 0, ...counts, read: 0, inserted: 0 }, 'moved aside'],
  ['replaying', { status: 'replaying', rejected: 0, ...counts }, 'replaying'],
  ['blocked', { status: 'blocked', rejected: 0, ...counts }, 'blocked'],
] as const)('%s: %s', (_what, receipt, state) => {
  expect(displayStateOf(receipt)).toBe(state);
});

test('loaded counts every row that reached the table, not the rejected or quarantined ones', () => {
  expect(loadedOf({ read: 9, collapsed: 1, inserted: 2, updated: 1, unchanged: 1, stale: 1, deleted: 1, quarantined: 2 })).toBe(7);
});
