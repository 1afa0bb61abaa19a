import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { formatProgress, measureProgress, progressOn } from '../../cli/progress.ts';
import type { FileReceipt } from '../../shared/postgres/ledger/files.ts';
import { captureIo } from '../helpers/cli.ts';

const receipt = (fields: Partial<FileReceipt>): FileReceipt => ({
  file: 'items/a.csv', bucket: 'inbox', fileId: 'f', table: 'items', status: 'pending', batches: 40, batchesApplied: 10,
  read: 100_000, rejected: 0, collapsed: 0, inserted: 25_000, updated: 0, unchanged: 0, stale: 0, deleted: 0, quarantined: 0,
  registeredAt: '', reason: null, reasonCode: null, movedTo: null, previousOutcome: null, state: 'in progress', loaded: 25_000, removed: 0, ...fields,
});

test('rows/s, MB/s and the ETA come from the applied batches and the time so far', () => {
  // 10 of 40 batches of a 40 MB file in 5 s: a quarter of 40 MB in 5 s, 15 s to go.
  const p = measureProgress('a.csv', 40e6, 5000, receipt({}));

  expect(p).toEqual({ file: 'a.csv', batchesApplied: 10, batches: 40, rows: 25_000, rowsPerSecond: 5000, mbPerSecond: 2, etaSeconds: 15 });
  expect(formatProgress(p)).toBe('a.csv 10/40 batches, 25,000 rows, 5,000 rows/s, 2.0 MB/s, ETA 15s');
});

test('before the file is registered there is no total and no ETA', () => {
  expect(formatProgress(measureProgress('a.csv', 1e6, 2000, null))).toBe('a.csv waiting for the producer, 0 rows, 0 rows/s, 0.0 MB/s, ETA -');
});

test('while a large file is read, the batches already applied show (it is registered only after its manifest)', () => {
  expect(formatProgress(measureProgress('a.csv', 1e6, 2000, null, { batches: 12, rows: 120_000 }))).toBe('a.csv being read, 12 batches applied, 120,000 rows, 60,000 rows/s, 0.0 MB/s, ETA -');
});

test('when stderr is not a terminal, a plain line is written every interval until the file is done', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'landfall-progress-'));
  writeFileSync(join(dir, 'a.csv'), 'x'.repeat(1000));
  const io = captureIo();
  const progress = progressOn(io, true, 20);

  const tracker = progress.track('a.csv', join(dir, 'a.csv'));
  tracker.update(receipt({}));
  await new Promise((r) => setTimeout(r, 70));
  tracker.done();
  const written = io.err();
  await new Promise((r) => setTimeout(r, 50));

  expect(written).toMatch(/^landfall: a\.csv 10\/40 batches, 25,000 rows, [\d,]+ rows\/s, [\d.]+ MB\/s, ETA \d+s\n/);
  expect(io.err()).toBe(written);
  progress.stop();
});

test('no progress at all when it is off', async () => {
  const io = captureIo();
  const tracker = progressOn(io, false, 5).track('a.csv', 'a.csv');
  tracker.update(receipt({}));
  await new Promise((r) => setTimeout(r, 30));
  tracker.done();
  expect(io.err()).toBe('');
});
