import { describe, expect, test } from 'vitest';
import type { CatalogColumn } from '../../shared/core/catalog-types.ts';
import { ConfigError, didYouMean, parseConfig } from '../../shared/core/config.ts';
import { hasMergeRules, mergeCatalogProblems, ruleOf } from '../../shared/core/merge-rules.ts';

function problemsOf(table: Record<string, unknown>): string[] {
  try {
    parseConfig({ tables: [{ table: 'accounts', conflictKey: ['id'], ...table }] }, 'landfall.json');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

const column = (name: string, baseType: string, extra: Partial<CatalogColumn> = {}): CatalogColumn => ({
  name,
  type: baseType,
  castType: baseType,
  baseType,
  notNull: false,
  hasDefault: false,
  generated: false,
  ...extra,
});

describe('the "merge" config', () => {
  test('maps columns to rules; a column without a rule is "replace"', () => {
    const table = parseConfig({ tables: [{ table: 'accounts', conflictKey: ['id'], merge: { balance: 'add', first_seen: 'keep', email: 'ignoreNull' } }] }).tables[0]!;

    expect(ruleOf(table, 'balance')).toBe('add');
    expect(ruleOf(table, 'name')).toBe('replace');
    expect(hasMergeRules(table)).toBe(true);
    expect(hasMergeRules({ merge: { name: 'replace' } })).toBe(false);
  });

  test('a mistyped rule gets a guess; an unknown one the list of rules', () => {
    expect(problemsOf({ merge: { email: 'ignorenulls', n: 'sum' } })).toEqual([
      'table "accounts": merge.email: unknown rule "ignorenulls" (did you mean "ignoreNull"?)',
      'table "accounts": merge.n: unknown rule "sum" (rules: replace, keep, ignoreNull, add, max, min)',
    ]);
  });

  test('the key, the version, the delete and the arrival column take no rule', () => {
    expect(
      problemsOf({
        version: 'seq',
        delete: { column: '_op', equals: 'D' },
        merge: { id: 'keep', seq: 'max', _op: 'keep', _landfall_arrival: 'keep', name: 'replace' },
      }),
    ).toEqual([
      'table "accounts": merge.id: "id" is part of the conflict key, which an upsert never changes; only other columns take a rule',
      'table "accounts": merge.seq: "seq" is the version column, which decides the winner; it is always replaced by the winning row\'s',
      'table "accounts": merge._op: "_op" is the delete rule\'s column, which marks deletes and is not merged',
      'table "accounts": merge._landfall_arrival: "_landfall_arrival" is the arrival column, which Landfall writes itself',
    ]);
  });

  test('insert mode refuses rules: it never changes a stored row', () => {
    expect(problemsOf({ mode: 'insert', merge: { n: 'add' } })).toEqual([
      'table "accounts": merge: rules need mode "upsert": mode "insert" never changes a stored row (the first row of a key stays whole, which is "keep" for every column)',
    ]);
    expect(problemsOf({ mode: 'insert', merge: { n: 'replace' } })).toEqual([]);
  });
});

describe('merge rules against the catalog (start-up)', () => {
  const columns = [
    column('id', 'int4'),
    column('balance', 'numeric', { type: 'numeric(12,2)' }),
    column('visits', 'int8'),
    column('spent', 'interval'),
    column('email', 'text'),
    column('doc', 'jsonb'),
    column('raw', 'json'),
    column('total', 'numeric', { generated: true }),
  ];
  const problems = (merge: Record<string, string>) => mergeCatalogProblems({ merge }, columns, didYouMean);

  test('"add" takes numeric, integer, float and interval columns', () => {
    expect(problems({ balance: 'add', visits: 'add', spent: 'add' })).toEqual([]);
    expect(problems({ email: 'add', doc: 'add' })).toEqual([
      'merge: "add" on column "email" of type text: "add" takes numeric, integer, float and interval columns only',
      'merge: "add" on column "doc" of type jsonb: "add" takes numeric, integer, float and interval columns only',
    ]);
  });

  test('"max" and "min" need an ordered type; "keep" and "ignoreNull" take any', () => {
    expect(problems({ email: 'max', doc: 'min', raw: 'keep' })).toEqual([]);
    expect(problems({ raw: 'max' })).toEqual(['merge: "max" on column "raw" of type json, which has no ordering']);
  });

  test('a column that does not exist is named with a guess; a generated one is refused', () => {
    expect(problems({ emial: 'ignoreNull', total: 'add' })).toEqual([
      'merge: column "emial" does not exist (did you mean "email"?)',
      'merge: column "total" is generated and cannot be written',
    ]);
  });
});
