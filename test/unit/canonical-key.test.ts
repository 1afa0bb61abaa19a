import { describe, expect, test } from 'vitest';
import { canonicalizerFor, canonicalKey } from '../../shared/core/canonical-key.ts';
import { CASE_INSENSITIVE, EQUAL_SPELLINGS, keyColumn } from '../helpers/key-spellings.ts';

const col = keyColumn;
const ci = CASE_INSENSITIVE;

describe('canonicalizerFor: spellings PostgreSQL holds equal get one form', () => {
  test.each(EQUAL_SPELLINGS)('$label', ({ column, timeZone, equal, other }) => {
    const c = canonicalizerFor(column, timeZone);
    const forms = new Set(equal.map((s) => c.canonical(s)));

    expect([...forms]).toHaveLength(1);
    expect(c.canonical(other)).not.toBe([...forms][0]);
  });
});

describe('canonical forms', () => {
  test.each([
    [col('int8'), '+0005', '5'],
    [col('numeric'), '01.50', '1.5'],
    [col('numeric'), '1e3', '1000'],
    [col('uuid'), '{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
    [col('date'), '20240601', '2024-06-01'],
    [col('bool'), 'YES', 'true'],
  ])('%o: %s → %s', (column, input, expected) => {
    expect(canonicalizerFor(column).canonical(input)).toBe(expected);
  });

  test('a value the type cannot read is partitioned as written (the database rejects it)', () => {
    expect(canonicalizerFor(col('int8')).canonical('five')).toBe('five');
    expect(canonicalizerFor(col('uuid')).canonical('not-a-uuid')).toBe('not-a-uuid');
    expect(canonicalizerFor(col('date')).canonical('2024-02-30')).toBe('2024-02-30');
  });

  test('a big integer beyond a double stays exact', () => {
    const c = canonicalizerFor(col('int8'));
    expect(c.canonical('9007199254740993')).not.toBe(c.canonical('9007199254740992'));
  });
});

describe('exactness, for doctor', () => {
  test.each([
    ['int8', true],
    ['interval', false],
    ['bytea', false],
    ['_int4', false],
    ['float4', false],
  ])('%s exact: %s', (baseType, exact) => {
    expect(canonicalizerFor(col(baseType)).exact).toBe(exact);
  });

  test('an enum is exact as written; a tailored nondeterministic collation is not', () => {
    expect(canonicalizerFor(col('mood', { category: 'E' })).exact).toBe(true);
    expect(canonicalizerFor(col('text', { collation: { name: 'de_phone', deterministic: false, locale: 'de-u-co-phonebk-ks-level1' } })).exact).toBe(false);
    expect(canonicalizerFor(col('text', { collation: ci })).exact).toBe(true);
  });

  test('timestamptz is exact in any session zone this runtime knows, not in one it does not', () => {
    expect(canonicalizerFor(col('timestamptz'), 'Etc/UTC').exact).toBe(true);
    expect(canonicalizerFor(col('timestamptz'), 'Europe/Paris').exact).toBe(true);
    expect(canonicalizerFor(col('timestamptz'), 'Mars/Olympus_Mons').exact).toBe(false);
    expect(canonicalizerFor(col('timestamptz'), 'Mars/Olympus_Mons').canonical('2024-06-01 00:00')).toBe('2024-06-01 00:00');
  });
});

describe('canonicalKey', () => {
  test('keeps NULL, maps each column through its own canonicalizer; no snapshot keeps the raw values', () => {
    const cs = [canonicalizerFor(col('int8')), canonicalizerFor(col('text'))];
    expect(canonicalKey(cs, ['05', 'A'])).toEqual(['5', 'A']);
    expect(canonicalKey(cs, [null, 'A'])).toEqual([null, 'A']);
    expect(canonicalKey(null, ['05', 'A'])).toEqual(['05', 'A']);
  });
});
