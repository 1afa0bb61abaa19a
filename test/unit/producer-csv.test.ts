import { parse as parseSync } from 'csv-parse/sync';
import { describe, expect, test } from 'vitest';
import { UnreadableFileError } from '../../shared/core/read/errors.ts';
import { readCsv, unclosedQuoteOf } from '../../shared/core/read/read-csv.ts';
import type { SourceEvent } from '../../shared/core/read/records.ts';
import { chunked, collect } from '../helpers/producer-files.ts';

const rowsOf = (events: SourceEvent[]) => events.flatMap((e) => (e.kind === 'row' ? [e.values] : []));
const rejectsOf = (events: SourceEvent[]) => events.filter((e) => e.kind === 'reject');
const read = (text: string | Uint8Array, size = 5) => collect(readCsv(chunked(text, size)));

describe('readCsv', () => {
  test('yields the header as the columns', async () => {
    const events = await read('id,name\n1,a\n');
    expect(events[0]).toMatchObject({ kind: 'columns', names: ['id', 'name'] });
  });

  test('an unquoted empty field is NULL, a quoted empty field the empty string', async () => {
    expect(rowsOf(await read('id,a,b\n1,,""\n'))).toEqual([['1', null, '']]);
  });

  test('a quoted field keeps its newline', async () => {
    expect(rowsOf(await read('id,note\n1,"two\nlines"\n'))).toEqual([['1', 'two\nlines']]);
  });

  test('a row with a quoted newline is numbered by the line it starts on', async () => {
    const events = await read('id,note\n1,"two\nlines"\n2,x\n');
    expect(events.filter((e) => e.kind === 'row').map((e) => e.kind === 'row' && [e.row, e.line])).toEqual([
      [1, 2],
      [2, 4],
    ]);
  });

  test('doubled quotes are one quote', async () => {
    expect(rowsOf(await read('id,note\n1,"say ""hi"""\n'))).toEqual([['1', 'say "hi"']]);
  });

  test('a UTF-8 BOM is not part of the first column name', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('id,name\n1,a\n')]);
    expect((await read(bytes, 2))[0]).toMatchObject({ kind: 'columns', names: ['id', 'name'] });
  });

  test('CRLF line endings leave no carriage return in values', async () => {
    expect(rowsOf(await read('id,name\r\n1,a\r\n2,b\r\n'))).toEqual([
      ['1', 'a'],
      ['2', 'b'],
    ]);
  });

  test('CR alone ends a line too, and a CRLF split between chunks is one line end', async () => {
    const events = await read('id,name\r1,a\r\n2,"b\r\nc"\r\n3,d\n', 1);
    expect(events.flatMap((e) => (e.kind === 'row' ? [[e.line, ...e.values]] : []))).toEqual([
      [2, '1', 'a'],
      [3, '2', 'b\r\nc'],
      [5, '3', 'd'],
    ]);
  });

  test('blank lines are skipped and the next row keeps its own line number', async () => {
    const events = await read('id,name\n\n1,a\r\n\r\n2,b\n');
    expect(events.flatMap((e) => (e.kind === 'row' ? [[e.row, e.line]] : []))).toEqual([
      [1, 3],
      [2, 5],
    ]);
  });

  test('text after a closing quote is part of the field, as COPY reads it', async () => {
    expect(rowsOf(await read('id,name\n1,"a,b"c\n'))).toEqual([['1', 'a,bc']]);
  });

  test('invalid UTF-8 inside a quoted field that spans chunks is found', async () => {
    const bytes = Buffer.concat([Buffer.from('id,name\n1,"x\n'), Buffer.from([0xc3]), Buffer.from('y"\n2,b\n')]);
    const events = await read(bytes, 3);
    expect(rejectsOf(events).map((e) => e.kind === 'reject' && [e.row, e.line, e.reason.split(' (')[0]])).toEqual([[1, 2, 'field "name" is not valid UTF-8']]);
    expect(rowsOf(events)).toEqual([['2', 'b']]);
  });

  test('an empty trailing line is not a row', async () => {
    const events = await read('id,name\n1,a\n\n');
    expect(events.filter((e) => e.kind !== 'columns')).toHaveLength(1);
  });

  test('a last line without a newline is a row', async () => {
    expect(rowsOf(await read('id,name\n1,a'))).toEqual([['1', 'a']]);
  });

  test('multi-byte characters split across chunks survive', async () => {
    expect(rowsOf(await read('id,name\n1,Zoë 日本\n', 1))).toEqual([['1', 'Zoë 日本']]);
  });

  test('a wide row of 2,000 columns and a 1 MB field is read whole', async () => {
    const names = Array.from({ length: 2000 }, (_, i) => `c${i}`);
    const big = 'x'.repeat(1024 * 1024);
    const values = names.map((_, i) => (i === 1999 ? big : String(i)));
    const rows = rowsOf(await read(`${names.join(',')}\n${values.join(',')}\n`, 64 * 1024));
    expect(rows[0]).toEqual(values);
  });

  test('a row with the wrong number of fields is rejected with its line and the rest goes on', async () => {
    const events = await read('id,name\n1,a\n2\n3,c\n');
    expect(rejectsOf(events)).toMatchObject([
      { kind: 'reject', row: 2, line: 3, reason: 'expected 2 fields (as the header), got 1', raw: '2' },
    ]);
    expect(rowsOf(events)).toEqual([
      ['1', 'a'],
      ['3', 'c'],
    ]);
  });

  test('invalid UTF-8 rejects the row and names the field', async () => {
    const bytes = Buffer.concat([Buffer.from('id,name\n1,'), Buffer.from([0xff, 0xfe]), Buffer.from('\n2,b\n')]);
    const events = await read(bytes);
    expect(rejectsOf(events).map((e) => e.kind === 'reject' && e.reason)).toEqual([
      'field "name" is not valid UTF-8 (the file is read as UTF-8; if it is written in another encoding, set the table\'s "format": { "encoding": "windows-1252" } or "latin1")',
    ]);
    expect(rowsOf(events)).toEqual([['2', 'b']]);
  });

  test('a quote that is never closed: the rows before it are read, and every line from it on is its own reject', async () => {
    const events = await read('id,name\n1,a\n\n2,"open\n3,c\n4,d\n');
    expect(events.filter((e) => e.kind === 'row').map((e) => e.kind === 'row' && e.row)).toEqual([1]);
    const rejects = events.flatMap((e) => (e.kind === 'reject' ? [e] : []));
    expect(rejects.map((r) => [r.row, r.line, r.raw])).toEqual([
      [2, 4, '2,"open'],
      [3, 5, '3,c'],
      [4, 6, '4,d'],
    ]);
    expect(rejects[0]!.reason).toMatch(/^line 4 \(row 2, field "name"\): a quoted field opens here and is never closed/);
    expect(rejects[1]!.reason).toBe('inside the quoted field that opens at line 4 (row 2, field "name") and is never closed');
  });

  test('the unclosed quote is found after closed ones, doubled quotes and quoted newlines in the same record', async () => {
    const events = await read('a,b,c\n1,"x ""y""\nz","open\n2,3,4\n');
    const rejects = events.flatMap((e) => (e.kind === 'reject' ? [e] : []));
    expect(rejects.map((r) => r.line)).toEqual([2, 3, 4]);
    expect(rejects[1]!.reason).toMatch(/^line 3 \(row 1, field "c"\): a quoted field opens here/);
  });

  test.each([
    ['a quote inside an unquoted field', 'ab"c,d', null],
    ['a closed quoted field', '"a""b",c', null],
    ['an open quote in the third field', 'a,"b","c', { offset: 6, field: 2 }],
  ])('unclosedQuoteOf: %s', (_label, raw, expected) => {
    expect(unclosedQuoteOf(raw)).toEqual(expected);
  });

  test('rows are numbered after the header, rejects included', async () => {
    const events = await read('id,name\n1,a\nbad\n3,c\n');
    expect(events.flatMap((e) => (e.kind === 'columns' ? [] : [e.row]))).toEqual([1, 2, 3]);
  });

  test('an empty file is unreadable', async () => {
    await expect(read('')).rejects.toThrow(UnreadableFileError);
  });

  test('a header with no rows yields only the columns', async () => {
    expect(await read('id,name\n')).toMatchObject([{ kind: 'columns', names: ['id', 'name'] }]);
  });

  test('an unclosed quote that runs past the record limit makes the file unreadable', async () => {
    const text = `id,name\n1,"${'x'.repeat(5000)}`;
    await expect(collect(readCsv(chunked(text, 100), { maxRecordBytes: 1000 }))).rejects.toThrow(/no end of record within 1000 bytes from line 2/);
  });
});

