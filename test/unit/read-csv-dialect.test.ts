import { parse as parseSync } from 'csv-parse/sync';
import { describe, expect, test } from 'vitest';
import { UnreadableFileError } from '../../shared/core/read/errors.ts';
import { readCsv, type CsvDialect, type TextEncoding } from '../../shared/core/read/read-csv.ts';
import type { SourceEvent } from '../../shared/core/read/records.ts';
import { chunked, collect } from '../helpers/producer-files.ts';

const rowsOf = (events: SourceEvent[]) => events.flatMap((e) => (e.kind === 'row' ? [e.values] : []));
const read = (bytes: string | Uint8Array, dialect: Partial<CsvDialect>, size = 5) => collect(readCsv(chunked(bytes, size), { dialect }));

const CP1252_EXTRA: Record<string, number> = { '€': 0x80, '‚': 0x82, 'Š': 0x8a, '™': 0x99, 'Ÿ': 0x9f };
/** The text in an encoding (every char of it must exist there). */
function encode(text: string, encoding: TextEncoding, bom = false): Buffer {
  if (encoding === 'utf-8') return Buffer.concat([Buffer.from(bom ? [0xef, 0xbb, 0xbf] : []), Buffer.from(text, 'utf8')]);
  if (encoding === 'utf-16le') return Buffer.concat([Buffer.from(bom ? [0xff, 0xfe] : []), Buffer.from(text, 'utf16le')]);
  if (encoding === 'utf-16be') return Buffer.concat([Buffer.from(bom ? [0xfe, 0xff] : []), Buffer.from(text, 'utf16le').swap16()]);
  return Buffer.from([...text].map((c) => CP1252_EXTRA[c] ?? c.charCodeAt(0)));
}

