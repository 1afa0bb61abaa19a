import { constants, createZstdCompress, gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import type { BatchData } from '../../shared/core/batch.ts';
import { batchOfColumns } from '../helpers/batches.ts';
import { BatchMessageError, parseBatchMessage } from '../../shared/core/batch-message.ts';
import { JsonColumn } from '../../shared/core/json-column.ts';
import { batchJsonOf, decodeBatch, encodeBatch } from '../../shared/producer/batch-object.ts';
import { UnreadableFileError } from '../../shared/core/read/errors.ts';
import { fileTypeOfKey } from '../../shared/core/read/file-format.ts';
import { batchKeyOf, isRejectedKey, movedAsideKeysOf } from '../../shared/core/keys.ts';

function batchFactory(overrides: Partial<BatchData> = {}): BatchData {
  const file = { bucket: 'in', key: 'orders/a.csv', versionId: null, etag: 'e', eventTime: '2026-01-01T00:00:00Z' };
  const values = [
    ['1', '2'],
    ['a', null],
  ];
  return { ...batchOfColumns('orders', file, ['id', 'name'], values), ...overrides };
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

  test('compressors kept from batch to batch write the bytes of a stream ended with the whole JSON, many batches at once too', async () => {
    // How batch objects were compressed before the compressors were kept: pinned, a re-run must write the same bytes.
    const endedWith = (json: Buffer) =>
      new Promise<Buffer>((resolve, reject) => {
        const z = createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: 3 } });
        const chunks: Buffer[] = [];
        z.on('data', (c: Buffer) => chunks.push(c));
        z.once('error', reject);
        z.once('end', () => resolve(Buffer.concat(chunks)));
        z.end(json);
      });
    // Rows enough for several MiB of JSON (more than one write of the compressor), and small ones.
    const batches = [1, 40_000, 3, 150_000, 1_000, 40_000].map((rows) => {
      const ids = new JsonColumn();
      const names = new JsonColumn();
      for (let r = 0; r < rows; r++) {
        ids.push(String(r));
        names.push(r % 9 === 0 ? null : `customer ${r % 777} "ü"`);
      }
      return { ...batchFactory(), rowNumbers: Array.from({ length: rows }, (_, i) => i + 1), values: [ids, names] };
    });
    const objects = await Promise.all(batches.map((b) => encodeBatch(b)));
    for (const [i, object] of objects.entries()) {
      const json = await batchJsonOf(object);
      expect(object.equals(await endedWith(json))).toBe(true);
      expect((JSON.parse(json.toString('utf8')) as BatchData).rowNumbers).toHaveLength(batches[i]!.rowNumbers.length);
    }
    // One after another (each compressor used again) too.
    for (const [i, b] of batches.entries()) expect((await encodeBatch(b)).equals(objects[i]!)).toBe(true);
  });

  test('an object is zstd, told by its magic bytes', async () => {
    expect([...(await encodeBatch(batchFactory())).subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
  });

  test('an object written as gzip JSON by an earlier version still decodes', async () => {
    const old = gzipSync(JSON.stringify(batchFactory()), { level: 1 });
    expect(await decodeBatch(old)).toEqual(batchFactory());
  });

  test('values given as JSON columns encode to the same bytes as plain arrays', async () => {
    const plain = batchFactory();
    const columns = plain.values.map((values) => {
      const column = new JsonColumn();
      for (const v of values) column.push(v);
      return column;
    });
    expect((await encodeBatch({ ...plain, values: columns })).equals(await encodeBatch(plain))).toBe(true);
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
    ['t/a.csv', { format: 'csv', compressionByName: null }],
    ['t/a.CSV.GZ', { format: 'csv', compressionByName: 'gzip' }],
    ['t/a.tsv.zst', { format: 'csv', compressionByName: 'zstd', delimiterHint: '\t' }],
    ['t/a.psv', { format: 'csv', compressionByName: null, delimiterHint: '|' }],
    ['t/a.txt.bz2', { format: 'csv', compressionByName: 'bzip2' }],
    ['t/a.ndjson', { format: 'ndjson', compressionByName: null }],
    ['t/a.jsonl.gz', { format: 'ndjson', compressionByName: 'gzip' }],
    ['t/a.json', { format: 'ndjson', compressionByName: null }],
    ['t/a.parquet', { format: 'parquet', compressionByName: null }],
    ['t/a.parquet.gz', { format: 'parquet', compressionByName: 'gzip' }],
  ])('%s is %o', (key, type) => {
    expect(fileTypeOfKey(key)).toEqual(type);
  });

  test.each(['t/a.xlsx', 't/a', 't/a.gz', 't/csv', 't/a.csv.rar'])('%s is unsupported', (key) => {
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

describe('JsonColumn', () => {
  const tricky = ['', 'plain', 'say "hi"', 'back\\slash', 'tab\there', 'line\nbreak', '\u0000nul', '\u007f', 'Zoë 日本', '😀', '\ud800 lone', 'x'.repeat(70_000), null];

  test('writes each value as JSON.stringify does', () => {
    const column = new JsonColumn();
    for (const v of tricky) column.push(v);
    expect(Buffer.concat(column.parts()).toString('utf8')).toBe(tricky.map((v) => JSON.stringify(v)).join(','));
    expect(column.values()).toEqual(tricky.map((v) => (typeof v === 'string' ? JSON.parse(JSON.stringify(v)) : v)));
  });

  test('counts its bytes across segments', () => {
    const column = new JsonColumn();
    for (let i = 0; i < 5000; i++) column.push(`value ${i}`);
    expect(column.byteLength).toBe(Buffer.byteLength(Array.from({ length: 5000 }, (_, i) => JSON.stringify(`value ${i}`)).join(',')));
  });
});