describe('readCsv against csv-parse (a second reader of RFC 4180)', () => {
  // Random files of well-formed records (quoted fields with commas, doubled quotes and line
  // breaks; CRLF or LF; multi-byte characters), read in random chunk sizes: both readers must
  // give the same rows.
  const pieces = ['a', 'bc', ' ', 'é', '日本', '😀', '1.5', ''];
  const quotedPieces = [...pieces, ',', '""', '\n', '\r\n'];
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const fieldOf = () => {
    const quoted = random(3) === 0;
    const from = quoted ? quotedPieces : pieces;
    const text = Array.from({ length: random(4) }, () => from[random(from.length)]).join('');
    return quoted ? `"${text}"` : text;
  };

  test.each(Array.from({ length: 40 }, (_, i) => i))('random file %i', async () => {
    const eol = random(2) ? '\r\n' : '\n';
    const columns = 1 + random(4);
    const lines = [Array.from({ length: columns }, (_, c) => `c${c}`).join(',')];
    for (let r = 0; r < 1 + random(30); r++) {
      const fields = Array.from({ length: columns }, fieldOf);
      if (columns === 1 && fields[0] === '') fields[0] = '""';
      lines.push(fields.join(','));
    }
    const text = lines.join(eol) + eol;
    const expected = parseSync(text, { relax_column_count: true, from_line: 2, record_delimiter: eol, cast: (v, c) => (v === '' && !c.quoting ? null : v) });
    expect(rowsOf(await read(text, 1 + random(40)))).toEqual(expected);
  });
});
