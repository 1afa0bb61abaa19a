import { describe, expect, test } from 'vitest';
import { readNdjson } from '../../shared/core/read/read-ndjson.ts';
import type { SourceEvent } from '../../shared/core/read/records.ts';
import { chunked, collect } from '../helpers/producer-files.ts';

const read = (text: string | Uint8Array, size = 4) => collect(readNdjson(chunked(text, size)));
const rowsOf = (events: SourceEvent[]) => events.flatMap((e) => (e.kind === 'row' ? [e.values] : []));
const reasonsOf = (events: SourceEvent[]) => events.flatMap((e) => (e.kind === 'reject' ? [[e.line, e.reason]] : []));

describe('readNdjson', () => {
  test('the first object gives the columns', async () => {
    expect((await read('{"id":1,"name":"a"}\n'))[0]).toEqual({ kind: 'columns', names: ['id', 'name'] });
  });

  test('null is NULL, numbers and booleans their JSON text, strings as they are', async () => {
    expect(rowsOf(await read('{"a":null,"b":1.50,"c":true,"d":"x\\ny"}\n'))).toEqual([[null, '1.50', 'true', 'x\ny']]);
  });

  test('numbers keep the text they had: no rounding through a double, nested ones too', async () => {
    const rows = rowsOf(await read('{"id":9007199254740993,"amount":0.10000000000000000001,"doc":{"n":12345678901234567890}}\n'));
    expect(rows).toEqual([['9007199254740993', '0.10000000000000000001', '{"n":12345678901234567890}']]);
  });

  test('a nested object or array is its JSON text', async () => {
    expect(rowsOf(await read('{"a":{"k":[1,{"z":null}]},"b":[]}\n'))).toEqual([['{"k":[1,{"z":null}]}', '[]']]);
  });

  test('a key missing from a later object is absent there, not NULL; an explicit null is a value', async () => {
    const events = await read('{"id":1,"name":"a"}\n{"id":2}\n{"id":3,"name":null}\n');
    const rows = events.flatMap((e) => (e.kind === 'row' ? [[e.values, e.absent ?? []]] : []));
    expect(rows).toEqual([
      [['1', 'a'], []],
      [['2', null], [1]],
      [['3', null], []],
    ]);
  });

  test('a key no earlier object had extends the columns; the earlier keys an object lacks are absent', async () => {
    const events = await read('{"id":1,"a":1}\n{"extra":3,"id":2}\n');
    expect(events.map((e) => (e.kind === 'row' ? ['row', e.values, e.absent ?? []] : e.kind === 'columns' ? ['columns', e.names, e.extends ?? false] : [e.kind]))).toEqual([
      ['columns', ['id', 'a'], false],
      ['row', ['1', '1'], []],
      ['columns', ['id', 'a', 'extra'], true],
      ['row', ['2', null, '3'], [1]],
    ]);
    expect(reasonsOf(events)).toEqual([]);
  });

  test('invalid JSON is rejected with its line and the rest goes on', async () => {
    const events = await read('{"id":1}\n{"id":\n{"id":3}\n');
    expect([reasonsOf(events).map(([line]) => line), rowsOf(events)]).toEqual([[2], [['1'], ['3']]]);
  });

  test('a line that is not an object is rejected', async () => {
    expect(reasonsOf(await read('{"id":1}\n[1,2]\n'))).toEqual([[2, 'not a JSON object (got an array)']]);
  });

  test('a line that is a bare number is rejected, not read as an object (numbers are parsed keeping their text)', async () => {
    expect(reasonsOf(await read('{"id":1}\n42\n'))).toEqual([[2, 'not a JSON object (got number)']]);
  });

  test('invalid UTF-8 is rejected', async () => {
    const bytes = Buffer.concat([Buffer.from('{"id":1}\n{"id":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]);
    expect(reasonsOf(await read(bytes))).toEqual([[2, 'not valid UTF-8']]);
  });

  test('blank lines, CRLF and a missing final newline are fine', async () => {
    expect(rowsOf(await read('{"id":1}\r\n\r\n{"id":2}'))).toEqual([['1'], ['2']]);
  });

  test('a BOM before the first object is ignored', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"id":1}\n')]);
    expect(rowsOf(await read(bytes, 2))).toEqual([['1']]);
  });

  test('a line longer than the limit is rejected without stopping the file', async () => {
    const text = `{"id":1}\n{"id":"${'x'.repeat(500)}"}\n{"id":3}\n`;
    const events = await collect(readNdjson(chunked(text, 16), { maxLineBytes: 100 }));
    expect([reasonsOf(events), rowsOf(events)]).toEqual([[[2, 'line longer than 100 bytes']], [['1'], ['3']]]);
  });

  test('rows are numbered without blank lines, rejects included', async () => {
    const events = await read('{"id":1}\n\nnope\n{"id":4}\n');
    expect(events.flatMap((e) => (e.kind === 'columns' ? [] : [[e.row, e.line]]))).toEqual([
      [1, 1],
      [2, 3],
      [3, 4],
    ]);
  });
});
