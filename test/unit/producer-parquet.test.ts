import { describe, expect, test } from 'vitest';
import { readParquet, type AsyncBuffer } from '../../shared/core/read/read-parquet.ts';
import { UnreadableFileError } from '../../shared/core/read/errors.ts';
import { collect, orderRows, parquetOf } from '../helpers/producer-files.ts';

function bufferOf(bytes: Buffer): AsyncBuffer {
  return {
    byteLength: bytes.length,
    slice: async (start, end) => bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + (end ?? bytes.length)) as ArrayBuffer,
  };
}

describe('readParquet', () => {
  test('the schema gives the columns', async () => {
    const events = await collect(readParquet(bufferOf(await parquetOf(orderRows(2)))));
    expect(events[0]).toEqual({ kind: 'columns', names: ['id', 'name', 'amount'] });
  });

  test('typed values travel as the same text as in a CSV', async () => {
    const events = await collect(readParquet(bufferOf(await parquetOf([{ id: 7, name: 'x', amount: 2.5, ok: true }]))));
    expect(events[1]).toEqual({ kind: 'row', row: 1, line: 1, values: ['7', 'x', '2.5', 'true'] });
  });

  test('null is NULL', async () => {
    const events = await collect(readParquet(bufferOf(await parquetOf([{ id: 1, name: null }, { id: 2, name: 'b' }]))));
    expect(events[1]).toMatchObject({ values: ['1', null] });
  });

  test('rows of several row groups are numbered across the file', async () => {
    const events = await collect(readParquet(bufferOf(await parquetOf(orderRows(25), { rowGroupSize: 10 }))));
    expect(events.flatMap((e) => (e.kind === 'row' ? [Number(e.values[0])] : []))).toEqual(
      events.flatMap((e) => (e.kind === 'row' ? [e.row] : [])),
    );
  });

  test('bytes that are not Parquet are unreadable', async () => {
    await expect(collect(readParquet(bufferOf(Buffer.from('id,name\n1,a\n'))))).rejects.toThrow(UnreadableFileError);
  });
});
