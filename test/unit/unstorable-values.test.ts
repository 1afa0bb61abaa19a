import { describe, expect, test } from 'vitest';
import { findUnstorableValues, showNul } from '../../shared/core/unstorable-values.ts';

const text = { name: 't', input: 0, jsonb: false };
const doc = { name: 'j', input: 1, jsonb: true };

describe('findUnstorableValues', () => {
  test('a NUL anywhere is 22021, reported once per row for its first column, with its position', () => {
    const found = findUnstorableValues([text, doc], [
      ['ok', 'a\u0000b', null, '\u0000'],
      ['{}', '"\u0000"', '{"x":"\\u0000"}', null],
    ]);

    expect(found).toEqual([
      { row: 1, column: 't', sqlstate: '22021', problem: expect.stringContaining('NUL byte (0x00) at character 2') },
      { row: 2, column: 'j', sqlstate: '22P05', problem: expect.stringContaining('\\u0000') },
      { row: 3, column: 't', sqlstate: '22021', problem: expect.stringContaining('at character 1') },
    ]);
  });

  test.each([
    ['an escaped backslash before u0000 in jsonb', true, '{"x":"\\\\u0000"}'],
    ['a JSON escape in a text column', false, '{"x":"\\u0000"}'],
    ['jsonb text that is not JSON (the cast reports it)', true, 'not json \\u0000'],
  ])('%s is not refused', (_label, jsonb, value) => {
    expect(findUnstorableValues([{ name: 'c', input: 0, jsonb }], [[value]])).toEqual([]);
  });

  test('showNul replaces every NUL with ␀ and leaves other values alone', () => {
    expect(showNul('a\u0000b\u0000')).toBe('a\u2400b\u2400');
    expect(showNul('plain')).toBe('plain');
    expect(showNul(null)).toBeNull();
  });
});
