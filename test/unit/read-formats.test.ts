import { describe, expect, test } from 'vitest';
import { compressionOf, jsonShapeOf } from '../../shared/core/read/file-format.ts';
import { readJsonArray } from '../../shared/core/read/read-json-array.ts';
import type { SourceEvent } from '../../shared/core/read/records.ts';
import { chooseDelimiter } from '../../shared/core/read/sniff.ts';
import { numberReaderOf, valueConverterOf } from '../../shared/core/read/value-format.ts';
import { chunked, collect } from '../helpers/producer-files.ts';

describe('the delimiter sniffer, against files whose delimiter is known', () => {
  const known = (...names: string[]) => (name: string) => names.includes(name);
  // Each file written with its delimiter; the table knows its header names (or, for the last ones, none).
  const files: [string, string, string, ((n: string) => boolean) | undefined][] = [
    ['comma CSV', 'id,name,amount\n1,a,2.5\n2,b,3\n', ',', known('id', 'name', 'amount')],
    ['an Excel export (semicolons, decimal commas)', 'id;name;amount\r\n1;Müller;1.234,50\r\n2;"A, B";3,00\r\n', ';', known('id', 'name', 'amount')],
    ['TSV whose values hold commas', 'id\tnote\n1\ta, b, c\n2\td, e\n', '\t', known('id', 'note')],
    ['pipes', 'id|name\n1|x,y\n', '|', known('id', 'name')],
    ['a one-column file', 'id\n1\n2\n', ',', known('id')],
    ['semicolons, the table knowing only the key', 'id;free text, with commas;x\n1;a, b;c\n', ';', known('id')],
    ['comma CSV, no table columns known: sniffed', 'a,b,c\n1,2,3\n4,5,6\n', ',', undefined],
    ['semicolons, no table columns known: sniffed', 'a;b;c\n1;2,5;3\n4;5,5;6\n', ';', undefined],
    ['tabs, no table columns known: sniffed', 'a\tb\n"x\ty"\t2\n3\t4\n', '\t', undefined],
    ['pipes with quoted pipes and commas: sniffed', 'a|b|c\n"1|2"|x,y|3\n4|5|6\n', '|', undefined],
  ];
  test.each(files)('%s', (_name, text, delimiter, knows) => {
    expect(chooseDelimiter(text, { quote: '"', ...(knows ? { known: knows } : {}) }).delimiter).toBe(delimiter);
  });

  test('the extension\'s delimiter is tried first; lines before the header are skipped; a headerless file fits its field count', () => {
    expect(chooseDelimiter('a b\n1 2\n', { quote: '"', preferred: '\t' }).delimiter).toBe('\t');
    expect(chooseDelimiter('exported 2026-01-05, by me\nid;name\n1;a\n', { quote: '"', skip: 1, known: (n) => n === 'id' }).delimiter).toBe(';');
    expect(chooseDelimiter('1;a,b;x\n2;c,d;y\n', { quote: '"', fieldCount: 3 }).delimiter).toBe(';');
  });
});

describe('numbers and dates written the local way', () => {
  test.each([
    [',', '.', '1.234,50', '1234.50'],
    [',', '.', '-1.234.567,5', '-1234567.5'],
    [',', '', '3,14', '3.14'],
    [',', '.', ',5', '0.5'],
    ['.', ',', '1,234.5', '1234.5'],
    [',', ' ', '1 234,5', '1234.5'],
    [',', '.', '1,5e3', '1.5e3'],
  ])('decimal %s thousands %s: %s is %s', (decimal, thousands, text, expected) => {
    expect(numberReaderOf(decimal, thousands)(text)).toBe(expected);
  });

  test.each([
    [',', '.', '1.5'],
    [',', '.', '12.34.5'],
    [',', '.', 'abc'],
    [',', '.', ''],
  ])('decimal %s thousands %s: %s is left as written', (decimal, thousands, text) => {
    expect(numberReaderOf(decimal, thousands)(text)).toBeNull();
  });

  test('a converter rewrites numeric columns and dated columns only, and is null for today\'s profile', () => {
    const converter = valueConverterOf({ decimal: ',', thousands: '.', dates: { day: 'DD.MM.YYYY' } }, ['id', 'note', 'amount', 'day'], (c) => c === 'id' || c === 'amount')!;
    const values = ['1.000', '1.234,50', '1.234,50', '05.01.2026'];
    converter.convert(values);
    expect(values).toEqual(['1000', '1.234,50', '1234.50', '2026-01-05']);
    expect(valueConverterOf({ decimal: '.', thousands: '', dates: {} }, ['id'], null)).toBeNull();
    expect(() => valueConverterOf({ decimal: ',', thousands: '', dates: {} }, ['id'], null)).toThrow(/column types/);
  });
});

