/**
 * The type matrix (test/integration/type-matrix.test.ts): for every built-in type family, values
 * as a file spells them (CSV text, also sent as NDJSON strings and Parquet VARCHAR), values in
 * the formats' own types (NDJSON numbers, booleans, objects and arrays; Parquet's native types
 * written by DuckDB) with the PostgreSQL text of the same value, and other spellings of some of
 * them that PostgreSQL holds equal (re-sent, they must count `unchanged`).
 */
export interface MatrixColumn {
  name: string;
  type: string;
  /** Values as PostgreSQL text; the CSV file carries them as they are. */
  text: string[];
  /** NDJSON values in JSON's own types, with the PostgreSQL text of the same value. */
  json?: { value: unknown; pg: string }[];
  /** Parquet values in Parquet's own types (a DuckDB expression), with the PostgreSQL text of the same value. */
  parquet?: { duck: string; pg: string }[];
  /** Other spellings of `text[i]`, by index: re-sent, the row counts unchanged. */
  respell?: Record<number, string>;
  /** A value PostgreSQL cannot store in the column, and the SQLSTATE it refuses it with. */
  unstorable?: [string, string];
}

const raw = (text: string): unknown => (JSON as unknown as { rawJSON(t: string): unknown }).rawJSON(text);

export const MATRIX_SETUP = [
  `CREATE TYPE matrix_mood AS ENUM ('sad', 'ok', 'happy')`,
  `CREATE DOMAIN matrix_posint AS int CHECK (VALUE > 0)`,
  `CREATE DOMAIN matrix_price AS numeric(10,2)`,
];

