import { describe, expect, test } from 'vitest';
import { ConfigError, parseConfig } from '../../shared/core/config.ts';
import { DEFAULT_FORMAT, textOnlyFieldsSet } from '../../shared/core/format-config.ts';
import { compileDatePattern } from '../../shared/core/read/date-pattern.ts';

function problemsOf(format: unknown): string[] {
  try {
    parseConfig({ tables: [{ table: 'eu', conflictKey: ['id'], format }] }, 'landfall.json');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('the format profile of a table', () => {
  test('without one, a table reads today\'s files: comma or auto, a header, UTF-8 or a BOM, "." decimals', () => {
    const [table] = parseConfig({ tables: [{ table: 'eu', conflictKey: ['id'] }] }).tables;

    expect(table!.format).toEqual({ delimiter: 'auto', header: true, nullValues: [''], quote: '"', encoding: 'auto', decimal: '.', thousands: '', dates: {}, trim: false });
    expect(textOnlyFieldsSet(table!.format)).toEqual([]);
  });

  test('the issue\'s example profile (with "header": false for its "fields") parses as written', () => {
    const format = {
      delimiter: ';',
      header: false,
      fields: ['id', 'name', 'amount'],
      nullValues: ['', 'NULL', '\\N'],
      quote: '"',
      escape: '\\',
      encoding: 'windows-1252',
      decimal: ',',
      thousands: '.',
      dates: { day: 'DD.MM.YYYY', seen_at: 'DD.MM.YYYY HH24:MI' },
      trim: true,
    };

    expect(parseConfig({ tables: [{ table: 'eu', conflictKey: ['id'], format }] }).tables[0]!.format).toEqual(format);
    expect(textOnlyFieldsSet({ ...DEFAULT_FORMAT, ...format } as typeof DEFAULT_FORMAT)).toEqual(['delimiter', 'header', 'fields', 'nullValues', 'escape', 'encoding', 'decimal', 'thousands', 'trim']);
  });

  test('an unknown field gets a guess, in format and in format.header', () => {
    expect(problemsOf({ delimter: ';' })).toEqual(['table "eu": format: unknown field "delimter" (did you mean "delimiter"?)']);
    expect(problemsOf({ nullValue: ['NULL'] })).toEqual(['table "eu": format: unknown field "nullValue" (did you mean "nullValues"?)']);
    expect(problemsOf({ header: { skp: 2 } })).toEqual(['table "eu": format.header: must be true, false or { "skip": N } (N lines before the header line, 0 to 10000)']);
  });

  test('values that cannot work are refused, each with its field', () => {
    expect(problemsOf({ delimiter: ';;' })).toEqual(['table "eu": format.delimiter: must be one ASCII character: a tab or a printable one (or "auto")']);
    expect(problemsOf({ delimiter: '"' })).toEqual(['table "eu": format.quote: """ is the delimiter too']);
    expect(parseConfig({ tables: [{ table: 'eu', conflictKey: ['id'], format: { decimal: ',' } }] }).tables[0]!.format.decimal).toBe(',');
    expect(problemsOf({ delimiter: ',', decimal: ',' })).toEqual(['table "eu": format.decimal: "," is the delimiter too (set "delimiter": ";" for files with decimal commas)']);
    expect(problemsOf({ decimal: ',', thousands: ',' })).toEqual(['table "eu": format.thousands: "," is the decimal mark too']);
    expect(problemsOf({ header: false })).toEqual(['table "eu": format.fields: a file without a header line ("header": false) needs the column names, in order']);
    expect(problemsOf({ fields: ['id'] })[0]).toMatch(/^table "eu": format.fields: names the columns of a file without a header line; set "header": false/);
    expect(problemsOf({ encoding: 'utf16' })[0]).toMatch(/^table "eu": format.encoding: Invalid option: expected one of "auto"\|"utf-8"\|"utf-16le"/);
    expect(problemsOf({ dates: { day: 'DD.QQ.YYYY' } })[0]).toMatch(/^table "eu": format.dates.day: "DD.QQ.YYYY": unknown field at "QQ.YYYY"/);
    expect(problemsOf({ dates: { day: 'MM.YYYY' } })).toEqual(['table "eu": format.dates.day: "MM.YYYY" has no day (DD)']);
  });
});

describe('date patterns (PostgreSQL to_date / to_timestamp)', () => {
  test.each([
    ['DD.MM.YYYY', '05.01.2026', '2026-01-05'],
    ['DD.MM.YYYY', '5.1.2026', '2026-01-05'],
    // A separator matches any separator, as in PostgreSQL.
    ['DD.MM.YYYY', '05/01/2026', '2026-01-05'],
    ['DD.MM.YYYY HH24:MI', '05.01.2026 13:45', '2026-01-05 13:45:00'],
    ['MM/DD/YYYY HH12:MI AM', '01/05/2026 01:45 PM', '2026-01-05 13:45:00'],
    ['MM/DD/YYYY HH12:MI AM', '01/05/2026 12:10 am', '2026-01-05 00:10:00'],
    ['DD-Mon-YY', '05-Jan-26', '2026-01-05'],
    ['DD-Mon-YY', '05-JAN-99', '1999-01-05'],
    ['DD Month YYYY', '5 january 2026', '2026-01-05'],
    ['YYYYMMDD"T"HH24MISS', '20260105T134501', '2026-01-05 13:45:01'],
    ['DD.MM.YYYY HH24:MI:SS.US TZH:TZM', '05.01.2026 13:45:01.5 +01:00', '2026-01-05 13:45:01.000005+01:00'],
    ['DD.MM.YYYY HH24:MI:SS.FF3', '05.01.2026 13:45:01.5', '2026-01-05 13:45:01.5'],
  ])('%s reads %s as %s', (pattern, value, iso) => {
    expect(compileDatePattern(pattern).toIso(value)).toBe(iso);
  });

  test.each([
    ['DD.MM.YYYY', '2026-01-05'],
    ['DD.MM.YYYY', '05.01.26'],
    ['DD-Mon-YY', '05-Foo-26'],
    ['MM/DD/YYYY HH12:MI AM', '01/05/2026 13:45 PM'],
  ])('%s does not read %s (it is left as written, for PostgreSQL)', (pattern, value) => {
    expect(compileDatePattern(pattern).toIso(value)).toBeNull();
  });
});
