import type { KeyColumnType } from '../../shared/core/canonical-key.ts';

export const keyColumn = (baseType: string, extra: Partial<KeyColumnType> = {}): KeyColumnType => ({ name: 'k', type: baseType, baseType, ...extra });
/** An ICU case-insensitive collation as `CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)` makes it. */
export const CASE_INSENSITIVE = { name: 'ci', deterministic: false, locale: 'und-u-ks-level2' };

/** Each row: a key column type, spellings PostgreSQL holds equal, and one it holds different (checked against PostgreSQL in test/integration/canonical-key-pg.test.ts). */
export const EQUAL_SPELLINGS: { label: string; column: KeyColumnType; timeZone?: string; equal: string[]; other: string }[] = [
  { label: 'bigint beyond a double', column: keyColumn('int8', { type: 'bigint' }), equal: ['9007199254740993', '09007199254740993', '+9007199254740993'], other: '9007199254740992' },
  { label: 'bigint', column: keyColumn('int8', { type: 'bigint' }), equal: ['5', '05', '+5', ' 5', '5 ', '0x5', '0b101', '0o5'], other: '-5' },
  { label: 'integer with underscores', column: keyColumn('int4', { type: 'integer' }), equal: ['1000', '1_000', '+0001000'], other: '100' },
  { label: 'smallint', column: keyColumn('int2', { type: 'smallint' }), equal: ['-7', ' -07 ', '-0x7'], other: '7' },
  { label: 'numeric', column: keyColumn('numeric'), equal: ['1.0', '1', '01.00', '+1.', '10e-1', '0.1E1', ' 1.000 '], other: '1.0001' },
  { label: 'numeric zero', column: keyColumn('numeric'), equal: ['0', '-0', '0.000', '0e5'], other: '0.001' },
  { label: 'numeric(10,2) rounds', column: keyColumn('numeric', { type: 'numeric(10,2)' }), equal: ['2.50', '2.5', '2.504', '2.495'], other: '2.51' },
  { label: 'numeric(10,2) negative half', column: keyColumn('numeric', { type: 'numeric(10,2)' }), equal: ['-2.505', '-2.51'], other: '-2.50' },
  { label: 'numeric NaN', column: keyColumn('numeric'), equal: ['NaN', 'nan', ' NAN '], other: '0' },
  { label: 'float8', column: keyColumn('float8', { type: 'double precision' }), equal: ['1.5', '1.50', '15e-1', ' +1.5'], other: '1.51' },
  { label: 'float8 zero', column: keyColumn('float8', { type: 'double precision' }), equal: ['0', '-0', '0.0'], other: '1e-300' },
  { label: 'text', column: keyColumn('text'), equal: ['Abc'], other: 'abc' },
  { label: 'char(n)', column: keyColumn('bpchar', { type: 'character(5)' }), equal: ['ab', 'ab ', 'ab   '], other: ' ab' },
  { label: 'citext', column: keyColumn('citext'), equal: ['Hello@Example.com', 'hello@example.com', 'HELLO@EXAMPLE.COM'], other: 'hello@example.org' },
  { label: 'case-insensitive collation', column: keyColumn('text', { collation: CASE_INSENSITIVE }), equal: ['Élan', 'ÉLAN', 'élan'], other: 'Elam' },
  { label: 'uuid', column: keyColumn('uuid'), equal: ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', 'a0eebc999c0b4ef8bb6d6bb9bd380a11', 'a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11'], other: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12' },
  { label: 'date', column: keyColumn('date'), equal: ['2024-06-01', '20240601', '2024-6-1', ' 2024-06-01 ', '2024-06-01 10:30', '2024-06-01T23:59:59+05'], other: '2024-06-02' },
  { label: 'timestamp', column: keyColumn('timestamp', { type: 'timestamp without time zone' }), equal: ['2024-06-01 00:00:00', '2024-06-01T00:00', '2024-06-01', '2024-06-01 00:00:00.000000', '2024-06-01 00:00:00+02'], other: '2024-06-01 00:00:01' },
  { label: 'timestamp(0) rounds', column: keyColumn('timestamp', { type: 'timestamp(0) without time zone' }), equal: ['2024-06-01 10:00:00', '2024-06-01 09:59:59.5', '2024-06-01 10:00:00.4'], other: '2024-06-01 10:00:00.5' },
  { label: 'timestamp(0) before 2000 rounds half away from 2000-01-01', column: keyColumn('timestamp', { type: 'timestamp(0) without time zone' }), equal: ['1999-06-01 10:00:00', '1999-06-01 10:00:00.5', '1999-06-01 09:59:59.6'], other: '1999-06-01 09:59:59.5' },
  { label: 'timestamp far from now', column: keyColumn('timestamp', { type: 'timestamp without time zone' }), equal: ['2400-02-29 12:00', '2400-02-29T12:00:00.000'], other: '2400-02-29 12:00:00.000001' },
  { label: 'timestamptz', column: keyColumn('timestamptz', { type: 'timestamp with time zone' }), equal: ['2024-06-01T00:00:00Z', '2024-06-01 02:00:00+02', '2024-05-31 19:00-05', '2024-06-01 05:30:00+0530', '2024-06-01 00:00:00', '2024-06-01T00:00:00.000000Z', '2024-06-01T01:00:00.0+01:00', ' 2024-06-01T00:00:00Z '], other: '2024-06-01T00:00:00+01' },
  { label: 'timestamptz in a session zone', column: keyColumn('timestamptz', { type: 'timestamp with time zone' }), timeZone: 'Europe/Paris', equal: ['2024-06-01 02:00:00', '2024-06-01T00:00:00Z', '2024-06-01 02:00:00+02'], other: '2024-06-01 00:00:00' },
  { label: 'timestamptz: a local time that does not exist (spring forward) reads as the offset before', column: keyColumn('timestamptz', { type: 'timestamp with time zone' }), timeZone: 'America/New_York', equal: ['2018-03-11 02:30', '2018-03-11 03:30:00-04', '2018-03-11T07:30:00Z'], other: '2018-03-11 01:30' },
  { label: 'timestamptz: a local time that exists twice (fall back) reads as the offset after', column: keyColumn('timestamptz', { type: 'timestamp with time zone' }), timeZone: 'America/New_York', equal: ['2018-11-04 01:30', '2018-11-04 01:30-05', '2018-11-04T06:30Z'], other: '2018-11-04 01:30-04' },
  { label: 'timestamptz: fall back in Europe', column: keyColumn('timestamptz', { type: 'timestamp with time zone' }), timeZone: 'Europe/Paris', equal: ['2024-10-27 02:30', '2024-10-27 02:30+01', '2024-10-27T01:30Z'], other: '2024-10-27 02:30+02' },
  { label: 'timestamptz: spring forward in Europe', column: keyColumn('timestamptz', { type: 'timestamp with time zone' }), timeZone: 'Europe/Paris', equal: ['2024-03-31 02:30', '2024-03-31 01:30Z', '2024-03-31 03:30+02', '2024-03-31 03:30'], other: '2024-03-31 01:30' },
  { label: 'boolean', column: keyColumn('bool', { type: 'boolean' }), equal: ['true', 't', 'TRUE', 'yes', 'y', 'on', '1', ' True '], other: 'false' },
  { label: 'boolean false', column: keyColumn('bool', { type: 'boolean' }), equal: ['false', 'f', 'no', 'off', 'of', '0', 'FALSE'], other: 't' },
];

