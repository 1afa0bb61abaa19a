import { describe, expect, test } from 'vitest';
import { planColumnAdditions } from '../../shared/core/evolve-plan.ts';
import { column } from '../helpers/catalog-factory.ts';
import { tableConfig } from '../helpers/engine.ts';

const catalog = { columns: [column('id', 'int4'), column('name')] };
const batch = (columns: Record<string, (string | null)[]>) => ({ columns: Object.keys(columns), values: Object.values(columns) });

describe('planColumnAdditions', () => {
  const evolving = tableConfig({ table: 't', conflictKey: ['id'], schema: 'evolve', delete: { column: '_op', equals: 'D' } });

  test.each([
    ['text for plain values', ['red', null, '5'], 'text'],
    ['jsonb when every value is a JSON object or array', ['{"a":1}', null, ' [1,2]'], 'jsonb'],
    ['text when one value is not JSON', ['{"a":1}', '{oops'], 'text'],
    ['text for a column of NULLs', [null, null], 'text'],
  ])('%s', (_label, values, type) => {
    expect(planColumnAdditions(evolving, catalog, batch({ id: ['1', '2', '3'].slice(0, values.length), extra: values }))).toEqual([{ name: 'extra', type }]);
  });

  test('known columns and the tombstone column are not added', () => {
    expect(planColumnAdditions(evolving, catalog, batch({ id: ['1'], name: ['a'], _op: ['D'] }))).toEqual([]);
  });

  test('a strict table never adds a column', () => {
    const strict = tableConfig({ table: 't', conflictKey: ['id'] });
    expect(planColumnAdditions(strict, catalog, batch({ id: ['1'], colour: ['red'] }))).toEqual([]);
  });
});
