import { describe, expect, test } from 'vitest';
import { batchIdOf, fileArrivalOf, fileIdOf, type BatchData } from '../../shared/core/batch.ts';
import { BatchMessageError, parseBatchMessage } from '../../shared/core/batch-message.ts';
import { decodeBatch, encodeBatch } from '../../shared/producer/batch-object.ts';
import { UnreadableFileError } from '../../shared/core/read/errors.ts';
import { fileTypeOfKey } from '../../shared/core/read/file-format.ts';
import { batchKeyOf, isRejectedKey, movedAsideKeysOf } from '../../shared/core/keys.ts';

function batchFactory(overrides: Partial<BatchData> = {}): BatchData {
  const file = { bucket: 'in', key: 'orders/a.csv', versionId: null, etag: 'e', eventTime: '2026-01-01T00:00:00Z' };
  const fileId = fileIdOf(file);
  return {
    format: 1,
    batchId: batchIdOf(fileId, 0, 0),
    fileId,
    file,
    table: 'orders',
    partition: 0,
    chunk: 0,
    arrival: fileArrivalOf(file),
    columns: ['id', 'name'],
    rowNumbers: [1, 2],
    values: [
      ['1', '2'],
      ['a', null],
    ],
    ...overrides,
  };
}

describe('batch objects', () => {
  test('encoding is byte-for-byte deterministic', async () => {
    expect((await encodeBatch(batchFactory())).equals(await encodeBatch(batchFactory()))).toBe(true);
  });

  test('field order of the input does not change the bytes', async () => {
    const { values, ...rest } = batchFactory();
    const reordered = { values, ...rest } as BatchData;
    expect((await encodeBatch(reordered)).equals(await encodeBatch(batchFactory()))).toBe(true);
  });

  test('decoding gives the batch back', async () => {
    expect(await decodeBatch(await encodeBatch(batchFactory()))).toEqual(batchFactory());
  });

  test('the batch key is a function of table, file, partition and chunk', () => {
    expect(batchKeyOf('orders', 'f1', 3, 12)).toBe('batches/orders/f1/3-12.json.gz');
  });

  test('moved-aside files and their reasons live under rejected/, which is never produced', () => {
    const keys = movedAsideKeysOf('orders/a.csv');
    expect([keys, isRejectedKey(keys.file)]).toEqual([{ file: 'rejected/orders/a.csv', reason: 'rejected/orders/a.csv.reason.json' }, true]);
  });
});

describe('fileTypeOfKey', () => {
  test.each([
    ['t/a.csv', 'csv', false],
    ['t/a.CSV.GZ', 'csv', true],
    ['t/a.ndjson', 'ndjson', false],
    ['t/a.jsonl.gz', 'ndjson', true],
    ['t/a.parquet', 'parquet', false],
    ['t/a.parquet.gz', 'parquet', true],
  ])('%s is %s (gzip by name: %s)', (key, format, gzipByName) => {
    expect(fileTypeOfKey(key)).toEqual({ format, gzipByName });
  });

  test.each(['t/a.txt', 't/a', 't/a.gz', 't/csv'])('%s is unsupported', (key) => {
    expect(() => fileTypeOfKey(key)).toThrow(UnreadableFileError);
  });
});

describe('parseBatchMessage', () => {
  const message = {
    format: 1,
    batchId: 'b',
    fileId: 'f',
    table: 'orders',
    partition: 0,
    chunk: 0,
    batchCount: 1,
    stagingKey: 'k',
    manifestKey: 'm',
    rows: 1,
    firstRow: 1,
    lastRow: 1,
  };

  test('reads a valid message', () => {
    expect(parseBatchMessage(JSON.stringify(message))).toEqual(message);
  });

  test('names the invalid field', () => {
    expect(() => parseBatchMessage(JSON.stringify({ ...message, partition: -1 }))).toThrow(/partition/);
  });

  test('a body that is not JSON is a batch message error', () => {
    expect(() => parseBatchMessage('{')).toThrow(BatchMessageError);
  });
});