describe('readCsv with a dialect', () => {
  test('semicolons, Windows-1252 and CRLF: an Excel export', async () => {
    const bytes = encode('id;name;amount\r\n1;Müller;1.234,50\r\n2;"Straße; Nr. 5";€ 3\r\n', 'windows-1252');
    expect(rowsOf(await read(bytes, { delimiter: ';', encoding: 'windows-1252' }))).toEqual([
      ['1', 'Müller', '1.234,50'],
      ['2', 'Straße; Nr. 5', '€ 3'],
    ]);
  });

  test('latin1 keeps 0x80-0x9f as the C1 controls it has there; windows-1252 reads them as its letters', async () => {
    const bytes = Buffer.from([...Buffer.from('id,t\n1,'), 0x80, 0xe9, 0x0a]);
    expect(rowsOf(await read(bytes, { encoding: 'latin1' }))).toEqual([['1', '\u0080é']]);
    expect(rowsOf(await read(bytes, { encoding: 'windows-1252' }))).toEqual([['1', '€é']]);
  });

  test.each(['utf-16le', 'utf-16be'] as const)('%s with its BOM, in odd-sized chunks; the BOM decides under "auto"', async (encoding) => {
    const bytes = encode('id,name\r\n1,"Zoë, 日本 😀"\r\n2,b\r\n', encoding, true);
    for (const configured of [encoding, 'auto'] as const) {
      const events = await read(bytes, { encoding: configured }, 3);
      expect(events[0]).toMatchObject({ kind: 'columns', names: ['id', 'name'] });
      expect(rowsOf(events)).toEqual([
        ['1', 'Zoë, 日本 😀'],
        ['2', 'b'],
      ]);
    }
  });

  test('a NUL character in UTF-16 or Windows-1252 reaches the value as it is (the consumer quarantines it, 22021, as for UTF-8)', async () => {
    expect(rowsOf(await read(encode('id,t\n1,a\u0000b\n', 'utf-16le', true), {}))).toEqual([['1', 'a\u0000b']]);
    expect(rowsOf(await read(encode('id;t\n1;a\u0000b\n', 'windows-1252'), { delimiter: ';', encoding: 'windows-1252' }))).toEqual([['1', 'a\u0000b']]);
  });

  test('UTF-16 resume points are byte offsets of the file: reading from one gives the rest', async () => {
    const text = 'id,name\n1,a\n2,"b\nc"\n3,d\n';
    const bytes = encode(text, 'utf-16le', true);
    const events = await read(bytes, { encoding: 'utf-16le' }, 7);
    const two = events.find((e) => e.kind === 'row' && e.row === 2)!;
    expect(two.resume!.at).toBe(2 + 2 * 'id,name\n1,a\n2,"b\nc"\n'.length);
    expect(bytes.subarray(two.resume!.at).toString('utf16le')).toBe('3,d\n');
  });

  test('a BOM that names another encoding than the configured one refuses the file, naming the fix', async () => {
    const bytes = encode('id\n1\n', 'utf-16le', true);
    await expect(read(bytes, { encoding: 'windows-1252' })).rejects.toThrow(/starts with a UTF-16LE byte order mark, but the table's "format" says "encoding": "windows-1252": set "encoding": "utf-16le"/);
  });

  test('backslash escaping inside quotes (MySQL, Hive exports), and null markers only when unquoted', async () => {
    const text = 'id,note,n\n1,"say \\"hi\\", C:\\\\dir",\\N\n2,"\\N",NULL\n3,NULL,""\n';
    expect(rowsOf(await read(text, { escape: '\\', nullValues: ['', '\\N', 'NULL'] }))).toEqual([
      ['1', 'say "hi", C:\\dir', null],
      ['2', 'N', null],
      ['3', null, ''],
    ]);
  });

  test('trim strips whitespace around unquoted fields and around quotes, never inside them', async () => {
    expect(rowsOf(await read('id | name | x\n 1 |  " a b "  |  NULL \n', { delimiter: '|', trim: true, nullValues: ['NULL'] }))).toEqual([['1', ' a b ', null]]);
  });

  test('a header after N lines: the lines before it are counted, not read', async () => {
    const events = await read('exported by X\n"quotes, and; delimiters\nid,name\n1,a\n', { header: { skip: 2 } });
    expect(events.map((e) => (e.kind === 'columns' ? e.names : e.kind === 'row' ? [e.line, ...e.values] : e.kind))).toEqual([
      ['id', 'name'],
      [4, '1', 'a'],
    ]);
  });

  test('no header line: the fields name the columns, the first line is row 1', async () => {
    const events = await read('1,a\n2,b\n', { header: false, fields: ['id', 'name'] });
    expect(events.map((e) => (e.kind === 'columns' ? e.names : e.kind === 'row' ? [e.row, e.line, ...e.values] : e.kind))).toEqual([
      ['id', 'name'],
      [1, 1, '1', 'a'],
      [2, 2, '2', 'b'],
    ]);
  });

  test('a file that is all skipped lines has no header', async () => {
    await expect(read('a\nb\n', { header: { skip: 5 } })).rejects.toThrow(UnreadableFileError);
  });
});

describe('readCsv against csv-parse, for random dialects and encodings', () => {
  let seed = 11;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pick = <T>(xs: readonly T[]) => xs[random(xs.length)]!;

  test.each(Array.from({ length: 60 }, (_, i) => i))('random file %i', async () => {
    const delimiter = pick([',', ';', '\t', '|']);
    const quote = pick(['"', "'"]);
    const escape = pick([quote, '\\']);
    const trim = random(3) === 0;
    const nullValues = pick([[''], ['', 'NULL'], ['', '\\N', 'NULL']]);
    const encoding = pick(['utf-8', 'utf-16le', 'utf-16be', 'windows-1252', 'latin1'] as const);
    const eol = pick(['\n', '\r\n']);
    const letters = encoding === 'windows-1252' ? ['a', 'é', '€', 'Š'] : encoding === 'latin1' ? ['a', 'é', 'ß'] : ['a', 'é', '日本', '😀'];
    const plain = [...letters, 'bc', '1,5', 'NULL', ''].map((p) => p.replaceAll(delimiter, ''));
    const inQuotes = [...letters, delimiter, eol, 'NULL', ' ', quote, ...(escape !== quote ? [escape] : [])];
    const fieldOf = () => {
      const quoted = random(3) === 0;
      if (!quoted) {
        const text = Array.from({ length: random(3) }, () => pick(plain)).join('');
        return trim && random(2) ? ` ${text}  ` : text;
      }
      const text = Array.from({ length: random(4) }, () => pick(inQuotes))
        .join('')
        .replaceAll(escape, escape === quote ? escape : `${escape}${escape}`)
        .replaceAll(quote, `${escape}${quote}`)
        // a doubled escape of a doubled quote: undo the first replace's effect on the quote
        .replaceAll(escape === quote ? `${quote}${quote}${quote}${quote}` : '\u0000', `${quote}${quote}`);
      return trim && random(2) ? ` ${quote}${text}${quote} ` : `${quote}${text}${quote}`;
    };
    const columns = 1 + random(4);
    const skip = random(4) === 0 ? 1 + random(2) : 0;
    const headerless = skip === 0 && random(4) === 0;
    const lines: string[] = [];
    for (let k = 0; k < skip; k++) lines.push(`preamble ${k}`);
    if (!headerless) lines.push(Array.from({ length: columns }, (_, c) => `c${c}`).join(delimiter));
    for (let r = 0; r < 1 + random(25); r++) {
      const fields = Array.from({ length: columns }, fieldOf);
      if (columns === 1 && fields[0]!.trim() === '') fields[0] = `${quote}${quote}`;
      lines.push(fields.join(delimiter));
    }
    const text = lines.join(eol) + eol;
    const bom = (encoding === 'utf-8' || encoding.startsWith('utf-16')) && random(2) === 0;
    const bytes = encode(text, encoding, bom);

    const expected = parseSync(text, {
      delimiter,
      quote,
      escape,
      trim,
      relax_column_count: true,
      from_line: headerless ? 1 : skip + 2,
      record_delimiter: eol,
      cast: (value, context) => (!context.quoting && (value === '' || nullValues.includes(value)) ? null : value),
    });
    const dialect: Partial<CsvDialect> = { delimiter, quote, escape, trim, nullValues, encoding, header: headerless ? false : skip ? { skip } : true, ...(headerless ? { fields: Array.from({ length: columns }, (_, c) => `c${c}`) } : {}) };
    expect(rowsOf(await read(bytes, dialect, 1 + random(40)))).toEqual(expected);
  });
});

describe('every line counted under a stray quote (issue 19, item 5)', () => {
  test('a stray quote that a later line closes: its line is one reject and the good lines after it land', async () => {
    const lines = Array.from({ length: 21 }, (_, i) => `${i + 1},a,b,c,d,e,f,g`);
    // A stray quote on line 6, and an inch mark on line 7 that closes it: 6 fields over two lines.
    lines[4] = '5,a,"b,c,d,e,f,g';
    lines[5] = '6,a,b,c,d 5" screen,e,f,g';
    const events = await read(`id,c1,c2,c3,c4,c5,c6,c7\n${lines.join('\n')}\n`, {});

    expect(events.filter((e) => e.kind !== 'columns')).toHaveLength(21);
    const rejects = events.flatMap((e) => (e.kind === 'reject' ? [[e.row, e.line, e.raw]] : []));
    expect(rejects).toEqual([[5, 6, '5,a,"b,c,d,e,f,g']]);
    expect(rowsOf(events).map((r) => r[0])).toEqual(lines.flatMap((_, i) => (i === 4 ? [] : [String(i + 1)])));
    expect(rowsOf(events)[4]).toEqual(['6', 'a', 'b', 'c', 'd 5" screen', 'e', 'f', 'g']);
    expect(events.find((e) => e.kind === 'reject')).toMatchObject({ reason: expect.stringMatching(/^expected 8 fields \(as the header\), got 6: a quote on this line opens a field that a later line closes/) });
  });

  let seed = 5;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };

  // Random quote damage on good one-line records: every non-blank line is covered by exactly one
  // event (a row covers the lines its quoted line breaks span; a reject is one line), so `read`
  // counts every record the file holds, and every undamaged line that no accepted record took in
  // comes back as it was written.
  test.each(Array.from({ length: 60 }, (_, i) => i))('random damage %i', async () => {
    const columns = 2 + random(5);
    const count = 5 + random(40);
    const good = Array.from({ length: count }, (_, r) => Array.from({ length: columns }, (_, c) => `r${r}c${c}`).join(','));
    const lines = good.map((line) => {
      if (random(4) !== 0) return line;
      const at = random(line.length + 1);
      return line.slice(0, at) + '"' + line.slice(at);
    });
    const text = `${Array.from({ length: columns }, (_, c) => `h${c}`).join(',')}\n${lines.join('\n')}\n`;

    const events = (await read(text, {}, 1 + random(30))).filter((e) => e.kind !== 'columns');

    const covered: number[] = [];
    for (const e of events) {
      const spans = e.kind === 'row' ? e.values.join('').split('\n').length - 1 : 0;
      for (let k = 0; k <= spans; k++) covered.push(e.line + k);
    }
    expect(covered).toEqual(lines.map((_, i) => i + 2));
    const taken = new Set(events.flatMap((e) => (e.kind === 'row' && e.values.join('').includes('\n') ? [e.line] : [])));
    for (const e of events) {
      if (e.kind === 'row' && !taken.has(e.line) && lines[e.line - 2] === good[e.line - 2]) expect(e.values.join(',')).toBe(good[e.line - 2]);
    }
    expect(events.map((e) => e.row)).toEqual(events.map((_, i) => i + 1));
  });
});