describe('file shapes by their bytes', () => {
  test('compression by magic bytes', () => {
    expect(compressionOf(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0]))).toBe('gzip');
    expect(compressionOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0, 0, 0]))).toBe('zstd');
    expect(compressionOf(Buffer.from([0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59]))).toBe('bzip2');
    // A CSV whose header starts "BZh9" is not bzip2.
    expect(compressionOf(Buffer.from('BZh9,id,name\n'))).toBeNull();
  });

  test('a JSON file is an array when its first character is "["', () => {
    expect(jsonShapeOf(Buffer.from('\ufeff \n [{"a":1}]'))).toBe('json');
    expect(jsonShapeOf(Buffer.from('{"a":1}\n'))).toBe('ndjson');
  });
});

describe('readJsonArray', () => {
  const events = async (text: string, size = 3) => (await collect(readJsonArray(chunked(text, size)))).flat() as SourceEvent[];
  const rows = (all: SourceEvent[]) => all.flatMap((e): unknown[][] => (e.kind === 'row' ? [[e.row, e.line, e.values, e.absent ?? []]] : e.kind === 'reject' ? [[e.row, e.line, e.reason]] : []));

  test('reads each object of a pretty-printed array, keys differing, with the line it starts on', async () => {
    const text = '[\n  {"id": 1, "name": "a, [b]", "n": {"x": [1, 2]}},\n  {"id": 2,\n   "s": "}\\"{"}\n]\n';
    expect(rows(await events(text))).toEqual([
      [1, 2, ['1', 'a, [b]', '{"x":[1,2]}'], []],
      [2, 3, ['2', null, null, '}"{'], [1, 2]],
    ]);
  });

  test('an element that is not an object, or not JSON, is a counted reject; the rest goes on', async () => {
    expect(rows(await events('[{"id":1}, 42, "x", [1], {"id": }, {"id":3}]'))).toEqual([
      [1, 1, ['1'], []],
      [2, 1, 'array element 2 is not a JSON object (got number)'],
      [3, 1, 'array element 3 is not a JSON object (got string)'],
      [4, 1, 'array element 4 is not a JSON object (got an array)'],
      [5, 1, expect.stringMatching(/^invalid JSON/)],
      [6, 1, ['3'], []],
    ]);
  });

  test('resume points are just after each element: reading on from one gives the rest, numbered from there', async () => {
    const text = '[{"id":1},\n{"id":2},\n{"id":3}]';
    const all = await events(text, 4);
    const second = all.find((e) => e.kind === 'row' && e.row === 2)!;
    expect(text.slice(second.resume!.at)).toBe(',\n{"id":3}]');
    const rest = (await collect(readJsonArray(chunked(text.slice(second.resume!.at), 2), { resumed: { columns: ['id'] } }))).flat();
    expect(rest.map((e) => (e.kind === 'row' ? [e.row, e.line, e.values] : e.kind))).toEqual([[1, 2, ['3']]]);
  });

  test('a file that ends inside an element rejects that element; a file that is not an array is unreadable', async () => {
    expect(rows(await events('[{"id":1},{"id":2'))).toEqual([
      [1, 1, ['1'], []],
      [2, 1, 'array element 2 is cut off: the file ends inside it (a truncated file?)'],
    ]);
    await expect(events('{"id":1}')).rejects.toThrow(/not a JSON array/);
  });

  test('an element longer than the limit is rejected without being held', async () => {
    const text = `[{"id":1},{"id":"${'x'.repeat(5000)}"},{"id":3}]`;
    const all = (await collect(readJsonArray(chunked(text, 64), { maxElementBytes: 1000 }))).flat();
    expect(rows(all)).toEqual([
      [1, 1, ['1'], []],
      [2, 1, 'array element 2 is longer than 1000 bytes'],
      [3, 1, ['3'], []],
    ]);
  });
});