export const MATRIX: MatrixColumn[] = [
  {
    name: 'i2', unstorable: ['32768', '22003'],
    type: 'smallint',
    text: ['0', '-32768', '32767', ' 42 ', '0x1F', '1_000', '-0'],
    json: [{ value: 12, pg: '12' }, { value: -32768, pg: '-32768' }],
    parquet: [{ duck: 'CAST(-32768 AS SMALLINT)', pg: '-32768' }],
    respell: { 3: '+42', 4: '31' },
  },
  {
    name: 'i4', unstorable: ['1.5', '22P02'],
    type: 'integer',
    text: ['-2147483648', '2147483647', '+7', '0o17', '0b101'],
    json: [{ value: 2147483647, pg: '2147483647' }],
    parquet: [{ duck: 'CAST(-2147483648 AS INTEGER)', pg: '-2147483648' }],
    respell: { 2: '007', 3: '15' },
  },
  {
    name: 'i8', unstorable: ['9223372036854775808', '22003'],
    type: 'bigint',
    text: ['-9223372036854775808', '9223372036854775807', '9007199254740993'],
    json: [{ value: raw('9007199254740993'), pg: '9007199254740993' }],
    parquet: [{ duck: 'CAST(9223372036854775807 AS BIGINT)', pg: '9223372036854775807' }, { duck: 'CAST(9007199254740993 AS BIGINT)', pg: '9007199254740993' }],
    respell: { 2: ' +9007199254740993' },
  },
  {
    name: 'num', unstorable: ['1e131072', '22003'],
    type: 'numeric',
    text: ['0', '-0', '1.10', '123456789012345678901234567890.123456789', 'NaN', 'Infinity', '-Infinity', '1e-20', '1E+5', '.5'],
    json: [{ value: raw('123456789012345678901234567890.123456789'), pg: '123456789012345678901234567890.123456789' }, { value: raw('1e-20'), pg: '1e-20' }],
    parquet: [
      { duck: 'CAST(1.10 AS DECIMAL(38,9))', pg: '1.100000000' },
      { duck: 'CAST(-12345678901.1234 AS DECIMAL(38,9))', pg: '-12345678901.123400000' },
      { duck: `CAST('123456789012345678.123456789' AS DECIMAL(38,9))`, pg: '123456789012345678.123456789' },
    ],
    respell: { 2: '1.1', 8: '100000', 9: '0.50' },
  },
  {
    name: 'num_ps', unstorable: ['10000', '22003'],
    type: 'numeric(7,3)',
    text: ['1234.5675', '-0.0005', '9999.9994', '0.0004'],
    json: [{ value: 1.0005, pg: '1.0005' }],
    parquet: [{ duck: 'CAST(1.0005 AS DECIMAL(9,4))', pg: '1.0005' }],
    respell: { 0: '1234.568' },
  },
  {
    name: 'f4', unstorable: ['1e39', '22003'],
    type: 'real',
    text: ['3.4028235e38', '1.17549435e-38', 'NaN', 'Infinity', '-Infinity', '-0', '0.1'],
    json: [{ value: 0.1, pg: '0.1' }],
    parquet: [{ duck: `CAST('NaN' AS FLOAT)`, pg: 'NaN' }, { duck: 'CAST(0.1 AS FLOAT)', pg: '0.1' }, { duck: `CAST('-0.0' AS FLOAT)`, pg: '-0' }],
    respell: { 2: 'nan', 6: '.1' },
  },
  {
    name: 'f8', unstorable: ['1e400', '22003'],
    type: 'double precision',
    text: ['1.7976931348623157e308', '5e-324', 'NaN', '-Infinity', '-0', '0.1'],
    json: [{ value: 1e308, pg: '1e308' }, { value: raw('-0'), pg: '-0' }, { value: 0.30000000000000004, pg: '0.30000000000000004' }],
    parquet: [{ duck: `CAST('Infinity' AS DOUBLE)`, pg: 'Infinity' }, { duck: `CAST('-0.0' AS DOUBLE)`, pg: '-0' }, { duck: 'CAST(5e-324 AS DOUBLE)', pg: '5e-324' }],
    respell: { 3: '-inf', 5: '1e-1' },
  },
  {
    name: 'b', unstorable: ['maybe', '22P02'],
    type: 'boolean',
    text: ['t', 'f', 'true', 'FALSE', 'yes', 'no', 'on', 'off', '1', '0', ' y ', 'n'],
    json: [{ value: true, pg: 'true' }, { value: false, pg: 'false' }],
    parquet: [{ duck: 'true', pg: 'true' }, { duck: 'false', pg: 'false' }],
    respell: { 0: 'TRUE', 1: 'no', 10: 'on' },
  },
  {
    name: 't', unstorable: ['a\u0000b', '22021'],
    type: 'text',
    text: ['', 'hello, "world"', 'line\nbreak', 'tab\there', 'unicode ☃ 𝄞', 'back\\slash', 'NULL', '\\N', ' padded '],
  },
  { name: 'vc', unstorable: ['abcdef', '22001'], type: 'varchar(5)', text: ['abcde', 'ab', 'ab   ', 'abcde   '], respell: { 3: 'abcde' } },
  { name: 'ch', unstorable: ['abcde', '22001'], type: 'char(4)', text: ['ab', 'abcd', 'ab  ', 'abcd  '], respell: { 0: 'ab ', 3: 'abcd' } },
  {
    name: 'by', unstorable: ['\\xZZ', '22023'],
    type: 'bytea',
    text: ['\\x00ff10', '\\x', 'abc', '\\\\', '\\001\\377'],
    parquet: [{ duck: `'\\x00\\xFF\\x10'::BLOB`, pg: '\\x00ff10' }],
    respell: { 0: '\\x00FF10', 2: '\\x616263' },
  },
  {
    name: 'd', unstorable: ['2024-02-30', '22008'],
    type: 'date',
    text: ['2024-02-29', '1999-01-08', 'January 8, 1999', 'infinity', '-infinity', '0044-03-15 BC', '4713-01-01 BC', '5874897-12-31', '20240601'],
    parquet: [{ duck: `DATE '2024-02-29'`, pg: '2024-02-29' }, { duck: `DATE '1970-01-01'`, pg: '1970-01-01' }],
    respell: { 0: '20240229', 1: '1999-1-8' },
  },
  {
    name: 'tm', unstorable: ['25:00', '22008'],
    type: 'time',
    text: ['04:05:06.789', '24:00:00', '00:00', '23:59:59.9999995', '04:05 PM'],
    parquet: [{ duck: `TIME '04:05:06.789'`, pg: '04:05:06.789' }],
    respell: { 0: '04:05:06.7890', 4: '16:05' },
  },
  { name: 'ttz', unstorable: ['04:05 XYZ', '22007'], type: 'timetz', text: ['04:05:06+02', '04:05:06.5-08:00', '00:00:00+14:59', '12:00:00 PST'], respell: { 0: '04:05:06+0200' } },
  {
    name: 'ts', unstorable: ['294277-01-01', '22008'],
    type: 'timestamp',
    text: ['2024-03-10 02:30:00', '2000-01-01 00:00:00.0000005', 'infinity', '-infinity', '0001-01-01 00:00:00 BC', '294276-12-31 23:59:59', '2024-06-01T12:00:00+02', 'epoch'],
    parquet: [{ duck: `TIMESTAMP '2024-06-01 12:00:00.123456'`, pg: '2024-06-01 12:00:00.123456' }],
    respell: { 0: '2024-03-10T02:30', 7: '1970-01-01' },
  },
  { name: 'ts0', unstorable: ['yesterday-ish', '22007'], type: 'timestamp(0)', text: ['2024-01-01 00:00:00.5', '1999-12-31 23:59:59.5'], respell: { 0: '2024-01-01 00:00:01' } },
  {
    name: 'tstz', unstorable: ['garbage', '22007'],
    type: 'timestamptz',
    text: [
      '2024-03-10 02:30:00 America/New_York',
      '2024-11-03 01:30:00 America/New_York',
      '2024-03-31 02:30 Europe/Paris',
      'infinity',
      '-infinity',
      '4714-11-24 00:00:00+00 BC',
      '2024-06-01T00:00:00.123456789Z',
      '2024-06-01 00:00:00',
    ],
    parquet: [{ duck: `TIMESTAMPTZ '2024-06-01 00:00:00.123456+00'`, pg: '2024-06-01 00:00:00.123456+00' }],
    respell: { 0: '2024-03-10 07:30:00Z', 6: '2024-06-01 02:00:00.123457+02' },
  },
  {
    name: 'iv', unstorable: ['1 fortnight', '22007'],
    type: 'interval',
    text: ['1 year 2 months 3 days 04:05:06.789', 'P1Y2M3DT4H5M6S', '-1 day +2 hours', '@ 1 minute ago', 'infinity', '1.5 months', '00:00:00.0000005'],
    // Parquet's INTERVAL (12 bytes) is not decoded by hyparquet: such a file is moved aside whole (see docs).
    respell: { 1: '1 year 2 mons 3 days 4 hours 5 minutes 6 seconds', 3: '-00:01:00' },
  },
  {
    name: 'u', unstorable: ['not-a-uuid', '22P02'],
    type: 'uuid',
    text: ['A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12}', 'a0eebc999c0b4ef8bb6d6bb9bd380a13', '00000000-0000-0000-0000-000000000000'],
    parquet: [{ duck: `'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID`, pg: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' }],
    respell: { 0: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' },
  },
  {
    name: 'js', unstorable: ['{', '22P02'],
    type: 'json',
    text: ['{"b":1,"a":2}', '[1, 2.50, 1e2]', '"str"', 'null', '{"big": 123456789012345678901234567890}', '"\\u00e9"'],
    json: [{ value: { a: 1, b: [true, null] }, pg: '{"a":1,"b":[true,null]}' }, { value: '"a JSON string, as its JSON text"', pg: '"a JSON string, as its JSON text"' }],
    parquet: [{ duck: `'{"a": [1, 2]}'::JSON`, pg: '{"a": [1, 2]}' }],
    respell: { 0: '{ "a": 2, "b": 1 }', 1: '[1,2.50,1e2]' },
  },
  {
    name: 'jb', unstorable: ['{"a":"\\u0000"}', '22P05'],
    type: 'jsonb',
    text: ['{"b":1,"a":2}', '{"a":1,"a":2}', '[1, 2.50, 1e2]', '"str"', '{"big": 123456789012345678901234567890}', '"\\u00e9"'],
    json: [{ value: { a: 1, b: [true, null] }, pg: '{"a":1,"b":[true,null]}' }, { value: raw('123456789012345678901234567890'), pg: '123456789012345678901234567890' }],
    parquet: [{ duck: `'{"a": [1, 2]}'::JSON`, pg: '{"a": [1, 2]}' }],
    respell: { 0: '{"a": 2, "b": 1}', 1: '{"a":2}', 2: '[1,2.5,100]' },
  },
  {
    name: 'ai', unstorable: ['{1,x}', '22P02'],
    type: 'int[]',
    text: ['{1,2,3}', '{}', '{{1,2},{3,4}}', '[0:1]={5,6}', '{NULL,1}'],
    json: [{ value: [1, 2, 3], pg: '{1,2,3}' }, { value: [[1, 2], [3, 4]], pg: '{{1,2},{3,4}}' }, { value: [], pg: '{}' }],
    parquet: [{ duck: 'CAST([1, NULL, 3] AS INTEGER[])', pg: '{1,NULL,3}' }, { duck: 'CAST([] AS INTEGER[])', pg: '{}' }],
    respell: { 0: '[1,2,3]', 2: '[[1,2],[3,4]]', 4: '{ NULL , 1 }' },
  },
  {
    name: 'at', unstorable: ['{"a"', '22P02'],
    type: 'text[]',
    text: ['{"a,b","c\\"d",NULL,"NULL"}', '{a,b}', '{" x "}'],
    json: [{ value: ['a,b', 'c"d', null, 'NULL'], pg: '{"a,b","c\\"d",NULL,"NULL"}' }],
    parquet: [{ duck: `CAST(['a,b', NULL] AS VARCHAR[])`, pg: '{"a,b",NULL}' }],
    respell: { 1: '["a","b"]' },
  },
  {
    name: 'af',
    type: 'double precision[]',
    text: ['{NaN,Infinity,-Infinity,-0,0.1}', '{1.5,-0,1e308}'],
    json: [{ value: [1.5, raw('-0'), 1e-300], pg: '{1.5,-0,1e-300}' }],
    parquet: [{ duck: `CAST(['NaN', 'Infinity', '-Infinity', '-0.0', '0.1'] AS DOUBLE[])`, pg: '{NaN,Infinity,-Infinity,-0,0.1}' }],
    respell: { 0: '{nan,inf,-inf,-0.0,1e-1}' },
    unstorable: ['{1,x}', '22P02'],
  },
  { name: 'en', unstorable: ['angry', '22P02'], type: 'matrix_mood', text: ['sad', 'happy', 'ok'] },
  { name: 'dm', unstorable: ['0', '23514'], type: 'matrix_posint', text: ['5', '0x10', ' 7'], json: [{ value: 9, pg: '9' }], respell: { 1: '16' } },
  { name: 'dp', unstorable: ['123456789.123', '22003'], type: 'matrix_price', text: ['2.504', '-0.005', '1e3'], json: [{ value: 2.5, pg: '2.5' }], respell: { 0: '2.50', 2: '1000' } },
  { name: 'ip', unstorable: ['999.1.1.1', '22P02'], type: 'inet', text: ['192.168.0.1', '192.168.0.1/24', '::ffff:1.2.3.4', '2001:db8::1/64', '10.0.0.0/8'], respell: { 0: '192.168.0.1/32' } },
  { name: 'cd', unstorable: ['192.168.1.1/24', '22P02'], type: 'cidr', text: ['192.168.0.0/24', '10/8', '2001:db8::/32', '192.168.1'], respell: { 1: '10.0.0.0/8' } },
  { name: 'mac', unstorable: ['zz', '22P02'], type: 'macaddr', text: ['08:00:2b:01:02:03', '08-00-2B-01-02-04', '0800.2b01.0205', '08002b010206'], respell: { 0: '08-00-2B-01-02-03' } },
  { name: 'mac8', unstorable: ['zz', '22P02'], type: 'macaddr8', text: ['08:00:2b:01:02:03:04:05', '08:00:2b:01:02:03'], respell: { 0: '08002b0102030405' } },
  { name: 'r4', unstorable: ['[5,1)', '22000'], type: 'int4range', text: ['[1,5)', '(1,5]', 'empty', '[,10)', '(,)'], respell: { 1: '[2,6)', 0: '[1,4]' } },
  { name: 'rts', unstorable: ['[2024-02-01,2024-01-01)', '22000'], type: 'tstzrange', text: ['[2024-01-01 00:00+00,2024-02-01 00:00+00)', '[2024-01-01 00:00+00,infinity)'], respell: { 0: '["2024-01-01T01:00:00+01","2024-02-01T00:00:00Z")' } },
  { name: 'rn', unstorable: ['[a,b]', '22P02'], type: 'numrange', text: ['[1.5,2.50]', '(0,1)'], respell: { 0: '[1.50,2.5]' } },
  { name: 'rd', unstorable: ['[2024-01-01', '22P02'], type: 'daterange', text: ['[2024-01-01,2024-01-31]', '(2024-01-01,2024-01-05)'], respell: { 0: '[2024-01-01,2024-02-01)' } },
  { name: 'pt', unstorable: ['(1)', '22P02'], type: 'point', text: ['(1,2)', '1.5, -2', '( 0 , 0 )', '(1e300,-1e-300)'], respell: { 0: '1,2', 1: '(1.50,-2.0)' } },
  { name: 'ln', unstorable: ['{0,0,1}', '22P02'], type: 'line', text: ['{1,-1,0}', '[(0,0),(1,1)]'], respell: { 0: '{ 1 , -1 , 0 }' } },
  { name: 'ls', unstorable: ['[(0,0)]', '22P02'], type: 'lseg', text: ['[(0,0),(1,1)]', '((0,0),(2,2))'], respell: { 0: '(0,0),(1,1)' } },
  { name: 'bx', unstorable: ['(1,1)', '22P02'], type: 'box', text: ['(1,1),(0,0)', '((0,0),(1,1))'], respell: { 0: '(0,0),(1,1)' } },
  { name: 'pa', unstorable: ['[(0,0)', '22P02'], type: 'path', text: ['[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(2,0))'], respell: { 0: '[ (0,0) , (1,1) , (2,0) ]' } },
  { name: 'pg', unstorable: ['((0,0),(1', '22P02'], type: 'polygon', text: ['((0,0),(1,1),(1,0))', '(0,0),(2,2),(2,0)'], respell: { 0: '(0,0),(1,1),(1,0)' } },
  { name: 'ci', unstorable: ['<(0,0),-1>', '22P02'], type: 'circle', text: ['<(0,0),1>', '((1,1),2)'], respell: { 0: '0,0,1' } },
  { name: 'x', unstorable: ['<a>', '2200N'], type: 'xml', text: ['<a/>', `<a x='1'>t</a>`, 'plain text', '<?xml version="1.0"?><doc/>'], respell: { 0: '<a></a>', 1: '<a x="1">t</a>' } },
  { name: 'bt', unstorable: ['10101', '22026'], type: 'bit(4)', text: ['1010', '0000', 'xA'], respell: { 0: 'xA' } },
  { name: 'vb', unstorable: ['2', '22P02'], type: 'varbit', text: ['1', '', '101010101', 'xFF'], respell: { 3: '11111111' } },
];
