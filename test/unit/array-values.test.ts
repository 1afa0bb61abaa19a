import { describe, expect, test } from 'vitest';
import { arrayElementsOf, pgArrayOfJsonText, withArrayLiterals } from '../../shared/core/array-values.ts';

describe('pgArrayOfJsonText: a JSON array as the array literal PostgreSQL reads as the same array', () => {
  test.each([
    ['[1,2,3]', false, '{"1","2","3"}'],
    [' [9007199254740993, 0.10000000000000000001]', false, '{"9007199254740993","0.10000000000000000001"}'],
    ['["a,b", "c\\"d", "e\\\\f", "NULL", null, ""]', false, '{"a,b","c\\"d","e\\\\f","NULL",NULL,""}'],
    ['[[1,2],[3,4]]', false, '{{"1","2"},{"3","4"}}'],
    ['[true,false]', false, '{true,false}'],
    ['[]', false, '{}'],
    ['[{"a":1},[2],"s",3,null]', true, '{"{\\"a\\":1}","[2]","\\"s\\"","3",NULL}'],
  ])('%s (json elements: %s) → %s', (json, jsonElements, literal) => {
    expect(pgArrayOfJsonText(json, jsonElements)).toBe(literal);
  });

  test.each(['{1,2}', '[1:2]={1,2}', '[1,2', '"[1]"', '{"a":1}', ''])('%s is not a JSON array: left alone', (text) => {
    expect(pgArrayOfJsonText(text, false)).toBeNull();
  });

  test('withArrayLiterals rewrites only JSON arrays of the named inputs and copies nothing else', () => {
    const values = [['[1]', '{2}', null], ['[1]']];
    const out = withArrayLiterals([{ input: 0, jsonElements: false }], values);
    expect(out[0]).toEqual(['{"1"}', '{2}', null]);
    expect(out[1]).toBe(values[1]);
    expect(withArrayLiterals([], values)).toBe(values);
  });
});

describe('arrayElementsOf: the elements of an array literal with their subscripts', () => {
  test('one dimension, quoted, unquoted and NULL', () => {
    expect(arrayElementsOf('{1, "a,b" , NULL,"NULL", c\\,d}')).toEqual([
      { position: '[1]', value: '1' },
      { position: '[2]', value: 'a,b' },
      { position: '[3]', value: null },
      { position: '[4]', value: 'NULL' },
      { position: '[5]', value: 'c,d' },
    ]);
  });
  test('two dimensions and explicit bounds', () => {
    expect(arrayElementsOf('{{1,2},{3,x}}')!.map((e) => e.position)).toEqual(['[1][1]', '[1][2]', '[2][1]', '[2][2]']);
    expect(arrayElementsOf('[0:1]={a,b}')!.map((e) => e.position)).toEqual(['[0]', '[1]']);
    expect(arrayElementsOf('{}')).toEqual([]);
  });
  test.each(['{1,2', '1,2}', '{1,,2}', '{1} x', '[1:2]{1,2}'])('%s is malformed: null', (text) => {
    expect(arrayElementsOf(text)).toBeNull();
  });
});
